"""Model loading verifies and deserializes the same bytes (#15): a file swapped between the
checksum and the load must never be unpickled."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LinearRegression

import tracker
import tracker.pyfunc
import tracker.sklearn

# The audit hook below is process-wide and cannot be removed: it acts only while ARMED is set.
ARMED: dict[str, Any] = {}


def _swap_on_second_open(event: str, args: tuple[Any, ...]) -> None:
    """An attacker with write access to the model folder, at the worst moment: the second time
    the process opens model.pkl, its content is replaced by a malicious pickle."""
    if event != "open" or "path" not in ARMED or not isinstance(args[0], (str, os.PathLike)):
        return
    if os.fspath(args[0]) != ARMED["path"]:
        return
    ARMED["opens"] += 1
    if ARMED["opens"] == 2:
        Path(ARMED["path"]).write_bytes(ARMED["evil"])


def _install_hook() -> None:
    """Installed on first use only (an audit hook sees every event of the test session)."""
    sys.addaudithook(_swap_on_second_open)
    HOOKS.append(True)


HOOKS: list[bool] = []


class _Payload:
    """Unpickling this creates a folder: the proof that the swapped file was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.mkdir, (str(self.marker),))


@pytest.mark.parametrize("load", [tracker.sklearn.load_model, tracker.pyfunc.load_model])
def test_a_model_swapped_after_its_checksum_is_never_unpickled(
    tmp_path: Path, load: Any
) -> None:
    tracker.set_tracking_uri(str(tmp_path / "store"))
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
    with tracker.start_run():
        info = tracker.sklearn.log_model(model, artifact_path="model")
    run_id = info.run_id  # model_uri is models:/<model_id> (MLflow 3)
    folder = Path(tracker.get_run(run_id).info.artifact_uri.removeprefix("file://")) / "model"
    pkl = folder / "model.pkl"
    assert pkl.is_file()
    marker = tmp_path / "pwned"
    if not HOOKS:
        _install_hook()
    ARMED.update(path=str(pkl), opens=0, evil=pickle.dumps(_Payload(marker)))
    try:
        loaded = load(info.model_uri)
    finally:
        ARMED.clear()
    assert not marker.exists(), "the swapped pickle ran"
    assert loaded.predict([[3.0]])[0] == pytest.approx(3.0)


MLFLOW_STYLE = {
    "sklearn": ("model.pkl", {
        "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
        "sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"}}),
    "custom": ("python_model.pkl", {
        "python_function": {"loader_module": "mlflow.pyfunc.model",
                            "python_model": "python_model.pkl"}}),
}


@pytest.mark.parametrize("kind", sorted(MLFLOW_STYLE))
def test_a_pickle_without_checksums_is_never_unpickled_without_the_opt_in(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder in MLflow's format lists no checksums (#12): a hostile pickle placed in such a
    folder in the store must not run unless the user set MLFLOW_ALLOW_PICKLE_DESERIALIZATION."""
    import json

    from tracker.exceptions import ModelIntegrityError

    monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", raising=False)
    name, flavors = MLFLOW_STYLE[kind]
    folder = tmp_path / "model"
    folder.mkdir()
    marker = tmp_path / "pwned"
    (folder / name).write_bytes(pickle.dumps(_Payload(marker)))
    (folder / "MLmodel").write_text(json.dumps({"flavors": flavors}))
    loaders = [tracker.pyfunc.load_model] + ([tracker.sklearn.load_model] if kind == "sklearn"
                                             else [])
    for load in loaders:
        with pytest.raises(ModelIntegrityError, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
            load(str(folder))
    assert not marker.exists(), "an unverified pickle ran"
