"""Run the compatibility corpus under tracker and under real MLflow, and diff what both logged.

    python -m scripts.compat_vs_mlflow --mlflow-python .venv-bench/bin/python [s07 s18 ...]
    python -m scripts.compat_vs_mlflow --mlflow-python ... --without-models s20 s21 s35 s36

Each script in tests/compat/scripts runs twice in fresh folders: with the ``mlflow`` shim
(tracker), and with the given interpreter's real MLflow on a ``file:`` store (scripts that set
a ``sqlite:///`` URI use that database, which needs MLflow's full install, not mlflow-skinny). The MLflow
store is imported with ``tracker import-mlflow``'s importer, then both stores are summarised the
same way (per experiment and run: status, params, metric values, tags other than system tags,
artifact paths with uuids and times masked; the registry's versions, stages and aliases) and
compared, as is the ``out.json`` a script writes (ids masked). Prints one line per script and
``N of M log the same``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.compat.runner import SCRIPTS, TIMEOUT, run_script, script_env

_SYSTEM_TAGS = ("mlflow.source.", "mlflow.user", "mlflow.runName", "mlflow.log-model.history",
                "mlflow.autologging", "mlflow.databricks", "tracker.")
_MASKS = [
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"\+timestamp\+\d+"), "+timestamp+<ms>"),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<run_id>"),
    (re.compile(r"\b\d{12,}\b"), "<id>"),
]


def mask(value: Any) -> Any:
    """``value`` with run ids, uuids, experiment ids and timestamps in its strings masked."""
    if isinstance(value, dict):
        return {mask(k): mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    if isinstance(value, str):
        for pattern, placeholder in _MASKS:
            value = pattern.sub(placeholder, value)
    return value


def run_mlflow(python: str, script: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    env = script_env(workdir)
    env.pop("PYTHONPATH")
    env.update({"MLFLOW_TRACKING_URI": (workdir / "mlruns").as_uri(),
                "MLFLOW_ALLOW_FILE_STORE": "true"})
    return subprocess.run([python, str(script)], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def summarise(store: str, without_models: bool = False) -> dict[str, Any]:
    """What a store holds, in a form two stores can be compared by.

    Args:
        store: the store.
        without_models: leave out the files of logged model folders (those holding ``MLmodel``):
            MLflow 3 keeps a logged model outside the run's artifacts, so with this the rest of
            what autologging logs can be compared on its own.
    """
    from tracker.client import TrackerClient
    from tracker.entities import ViewType

    client = TrackerClient(store)
    out: dict[str, Any] = {}
    for exp in sorted(client.search_experiments(ViewType.ALL), key=lambda e: e.name):
        runs = client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL)
        if not runs:
            continue
        rows = []
        for run in sorted(runs, key=lambda r: r.info.start_time or 0):
            files: list[str] = []
            stack = [None]
            while stack:
                for info in client.list_artifacts(run.info.run_id, stack.pop()):
                    (stack.append(info.path) if info.is_dir else files.append(info.path))
            rows.append({
                "status": run.info.status,
                "lifecycle_stage": run.info.lifecycle_stage,
                "params": run.data.params,
                "metrics": {k: round(v, 6) for k, v in run.data.metrics.items()},
                "tags": {k: v for k, v in run.data.tags.items() if not k.startswith(_SYSTEM_TAGS)},
                "artifacts": sorted(_without_models(files) if without_models else files),
            })
        out[exp.name] = rows
    out["registry"] = {
        m.name: sorted((v.version, v.current_stage) for v in client.search_model_versions(
            f"name = '{m.name}'"))
        for m in client.search_registered_models()
    }
    return mask(out)


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two summaries differ, as ``path: tracker-value != mlflow-value`` lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        lines = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                lines.append(f"{path}/{key}: only in {'mlflow' if key not in a else 'tracker'}")
            else:
                lines += differences(a[key], b[key], f"{path}/{key}")
        return lines
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [line for i, (x, y) in enumerate(zip(a, b)) for line in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {json.dumps(a)[:120]} != {json.dumps(b)[:120]}"]


def _without_models(files: list[str]) -> list[str]:
    folders = {f.rpartition("/")[0] + "/" for f in files if f.rpartition("/")[2] == "MLmodel"}
    return [f for f in files if not any(f.startswith(folder) for folder in folders)]


def compare(
    script: Path, mlflow_python: str, without_models: bool = False
) -> tuple[str, list[str]]:
    from tracker.client import TrackerClient
    from tracker.importers.mlflow import import_mlflow

    ours, theirs = (Path(tempfile.mkdtemp(prefix=f"vs-{script.stem}-{who}-")) for who in "tm")
    proc = run_script(script, ours)
    if proc.returncode != 0:
        return "tracker failed", proc.stderr.strip().splitlines()[-1:]
    proc = run_mlflow(mlflow_python, script, theirs)
    if proc.returncode != 0:
        return "mlflow failed", proc.stderr.strip().splitlines()[-1:]
    stores = sorted(p.parent for p in ours.rglob("tracker-store.json"))
    databases = sorted(theirs.glob("*.db"))  # scripts that set a sqlite:/// URI
    source = f"sqlite:///{databases[0]}" if databases else str(theirs / "mlruns")
    if not stores or not (databases or (theirs / "mlruns").is_dir()):
        return "nothing logged", []
    imported = str(theirs / "imported")
    import_mlflow(source, TrackerClient(imported))
    lines = differences(summarise(str(stores[0]), without_models),
                        summarise(imported, without_models))
    outputs = [d / "out.json" for d in (ours, theirs)]
    if all(p.exists() for p in outputs):
        a, b = (mask(json.loads(p.read_text())) for p in outputs)
        lines += differences(a, b, "out.json")
    return ("same" if not lines else "differs"), lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mlflow-python", required=True, help="a Python with MLflow installed")
    parser.add_argument("--without-models", action="store_true",
                        help="leave logged model folders out of the artifact lists (MLflow 3 "
                             "keeps them outside the run's artifacts)")
    parser.add_argument("names", nargs="*", help="only scripts whose names contain these")
    args = parser.parse_args(argv)
    if not os.access(args.mlflow_python, os.X_OK):
        parser.error(f"--mlflow-python {args.mlflow_python!r} is not an executable")
    scripts = [s for s in SCRIPTS if not args.names or any(n in s.name for n in args.names)]
    same = 0
    for script in scripts:
        verdict, lines = compare(script, args.mlflow_python, args.without_models)
        same += verdict == "same"
        print(f"{verdict:15} {script.stem}", flush=True)
        for line in lines[:12]:
            print(f"    {line}")
    print(f"{same} of {len(scripts)} log the same")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
