"""The compare page of an experiment, and the experiment's compact data script it reads.

The page is a static shell: ``assets/compare.js`` reads the selected run ids from the URL hash
(``#runs=id1,id2``; default: the top of the leaderboard) and draws from the data script
``experiments/<slug>.data.js``. That is a script, not JSON, because pages opened from
``file://`` cannot fetch files: it assigns ``window.TRACKER_DATA["<experiment id>"]``.

Data script format (short keys keep it small): ``{"id", "name", "primary", "dir": {metric:
"min"|"max"}, "mkeys", "pkeys", "top": [run ids], "runs": [{"i": id, "n": name, "s": status,
"p": parent id, "t": start ms, "u": run page path, "pa": {param: value}, "m": {metric: latest},
"h": {metric: [[steps], [values], [seconds since the run's start]]}, "tg": {tag: value} (user
tags, not ``mlflow.*``/``tracker.*``)}], "base": the default
baseline run id}``, runs in leaderboard order; the default baseline is the run tagged
``baseline`` (a ``baseline`` tag not "false"/"0", or a tag whose value is "baseline"), else the
best run by the primary metric. Numbers keep 6 significant
digits; NaN and ±inf become null in ``m`` and are left out of ``h``; histories of more than one
finite point only, downsampled with LTTB to at most ``MAX_POINTS`` points per series.

An experiment of more than ``CHUNK_RUNS`` runs keeps its run records in chunks (#14): the data
script then has ``"order"`` (the run ids in leaderboard order) and ``"chunks"`` (file names,
relative to the data script's folder) instead of ``"runs"``; each chunk assigns
``window.TRACKER_DATA_CHUNKS["<experiment id>:<i>/<n>"] = [run records]``, a run's chunk picked
by the hash of its id and the file named by the hash of its content, so one new run rewrites
its own chunk and the small data script, not 38 MB of histories. A chunk whose runs did not
change is not even made again (``tracker.site.chunks``), and the histories are cached per chunk.
``window.tracker.loadExperimentData`` (compare-views.js) puts ``runs`` back together.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.query.bulk import Series
from tracker.site.links import run_label
from tracker.site.pages import Group, Link, Page, SiteFile, doc
from tracker.site.pages.leaderboard import ordered_runs

if TYPE_CHECKING:
    from tracker.site.data import SiteData

MAX_POINTS = 200
DEFAULT_SELECTION = 5
DATA_GLOBAL = "TRACKER_DATA"
CHUNKS_GLOBAL = "TRACKER_DATA_CHUNKS"
#: Experiments with more runs than this keep their run records in chunks of about this many.
CHUNK_RUNS = 1000


@dataclass(frozen=True)
class ChartsPage(Page):
    """An experiment's chart view: every run's history per metric (top N by the primary metric),
    optionally grouped by a param or tag (mean line, min–max band), drawn in the browser from the
    experiment's data script."""

    template = "charts.html"

    experiment_id: str = doc("Experiment id (the key into window.TRACKER_DATA).", "")
    leaderboard: Link | None = doc("The experiment's leaderboard.", None)
    data_script: str = doc("Site path of the experiment's data script.", "")
    primary_metric: str = doc("The metric runs are ranked by ('' when none).", "")
    run_count: int = doc("Number of runs in the experiment.", 0)


@dataclass(frozen=True)
class ComparePage(Page):
    """Side-by-side comparison of an experiment's runs, drawn in the browser."""

    template = "compare.html"

    experiment_id: str = doc("Experiment id (the key into window.TRACKER_DATA).", "")
    leaderboard: Link | None = doc("The experiment's leaderboard.", None)
    data_script: str = doc("Site path of the experiment's data script.", "")
    primary_metric: str = doc("The metric runs are ranked by ('' when none).", "")
    run_count: int = doc("Number of runs in the experiment.", 0)
    default_runs: tuple[Link, ...] = doc(
        "The runs compared when the URL names none (the leaderboard's best).", factory=tuple
    )


def compact(value: Any) -> float | int | None:
    """A number with 6 significant digits (integers stay integers); None for NaN and ±inf."""
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    rounded = float(f"{number:.6g}")
    return int(rounded) if rounded.is_integer() and abs(rounded) < 1e15 else rounded


def history(points: Sequence[tuple[int, int, float]], start: int | None = None) -> list[list[Any]]:
    """[[steps], [values], [seconds since ``start``]] of one metric series: finite points only,
    at most ``MAX_POINTS`` of them (LTTB plus the extremes, ``timeseries.downsample``).

    Args:
        points: (step, timestamp ms, value) of the series, by step (a ``bulk.Series`` is read
            by column).
        start: the run's start (ms); the first point's time when None.
    """
    from tracker.site.timeseries import downsample

    steps: list[Any]
    times: list[Any]
    raw: list[Any]
    if isinstance(points, Series):
        steps, times, raw = points.steps, points.times, points.values
    else:
        steps, times, raw = ([p[i] for p in points] for i in range(3))
    origin = start if start is not None else (times[0] if times else 0)
    if (len(raw) > MAX_POINTS or None in raw or None in times
            or not all(map(math.isfinite, raw))):
        keep = downsample(steps, raw, MAX_POINTS)
        steps, times, raw = ([column[i] for i in keep] for column in (steps, times, raw))
    # compact() inlined for the common case (a finite float): 600,000 calls at 2,000 runs (#10)
    values = [float(f"{v:.6g}") if type(v) is float and math.isfinite(v) else compact(v)
              for v in raw]
    return [list(steps),
            [int(v) if type(v) is float and v.is_integer() and abs(v) < 1e15 else v
             for v in values],
            # whole milliseconds / 1000 already is the 3-decimal value: round only the rest
            [(t - origin) / 1000 if type(t) is int and type(origin) is int
             else round((t - origin) / 1000, 3) for t in times]]


def _histories_key(site: SiteData, run_id: str) -> str:
    """What a run's compare histories are made from (their cache fingerprint)."""
    return f"{MAX_POINTS}:t:{site.metric_digests.get(run_id, '')}"


def _run_records(
    site: SiteData, runs: list[dict[str, Any]], namespace: str
) -> list[dict[str, Any]]:
    """The records of ``runs``, the histories the cache lacks read in batches (#14)."""
    site.plan_histories(r["run_id"] for r in runs if site.cache.get(
        namespace, r["run_id"], _histories_key(site, r["run_id"])) is None)
    return [_run_record(site, run, namespace) for run in runs]


def _run_record(
    site: SiteData, run: dict[str, Any], namespace: str, *, with_histories: bool = True
) -> dict[str, Any]:
    """A run's compare record; its histories come from the build cache's ``namespace`` (one
    per chunk, so a new run reads and rewrites only its own chunk's) when unchanged
    (``with_histories=False``: the record without them, see ``_record_text``)."""
    run_id = run["run_id"]
    record: dict[str, Any] = {
        "i": run_id, "n": run_label(run), "s": "DEAD" if run["dead"] else run["status"],
        "t": run["start_time"], "u": site.urls.run(run_id),
        "pa": dict(sorted(site.params.get(run_id, {}).items())),
        "m": {k: compact(v) for k, v in sorted(site.metrics.get(run_id, {}).items())},
    }
    if run["parent_run_id"]:
        record["p"] = run["parent_run_id"]
    tags = {k: v for k, v in sorted(site.tags.get(run_id, {}).items())
            if not k.startswith(("mlflow.", "tracker."))}
    if tags:
        record["tg"] = tags
    if not with_histories:
        return record
    digest = _histories_key(site, run_id)
    histories = site.cache.get(namespace, run_id, digest)
    if histories is None:
        histories = _histories(site, run)
        site.cache.put(namespace, run_id, digest, histories)
    if histories:
        record["h"] = histories
    return record


def _histories(site: SiteData, run: dict[str, Any]) -> dict[str, list[list[Any]]]:
    """A run's compare histories (``h``): its series of more than one finite point."""
    series = site.history(run["run_id"])
    return {k: h for k, v in sorted(series.items()) if len(v) > 1
            and len((h := history(v, run["start_time"]))[0]) > 1}


def _json(value: Any) -> str:
    """Compact JSON with sorted keys: what ``json_data`` and the build cache write, before
    ``json_data``'s escapes (done once over a whole chunk)."""
    from tracker.site.render import _json_default

    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      default=_json_default)


def _record_text(site: SiteData, run: dict[str, Any], namespace: str) -> str:
    """``_run_record`` as JSON text, its histories spliced in as the build cache keeps their
    text: they are encoded once, not once for the cache and again for the chunk (#14)."""
    record = _run_record(site, run, namespace, with_histories=False)
    text = _json(record)
    histories = site.cache.get_text(namespace, run["run_id"], _histories_key(site, run["run_id"]))
    if histories is None:
        histories = _json(_histories(site, run))
        site.cache.put_text(namespace, run["run_id"], _histories_key(site, run["run_id"]),
                            histories)
    # "h" sorts before every other key of a record ("i", "m", "n", "p", "pa", "s", "t", ...)
    return text if histories == "{}" else '{"h":' + histories + "," + text[1:]


def _prefetch_histories(site: SiteData, runs: list[tuple[dict[str, Any], str]]) -> None:
    """Put the compare histories of ``runs`` (run, cache namespace) that the cache lacks into
    it, reading them in run id order: a chunk's runs are spread over every id (by hash), so
    read a chunk at a time each batch scanned every row group of the store (#14)."""
    todo = sorted(
        ((run["run_id"], run, namespace) for run, namespace in runs
         if site.cache.get(namespace, run["run_id"],
                           _histories_key(site, run["run_id"])) is None),
        key=lambda item: item[0])
    site.plan_histories(run_id for run_id, _, _ in todo)
    for run_id, run, namespace in todo:
        site.cache.put_text(namespace, run_id, _histories_key(site, run_id),
                            _json(_histories(site, run)))


def _histories_namespace(experiment_id: str, index: int = 0, count: int = 1) -> str:
    """The build cache namespace of the histories of one chunk of an experiment's runs."""
    import hashlib

    digest = hashlib.sha1(experiment_id.encode("utf-8")).hexdigest()[:12]
    return f"compare-histories-{digest}-{index}-{count}"


def _top(site: SiteData, runs: list[dict[str, Any]], primary: str,
         experiment_id: str | None = None) -> list[str]:
    """The best runs by the primary metric (any depth), else the first rows. ``experiment_id``:
    ``runs`` is that experiment's whole list, read as a numpy column (#14)."""
    if not primary:
        return [r["run_id"] for r, _ in ordered_runs(site, runs, "")][:DEFAULT_SELECTION]
    direction = site.direction(primary)
    scored = []
    if experiment_id is not None:
        import numpy as np

        column = site.metric_column(experiment_id, primary)
        keys = column if direction == "min" else -column
        at = np.flatnonzero(~np.isnan(keys))
        if len(at) > DEFAULT_SELECTION:  # the candidates: values up to the n-th lowest
            cut = np.partition(keys[at], DEFAULT_SELECTION - 1)[DEFAULT_SELECTION - 1]
            at = at[keys[at] <= cut]
        scored = [(float(keys[i]), runs[i]["run_id"]) for i in at.tolist()]
    else:
        for run in runs:
            value = site.metrics.get(run["run_id"], {}).get(primary)
            if value is not None and not math.isnan(value):
                scored.append((value if direction == "min" else -value, run["run_id"]))
    return [run_id for _, run_id in sorted(scored)[:DEFAULT_SELECTION]]


def _flagged(value: str | None) -> bool:
    """Whether a ``baseline`` tag's value marks its run (anything but false, 0 or no)."""
    return value is not None and value.strip().lower() not in ("false", "0", "no")


def _tagged_baseline(site: SiteData, runs: list[dict[str, Any]],
                     experiment_id: str | None = None) -> str:
    """The id of the run tagged as the baseline (the latest one when several are), else ''.

    ``experiment_id``: ``runs`` is that experiment's whole list, and only the runs SQL finds
    with a ``baseline`` tag or a tag value containing it are looked at (#14)."""
    found: tuple[int, str] | None = None
    empty: dict[str, str] = {}
    candidates = (runs if experiment_id is None
                  else [runs[i] for i in site.tagged_runs(experiment_id, "baseline")])
    for run in candidates:
        tags = site.tags.get(run["run_id"], empty)
        flag = tags.get("baseline")
        if (flag is not None and flag.strip().lower() not in ("false", "0", "no")) or any(
                v.strip().lower() == "baseline" for v in tags.values()):
            order = (run["start_time"] or 0, run["run_id"])
            if found is None or order > found:
                found = order
    return found[1] if found is not None else ""


def _head(site: SiteData, experiment: dict[str, Any]) -> dict[str, Any]:
    """The data of one experiment without its run records."""
    eid = experiment["experiment_id"]
    runs = site.runs_by_experiment[eid]
    ranked_by = site.primary_metric(eid)
    primary = [ranked_by] if ranked_by else []
    metric_keys = site.keys(eid, "metrics")
    top = _top(site, runs, primary[0] if primary else "", eid)
    return {
        "id": eid,
        "name": experiment["name"],
        "primary": primary[0] if primary else "",
        "dir": {k: site.direction(k) for k in metric_keys},
        "mkeys": metric_keys,
        "pkeys": site.keys(eid, "params"),
        "top": top,
        "base": _tagged_baseline(site, runs, eid) or (top[0] if top else runs[0]["run_id"]),
    }


def _ranked(site: SiteData, experiment_id: str) -> list[dict[str, Any]]:
    """The experiment's runs in leaderboard order."""
    runs = site.runs_by_experiment[experiment_id]
    return [run for run, _ in ordered_runs(site, runs, site.primary_metric(experiment_id),
                                           cache_key=f"experiment:{experiment_id}")]


def payload(site: SiteData, experiment: dict[str, Any]) -> dict[str, Any]:
    """The compact data of one experiment, every run record included (the module docstring)."""
    eid = experiment["experiment_id"]
    namespace = _histories_namespace(eid)
    return {**_head(site, experiment),
            "runs": _run_records(site, _ranked(site, eid), namespace)}


def data_script(experiment_id: str, data: dict[str, Any]) -> bytes:
    """The data as a script assigning ``window.TRACKER_DATA[<experiment id>]``."""
    from tracker.site.render import json_data

    key = str(json_data(experiment_id))
    return (
        f"window.{DATA_GLOBAL} = window.{DATA_GLOBAL} || {{}};\n"
        f"window.{DATA_GLOBAL}[{key}] = {json_data(data)};\n"
    ).encode()


def parse_data_script(content: bytes | str) -> tuple[str, dict[str, Any]]:
    """(experiment id, data) back from a data script (for tests and tools)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    line = text.strip().splitlines()[-1]
    prefix = f"window.{DATA_GLOBAL}["
    head, _, body = line.partition("] = ")
    if not head.startswith(prefix) or not body.endswith(";"):
        raise ValueError("Not a tracker data script: expected window.TRACKER_DATA[...] = {...};")
    return json.loads(head[len(prefix):]), json.loads(body[:-1])


def _chunks(
    site: SiteData, experiment_id: str, ranked: list[dict[str, Any]], path: str
) -> tuple[list[str], list[Group]]:
    """The chunk file names (relative to ``path``, the data script) and groups of an
    experiment's run records (``ranked``: in leaderboard order): a run's chunk is picked by
    the hash of its id, each file is named by the hash of its content, and a chunk whose runs
    did not change is kept as it is, unread (``tracker.site.chunks``)."""
    import posixpath

    from tracker.site.chunks import chunk_count, chunk_file, chunk_key, chunk_of
    from tracker.site.render import json_data, script_safe

    count = chunk_count(len(ranked), CHUNK_RUNS)
    buckets: list[list[dict[str, Any]]] = [[] for _ in range(count)]
    for run in ranked:
        buckets[chunk_of(run["run_id"], count)].append(run)
    folder, name = posixpath.split(path)
    stem = name[:-len(".data.js")] if name.endswith(".data.js") else name
    names, groups = [], []
    namespaces = [_histories_namespace(experiment_id, i, count) for i in range(count)]
    keys = [f"chunk:{experiment_id}:data:{i}/{count}" for i in range(count)]
    fingerprints = [chunk_key(site, bucket, "data", experiment_id, i, count, MAX_POINTS)
                    for i, bucket in enumerate(buckets)]
    _prefetch_histories(site, [
        (run, namespaces[i]) for i, bucket in enumerate(buckets)
        if site.kept_files(keys[i], fingerprints[i]) is None for run in bucket])
    for index, bucket in enumerate(buckets):
        namespace = namespaces[index]

        def make(bucket: list[dict[str, Any]] = bucket, index: int = index,
                 namespace: str = namespace) -> bytes:
            records = script_safe("[" + ",".join(
                _record_text(site, run, namespace) for run in bucket) + "]")
            key = json_data(f"{experiment_id}:{index}/{count}")
            return (f"window.{CHUNKS_GLOBAL} = window.{CHUNKS_GLOBAL} || {{}};\n"
                    f"window.{CHUNKS_GLOBAL}[{key}] = {records};\n").encode()

        chunk = chunk_file(site, keys[index], fingerprints[index], folder, f"{stem}.data", make)
        if chunk.kept:
            site.cache.keep(namespace)  # its histories stay valid, unread
        names.append(posixpath.basename(chunk.path))
        groups.append(chunk.group)
    return names, groups


def collect(site: SiteData) -> Iterable[Page | SiteFile | Group]:
    urls = site.urls
    for exp in site.experiments:
        eid = exp["experiment_id"]
        runs = site.runs_by_experiment[eid]
        if not runs:
            continue
        data = _head(site, exp)
        ranked = _ranked(site, eid)
        path = urls.experiment_data(eid)
        if len(ranked) <= CHUNK_RUNS:
            namespace = _histories_namespace(eid)
            data["runs"] = _run_records(site, ranked, namespace)
        else:
            data["order"] = [run["run_id"] for run in ranked]
            data["chunks"], groups = _chunks(site, eid, ranked, path)
            yield from groups
        yield SiteFile(path, data_script(eid, data))
        leaderboard = Link(exp["name"], urls.experiment(eid))
        yield ChartsPage(
            path=urls.experiment_charts(eid),
            title=f"Charts · {exp['name']}",
            breadcrumbs=(Link("Home", urls.home), leaderboard,
                         Link("charts", urls.experiment_charts(eid))),
            experiment_id=eid,
            leaderboard=leaderboard,
            data_script=urls.experiment_data(eid),
            primary_metric=data["primary"],
            run_count=len(runs),
        )
        yield ComparePage(
            path=urls.compare(eid),
            title=f"Compare runs · {exp['name']}",
            breadcrumbs=(Link("Home", urls.home), leaderboard, Link("compare", urls.compare(eid))),
            experiment_id=eid,
            leaderboard=leaderboard,
            data_script=urls.experiment_data(eid),
            primary_metric=data["primary"],
            run_count=len(runs),
            default_runs=tuple(Link(run_label(site.runs_by_id[i]), urls.run(i))
                               for i in data["top"]),
        )
