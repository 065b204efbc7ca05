"""The compatibility corpus (tests/compat): MLflow-style scripts run against tracker (#12).

One test per script: it runs in a fresh folder and process with the ``mlflow`` shim on its
path, then its check reads the store. ``make compat`` runs the same corpus with a summary line.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.compat import checks
from tests.compat.runner import SCRIPTS, check_script, is_slow, run_script


def test_the_corpus_has_thirty_scripts_each_with_a_check() -> None:
    assert len(SCRIPTS) >= 30
    names = {s.stem for s in SCRIPTS}
    checked = {n[len("check_"):] for n in dir(checks) if n.startswith("check_")}
    assert names == checked


def test_the_shim_makes_mlflow_tracker(tmp_path: Path) -> None:
    script = tmp_path / "probe.py"
    script.write_text(
        "import mlflow, mlflow.pyfunc, tracker, tracker.pyfunc\n"
        "from mlflow.tracking.client import MlflowClient\n"
        "print(mlflow is tracker, mlflow.pyfunc.PythonModel is tracker.pyfunc.PythonModel,\n"
        "      MlflowClient is tracker.MlflowClient)\n"
        "try:\n    import mlflow.no_such_module\nexcept ImportError as e:\n    print(e)\n"
    )
    proc = run_script(script, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True True True", "No module named 'mlflow.no_such_module'"]


@pytest.mark.parametrize(
    "script",
    [pytest.param(s, id=s.stem, marks=[pytest.mark.slow] if is_slow(s) else []) for s in SCRIPTS],
)
def test_corpus_script(script: Path, tmp_path: Path) -> None:
    assert re.fullmatch(r"s\d\d_\w+", script.stem)
    proc = run_script(script, tmp_path)
    check_script(script, tmp_path, proc)


def test_the_mlflow_diff_masks_ids_and_names_each_difference() -> None:
    from scripts.compat_vs_mlflow import differences, mask

    run_id = "0123456789abcdef0123456789abcdef"
    assert mask({"p": f"images/k+step+1+timestamp+1700000000000+{'a' * 8}-aaaa-aaaa-aaaa-{'a' * 12}.png",
                 run_id: [754695668652354136, "754695668652354136"]}) == {
        "p": "images/k+step+1+timestamp+<ms>+<uuid>.png", "<run_id>": [754695668652354136, "<id>"]}
    assert differences({"a": {"x": 1}, "b": [1, 2]}, {"a": {"x": 2}, "c": 3}) == [
        "/a/x: 1 != 2", "/b: only in tracker", "/c: only in mlflow"]
