"""MLflow names, shapes and import paths that code written for MLflow relies on (#12).

Each test calls tracker the way MLflow's documentation calls MLflow (``import tracker as
mlflow``) and checks what was returned or stored.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tracker as mlflow
from tracker.exceptions import InvalidArgumentError, NotFoundError, TrackerError

ROOT = Path(__file__).resolve().parent.parent


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, colour type, pixel bytes) of an unfiltered 8-bit PNG; checks every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and b"IEND" in chunks
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = len(raw) // height
    assert all(raw[r * stride] == 0 for r in range(height))  # filter type 0 on every row
    pixels = b"".join(raw[r * stride + 1:(r + 1) * stride] for r in range(height))
    return width, height, colour, pixels


def artifact_bytes(run_id: str, path: str) -> bytes:
    local = mlflow.MlflowClient().download_artifacts(run_id, path)
    return Path(local).read_bytes()


# -- entities ------------------------------------------------------------------------------------


def test_run_to_dictionary_has_mlflows_shape(store_uri: str) -> None:
    with mlflow.start_run(run_name="shape") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_metric("rmse", 1.5)
        mlflow.set_tag("developer", "me")
    fetched = mlflow.get_run(run.info.run_id)
    d = fetched.to_dictionary()
    assert list(d) == ["info", "data", "inputs", "outputs"]
    assert list(d["info"]) == [
        "artifact_uri", "end_time", "experiment_id", "lifecycle_stage", "run_id", "run_name",
        "start_time", "status", "user_id",
    ]
    assert d["info"]["run_name"] == "shape" and d["info"]["status"] == "FINISHED"
    assert d["data"]["params"] == {"alpha": "0.5"}
    assert d["data"]["metrics"] == {"rmse": 1.5}
    assert d["data"]["tags"]["developer"] == "me"
    assert d["inputs"] == {"model_inputs": [], "dataset_inputs": []}
    assert d["outputs"] == {"model_outputs": []}
    assert fetched.data.to_dictionary() == d["data"]
    json.dumps(d)  # plain data only
    assert dict(fetched.info) == d["info"]
    assert fetched.info.run_uuid == fetched.info.run_id
    assert "run_id" in fetched.info.get_searchable_attributes()
    assert repr(fetched.info).startswith("<RunInfo: artifact_uri=")


def test_active_run_is_a_run(store_uri: str) -> None:
    with mlflow.start_run() as run:
        assert isinstance(run, mlflow.entities.Run)
        assert run._info is run.info and run._data is run.data
        assert run.to_dictionary()["info"]["status"] == "RUNNING"
        assert run.data.tags["mlflow.runName"] == run.info.run_name
        assert mlflow.active_run() is run


def test_entities_accept_mlflows_constructor_forms() -> None:
    from tracker.entities import Metric, Param, RunData, RunInfo, RunTag

    data = RunData(metrics=[Metric("m", 1.0, 0, 0)], params=[Param("p", "1")], tags=[RunTag("t", "x")])
    assert data.to_dictionary() == {"metrics": {"m": 1.0}, "params": {"p": "1"}, "tags": {"t": "x"}}
    info = RunInfo("r1", "0", "me", "FINISHED", 1, 2, "active")
    assert RunInfo.from_dictionary({**dict(info), "unknown": 1}) == info
    assert Metric("m", 1.0, 5, 2).to_dictionary()["step"] == 2
    assert mlflow.entities.RunStatus.to_string(3) == "FINISHED"
    assert mlflow.ViewType.from_string("deleted_only") == mlflow.ViewType.DELETED_ONLY
    with pytest.raises(InvalidArgumentError, match="RunInfo"):
        mlflow.entities.Run(None)  # type: ignore[arg-type]


# -- import paths ---------------------------------------------------------------------------------


def test_mlflow_import_paths() -> None:
    from tracker.entities import ViewType
    from tracker.entities.experiment import Experiment
    from tracker.entities.model_registry import ModelVersion, RegisteredModel
    from tracker.entities.model_registry.model_version_stages import ALL_STAGES
    from tracker.entities.run import Run
    from tracker.entities.view_type import ViewType as ViewType2
    from tracker.store.entities import PagedList
    from tracker.tracking.client import MlflowClient
    from tracker.tracking.client import ViewType as ViewType3

    assert ViewType is ViewType2 is ViewType3
    assert MlflowClient is mlflow.MlflowClient is mlflow.tracking.MlflowClient
    assert Run is mlflow.entities.Run and Experiment is mlflow.entities.Experiment
    assert ModelVersion.__name__ == "ModelVersion" and RegisteredModel.__name__ == "RegisteredModel"
    assert ALL_STAGES == ["None", "Staging", "Production", "Archived"]
    assert PagedList([1], "2").token == "2"


def test_import_tracker_loads_no_numpy_pandas_or_pil() -> None:
    code = "import sys, tracker; print([m for m in ('numpy', 'pandas', 'PIL', 'duckdb') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_searches_page_with_token(store_uri: str) -> None:
    from tracker.store.entities import PagedList

    mlflow.set_experiment("paging")
    ids = []
    for i in range(5):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_metric("loss", float(i))
        ids.append(run.info.run_id)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("paging")
    assert exp is not None
    seen, token = [], None
    while True:
        page = client.search_runs([exp.experiment_id], order_by=["metrics.loss ASC"],
                                  max_results=2, page_token=token)
        assert isinstance(page, PagedList)
        seen += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert seen == ids
    for i in range(3):
        client.create_registered_model(f"model-{i}")
    first = client.search_registered_models(max_results=2, order_by=["name ASC"])
    assert [m.name for m in first] == ["model-0", "model-1"] and first.token
    rest = client.search_registered_models(max_results=2, order_by=["name ASC"],
                                           page_token=first.token)
    assert [m.name for m in rest] == ["model-2"] and rest.token is None
    assert client.search_experiments(max_results=1).token == "1"
    with pytest.raises(InvalidArgumentError, match="page_token"):
        client.search_runs([exp.experiment_id], page_token="not-a-token")
    with pytest.raises(InvalidArgumentError, match="max_results"):
        client.search_registered_models(max_results=0)


# -- MLflow 1.x names ------------------------------------------------------------------------------


def test_mlflow_1x_names_work_with_one_notice(store_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    import tracker.legacy

    tracker.legacy._noticed.clear()
    mlflow.set_experiment("old-course")
    with mlflow.start_run() as run:
        mlflow.log_metric("rmse", 3.0)
    mlflow.MlflowClient().create_registered_model("b-model")
    mlflow.MlflowClient().create_registered_model("a-model")
    client = mlflow.tracking.MlflowClient()
    names = {e.name for e in client.list_experiments()}
    assert {"old-course", "Default"} <= names
    assert {e.name for e in mlflow.list_experiments()} == names
    client.list_experiments()
    exp_id = run.info.experiment_id
    infos = client.list_run_infos(exp_id)
    assert [i.run_id for i in infos] == [run.info.run_id] and infos.token is None
    assert [i.run_id for i in mlflow.list_run_infos(exp_id)] == [run.info.run_id]
    assert [m.name for m in client.list_registered_models()] == ["a-model", "b-model"]
    assert [m.name for m in mlflow.list_registered_models()] == ["a-model", "b-model"]
    err = capsys.readouterr().err.splitlines()
    notices = [line for line in err if "MLflow 1.x API" in line]
    assert len(notices) == 6  # one per name, although list_experiments was called twice
    assert any("MlflowClient.list_experiments() is MLflow 1.x API" in n and "search_experiments()" in n
               for n in notices)


# -- experiment ids --------------------------------------------------------------------------------


def test_unknown_experiment_id_lists_the_experiments(store_uri: str) -> None:
    mlflow.set_experiment("nyc-taxi-experiment")
    with mlflow.start_run():
        pass
    with pytest.raises(NotFoundError) as err:
        mlflow.search_runs(experiment_ids=["42"])
    message = str(err.value)
    assert "'42'" in message and "nyc-taxi-experiment, MLflow number 1" in message
    assert "0  Default" in message
    with pytest.raises(NotFoundError, match="nyc-taxi-experiment"):
        mlflow.MlflowClient().search_runs(experiment_ids="abc")
    with pytest.raises(InvalidArgumentError, match="experiment_ids"):
        mlflow.MlflowClient().search_runs(experiment_ids={"a": 1})  # type: ignore[arg-type]


def test_mlflow_numbered_experiment_ids(store_uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    import tracker.experiment_ids
    from tracker.experiment_ids import mlflow_numbers

    tracker.experiment_ids._noticed.clear()
    client = mlflow.MlflowClient()
    first = client.create_experiment("first")
    second = client.create_experiment("second")
    # The creation order decides the numbers (nanoseconds of the first record).
    client._experiment_map()  # noqa: SLF001 - fold once, then adjust the cached order
    client._created_ns[first], client._created_ns[second] = 2_000, 1_000
    assert client.get_experiment("1").name == "second"
    assert client.get_experiment(2).name == "first"
    assert "number 2 in creation order" in capsys.readouterr().err
    client._created_ns[first] = 1_000  # a tie: no number is guessed
    with pytest.raises(NotFoundError, match="No experiment with id '2'"):
        client.get_experiment("2")
    assert mlflow_numbers(client._experiment_map(), {}) == {"1": first, "2": second} or (
        client._experiment_map()[first].creation_time
        == client._experiment_map()[second].creation_time
    )


def test_search_runs_by_mlflow_number(store_uri: str) -> None:
    mlflow.set_experiment("only-one")
    with mlflow.start_run() as run:
        mlflow.log_metric("rmse", 1.0)
    runs = mlflow.search_runs(experiment_ids="1")
    assert list(runs["run_id"]) == [run.info.run_id]
    listed = mlflow.MlflowClient().search_runs(experiment_ids="1")
    assert [r.info.run_id for r in listed] == [run.info.run_id]


# -- projects -------------------------------------------------------------------------------------


def test_projects_raise_a_clear_error() -> None:
    import tracker.projects

    with pytest.raises(TrackerError, match="not part of tracker") as err:
        tracker.projects.run(".", parameters={"alpha": 0.5})
    assert "python train.py" in str(err.value)
    with pytest.raises(NotImplementedError, match="SubmittedRun"):
        from tracker.projects import SubmittedRun  # noqa: F401


# -- media ----------------------------------------------------------------------------------------


def test_log_image_numpy_writes_a_png(store_uri: str) -> None:
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    with mlflow.start_run() as run:
        mlflow.log_image(rgb, "plots/rgb.png")
        mlflow.log_image(np.array([[0.0, 1.0]]), artifact_file="grey.png")
        mlflow.log_image(np.ones((1, 2, 4), dtype=bool), "mask.png")
    assert decode_png(artifact_bytes(run.info.run_id, "plots/rgb.png")) == (3, 2, 2, rgb.tobytes())
    assert decode_png(artifact_bytes(run.info.run_id, "grey.png")) == (2, 1, 0, bytes([0, 255]))
    assert decode_png(artifact_bytes(run.info.run_id, "mask.png"))[2:] == (6, bytes([255] * 8))


def test_log_image_png_is_readable_by_pillow(store_uri: str) -> None:
    Image = pytest.importorskip("PIL.Image")
    pixels = np.random.default_rng(0).integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    with mlflow.start_run() as run:
        mlflow.log_image(pixels, "random.png")
    local = mlflow.MlflowClient().download_artifacts(run.info.run_id, "random.png")
    assert np.array_equal(np.asarray(Image.open(local)), pixels)


def test_log_image_with_key_and_step_without_pillow(
    store_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # as on an install without Pillow
    with mlflow.start_run() as run:
        mlflow.log_image(np.zeros((4, 4), dtype=np.uint8), key="val/masks", step=3, timestamp=1700)
        with pytest.raises(InvalidArgumentError, match="needs Pillow"):
            mlflow.log_image(np.zeros((4, 4), dtype=np.uint8), "mask.jpg")
    files = [f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "images")]
    assert len(files) == 1
    assert files[0].startswith("images/val~masks+step+3+timestamp+1700+") and files[0].endswith(".png")
    assert mlflow.get_run(run.info.run_id).data.tags["mlflow.loggedImages"] == "True"


class FakePILImage:
    """Duck-typed like PIL.Image.Image: ``save``, ``resize``, ``size``."""

    def __init__(self, size: tuple[int, int] = (512, 256)) -> None:
        self.size = size

    def save(self, path: str) -> None:
        Path(path).write_text(f"image {self.size}")

    def resize(self, size: tuple[int, int]) -> FakePILImage:
        return FakePILImage(size)


def test_log_image_pil_with_key_writes_the_preview(store_uri: str) -> None:
    with mlflow.start_run() as run:
        mlflow.log_image(FakePILImage(), key="dogs", step=1)
        mlflow.log_image(FakePILImage(), "pictures/dog.jpg")
    client = mlflow.MlflowClient()
    files = sorted(f.path for f in client.list_artifacts(run.info.run_id, "images"))
    assert [f.rsplit("+", 1)[-1] for f in files] == ["compressed.webp", files[1].rsplit("+", 1)[-1]]
    assert artifact_bytes(run.info.run_id, files[0]) == b"image (256, 128)"
    assert artifact_bytes(run.info.run_id, "pictures/dog.jpg") == b"image (512, 256)"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"image": np.zeros((2, 2)), "artifact_file": "a.png", "key": "k"}, "not both"),
        ({"image": np.zeros((2, 2))}, "needs artifact_file"),
        ({"image": np.zeros((2, 2)), "key": "bad:key"}, "Invalid image key"),
        ({"image": np.full((2, 2), 300), "artifact_file": "a.png"}, r"\[0, 255\]"),
        ({"image": np.zeros((2, 2, 2)), "artifact_file": "a.png"}, "shape"),
        ({"image": np.array([["a"]]), "artifact_file": "a.png"}, "dtype"),
        ({"image": "cat.png", "artifact_file": "a.png"}, "numpy array or a PIL image"),
        ({"image": np.zeros((2, 2)), "key": "k", "step": 1.5}, "step"),
    ],
)
def test_log_image_refuses_bad_input(store_uri: str, kwargs: dict[str, Any], match: str) -> None:
    with mlflow.start_run(), pytest.raises(InvalidArgumentError, match=match):
        mlflow.log_image(**kwargs)


def test_log_table_writes_mlflows_json_and_appends(store_uri: str) -> None:
    table = {"inputs": ["What is MLflow?", "What is tracker?"], "toxicity": [0.0, 0.25]}
    with mlflow.start_run() as run:
        mlflow.log_table(data=table, artifact_file="eval/qa.json")
        mlflow.log_table(data=pd.DataFrame({"inputs": ["Why?"], "toxicity": [1.0]}),
                         artifact_file="eval/qa.json")
        mlflow.log_table({"a": 1, "b": "x"}, "one_row.json")
    stored = json.loads(artifact_bytes(run.info.run_id, "eval/qa.json"))
    assert stored == {
        "columns": ["inputs", "toxicity"],
        "data": [["What is MLflow?", 0.0], ["What is tracker?", 0.25], ["Why?", 1.0]],
    }
    assert json.loads(artifact_bytes(run.info.run_id, "one_row.json"))["data"] == [[1, "x"]]
    tag = json.loads(mlflow.get_run(run.info.run_id).data.tags["mlflow.loggedArtifacts"])
    assert tag == [{"path": "eval/qa.json", "type": "table"}, {"path": "one_row.json", "type": "table"}]


def test_load_table_across_runs_with_extra_columns(store_uri: str) -> None:
    mlflow.set_experiment("tables")
    ids = []
    for i in range(2):
        with mlflow.start_run() as run:
            mlflow.log_table({"x": [i, i]}, "preds.json")
        ids.append(run.info.run_id)
    with mlflow.start_run():
        mlflow.log_metric("no_table", 1.0)
    everything = mlflow.load_table("preds.json", extra_columns=["run_id"])
    assert sorted(everything["x"]) == [0, 0, 1, 1]
    assert set(everything["run_id"]) == set(ids)
    one = mlflow.load_table("preds.json", run_ids=[ids[0]])
    assert list(one["x"]) == [0, 0] and list(one.columns) == ["x"]
    with mlflow.start_run() as run:
        mlflow.log_table({"run_id": ["mine"]}, "clash.json")
    clash = mlflow.load_table("clash.json", extra_columns=["run_id"])
    assert clash.to_dict("records") == [{"run_id": "mine", "run_id_": run.info.run_id}]
    with pytest.raises(InvalidArgumentError, match="unknown extra column 'nope'"):
        mlflow.load_table("preds.json", extra_columns=["nope"])
    with pytest.raises(InvalidArgumentError, match="extra_columns must be a list"):
        mlflow.load_table("preds.json", extra_columns="run_id")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match="missing.json"):
        mlflow.load_table("missing.json")
    with pytest.raises(InvalidArgumentError, match=".json or .parquet"):
        mlflow.log_table({"x": [1]}, "table.csv")
    with pytest.raises(InvalidArgumentError, match="dict or a pandas DataFrame"):
        mlflow.log_table([1, 2], "table.json")


def test_log_table_turns_a_column_of_images_into_image_files(store_uri: str) -> None:
    table = pd.DataFrame({"caption": ["a dog", "a cat"]})
    table["image"] = pd.Series([FakePILImage(), FakePILImage((64, 64))], dtype=object)
    with mlflow.start_run() as run:
        mlflow.log_table(table, "gallery.json")
        with pytest.raises(InvalidArgumentError, match="mixes images"):
            mixed = pd.DataFrame({"image": pd.Series([FakePILImage(), "text"], dtype=object)})
            mlflow.log_table(mixed, "mixed.json")
    stored = json.loads(artifact_bytes(run.info.run_id, "gallery.json"))
    assert stored["columns"] == ["caption", "image"]
    cells = [row[1] for row in stored["data"]]
    assert all(c["type"] == "image" and c["filepath"].startswith("table_images/gallery/")
               for c in cells)
    files = {f.path for f in mlflow.MlflowClient().list_artifacts(run.info.run_id, "table_images/gallery")}
    assert {c["filepath"] for c in cells} | {c["compressed_filepath"] for c in cells} == files


def test_tracking_module_uri_functions(store_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert mlflow.tracking.is_tracking_uri_set()
    assert mlflow.tracking.get_registry_uri() == mlflow.get_tracking_uri() == store_uri
    mlflow.api._tracking_uri = None
    assert not mlflow.tracking.is_tracking_uri_set()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store_uri)
    assert mlflow.tracking.is_tracking_uri_set()
