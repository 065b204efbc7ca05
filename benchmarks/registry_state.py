"""Registry read speed: the state of a model with 1,000 versions and 5,000 events (target ≤ 100 ms)
and the rows of the ``model_versions`` table made from it, and ``load_model`` of a logged XGBoost
model next to ``xgboost.Booster().load_model`` (≤ 2×).

Run: ``python -m benchmarks.registry_state [--versions 1000]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _median_ms(fn, repeat: int = 7) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def registry_state(versions: int) -> dict[str, float]:
    """A model with ``versions`` versions and 5 events each; time a cold read of its state.

    The events are written in one file per version (through the registry's own writer), so
    building the store takes seconds; reading folds every event, as after any other history.
    """
    import json

    import tracker
    from tracker.registry import Registry

    root = tempfile.mkdtemp(prefix="bench-registry-")
    client = tracker.TrackerClient(root)
    run = client.create_run(client.create_experiment("e"))
    client.log_text(run.info.run_id, "w", "model/model.bin")
    body = json.dumps({"source": f"runs:/{run.info.run_id}/model", "run_id": run.info.run_id})
    registry = client.registry
    model_id = registry._find(registry.create_registered_model("big").name).model_id
    started = time.perf_counter()
    for number in range(1, versions + 1):
        claimed = registry._claim_version(model_id, {"name": "big"})
        registry._write(model_id, [
            ("version_created", claimed, None, body),
            ("version_tag", claimed, "k", "v"),
            ("version_description", claimed, None, f"version {claimed}"),
            ("version_stage", claimed, "archive_existing", "Staging"),
            ("alias_set", claimed, "latest-good", None),
        ], f"benchmark {number}")
    write_s = time.perf_counter() - started
    events = len(registry.history("big"))

    def cold() -> None:
        fresh = Registry(tracker.TrackerClient(root).store)
        fresh.get_registered_model("big")
        fresh.search_model_versions("name = 'big'")

    def table() -> None:  # the rows of the SQL tables, DuckDB's and Spark's (#14)
        from tracker.query import registry_tables

        folded = registry_tables.rows(Registry(tracker.TrackerClient(root).store).every_model())
        registry_tables.arrow_table("model_versions", folded["model_versions"])

    return {"versions": versions, "events": events, "write_s": write_s,
            "read_ms": _median_ms(cold), "table_ms": _median_ms(table)}


def load_model_ratio() -> dict[str, float]:
    """``tracker.xgboost.load_model`` vs ``xgboost.Booster().load_model`` on the same file."""
    import numpy as np
    import xgboost as xgb

    import tracker
    import tracker.xgboost
    from tracker.model_uri import resolve

    root = tempfile.mkdtemp(prefix="bench-load-")
    tracker.set_tracking_uri(root)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5000, 10)), rng.normal(size=5000)
    booster = xgb.train({"max_depth": 6, "nthread": 1}, xgb.DMatrix(x, label=y), 200)
    with tracker.start_run() as run:
        tracker.xgboost.log_model(booster, artifact_path="model")
    uri = f"runs:/{run.info.run_id}/model"
    folder = resolve(tracker.TrackerClient(root), uri).local_path
    path = next(os.path.join(folder, f) for f in os.listdir(folder) if f.startswith("model."))
    tracker.xgboost.load_model(uri)
    ours = _median_ms(lambda: tracker.xgboost.load_model(uri), 20)
    plain = _median_ms(lambda: xgb.Booster().load_model(path), 20)
    return {"tracker_ms": ours, "xgboost_ms": plain, "ratio": ours / plain}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=1000)
    args = parser.parse_args()
    state = registry_state(args.versions)
    print(f"registry: {state['versions']} versions, {state['events']} events written in "
          f"{state['write_s']:.1f} s; state read (cold) {state['read_ms']:.1f} ms "
          f"(target <= 100 ms); model_versions rows (cold) {state['table_ms']:.1f} ms")
    ratio = load_model_ratio()
    print(f"load_model: tracker {ratio['tracker_ms']:.2f} ms vs xgboost.Booster().load_model "
          f"{ratio['xgboost_ms']:.2f} ms = {ratio['ratio']:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
