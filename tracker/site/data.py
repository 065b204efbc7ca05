"""Everything the pages are built from, read once per build through the query layer."""

from __future__ import annotations

import itertools
import logging
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tracker.directions import Directions
from tracker.exceptions import TrackerError
from tracker.query import bulk
from tracker.site.cache import BuildCache
from tracker.site.publish import PublishRules
from tracker.site.urls import Urls

if TYPE_CHECKING:
    from tracker.artifact_locations import ArtifactLocations
    from tracker.query import StoreQuery
    from tracker.query.sandbox import Sandbox
    from tracker.registry import ModelVersion, RegisteredModel, Registry, RegistryEvent

log = logging.getLogger("tracker.site")

#: Metric points read from the store in one query for the site (``SiteData.history``), and
#: how many the build holds at once (#14: every run's points of 100,000 runs took gigabytes).
HISTORY_BATCH = 500_000
HISTORY_POINTS = 1_000_000


def _safe_id(run: dict[str, Any]) -> bool:
    """Whether a run's id can name its pages and folders; a record's ``run_id`` is data, and
    ``../../x`` would name a file outside the site (#15): such a run is skipped with a warning."""
    from tracker.exceptions import InvalidArgumentError
    from tracker.validation import validate_run_id

    try:
        validate_run_id(run["run_id"])
    except InvalidArgumentError as exc:
        log.warning("Skipping run %r of experiment %s: %s",
                    run["run_id"], run["experiment_id"], exc)
        return False
    return True


@dataclass(frozen=True)
class ModelState:
    """A registered model with its versions and history, for the registry pages."""

    model: RegisteredModel
    versions: list[ModelVersion]
    history: list[RegistryEvent]


class SiteData:
    """The store as the site sees it: experiments, runs, their data, and the registry.

    Args:
        query: the query layer over the store.
        registry: the store's model registry.
        metric_directions: ``"min"``/``"max"``/``"none"`` by metric key, before the
            configuration's ``[metrics]`` rules (``tracker.directions``).
        reports_dir: the folder of Markdown reports, if any.
        cache: derived data kept from the previous build (see ``tracker.site.cache``).
        reusable: ``(group key, fingerprint) -> bool``: whether the previous build's files of a
            group can stay (the build's ``SiteWriter.reusable``); runs whose page group is
            reusable are never loaded in full.
        refused: ``[(group key, fingerprint), …] -> [group key, …]``: those ``reusable``
            refuses, in one call (``SiteWriter.refused``; by default ``reusable`` of each).
        kept_files: ``(group key, fingerprint) -> paths``: the files of a group the previous
            build made from the same fingerprint, which stay (``SiteWriter.kept_files``; None
            when the group must be made again).
        build_key: a hash of everything outside the store that pages depend on (theme, page
            header, settings); part of every fingerprint.
        publish: the build's publish rules; ``query`` should apply the same ones (the registry
            and the artifact files are redacted and filtered here).

    Artifacts are read only where ``locations`` allows (the store's own folder and the
    configuration's ``artifact_locations``), never where a record alone says.
    """

    def __init__(
        self,
        query: StoreQuery,
        registry: Registry,
        metric_directions: dict[str, str] | None = None,
        reports_dir: str | None = None,
        *,
        cache: BuildCache | None = None,
        reusable: Callable[[str, str], bool] | None = None,
        refused: Callable[[Iterable[tuple[str, str]]], list[str]] | None = None,
        kept_files: Callable[[str, str], list[str] | None] | None = None,
        build_key: str = "",
        publish: PublishRules | None = None,
    ) -> None:
        self.query = query
        self.registry = registry
        self.metric_directions = metric_directions or {}
        self.reports_dir = reports_dir
        self.cache = cache if cache is not None else BuildCache(None)
        self.reusable = reusable if reusable is not None else (lambda key, fingerprint: False)
        self.refused = refused if refused is not None else (
            lambda pairs: [key for key, fingerprint in pairs
                           if not self.reusable(key, fingerprint)])
        self.kept_files = kept_files if kept_files is not None else (
            lambda key, fingerprint: None)
        self.build_key = build_key
        # Histories read so far, by batch (oldest first); at most HISTORY_POINTS points in all.
        self._batches: list[tuple[dict[str, dict[str, bulk.Series]], set[str], int]] = []
        self._plan: list[str] = []  # runs whose histories are asked for next, in order
        self._plan_at: dict[str, int] = {}
        self._experiment_keys: dict[str, str] = {}
        self._chunk_parts: dict[str, bytes] = {}
        self._metric_digests: dict[str, str] = {}
        self._parent_parts: dict[str, str] = {}  # parent id -> repr of its name (or None)
        # Run orders by (name, metric), see ``leaderboard.ordered_runs``.
        self.orders: dict[tuple[str, str], list[tuple[dict[str, Any], int]]] = {}
        self._primary: dict[str, str] = {}
        # Whole-experiment columns and key sets (``metric_column``, ``keys``), made once (#14).
        self._columns: dict[tuple[str, str], Any] = {}
        self._present: dict[tuple[str, str], Any] = {}
        self._tag_columns: dict[tuple[str, str], list[str | None]] = {}
        self._keys: dict[tuple[str, str], list[str]] = {}
        self._key_counts: dict[str, dict[str, int]] = {}
        self._run_columns: dict[str, dict[str, list[Any]]] = {}
        self._number = next(_NUMBERS)  # marks its ``_SITE_RUNS`` table
        self.best_values: dict[str, float | None] = {}  # run strips' bests, by experiment/sweep
        self.publish = publish if publish is not None else PublishRules.from_config()
        self._model_names: dict[str, str] = {}  # published model name -> registry's
        configured = self.publish.config.directions
        self.directions = Directions(
            tuple(self.metric_directions.items()) + configured.rules, configured.primary)

    @cached_property
    def changes_state(self) -> dict[str, Any]:
        """Builds seen so far and the store at this and the previous different build
        (``tracker.site.pages.changes.state``; read from and saved to the build cache)."""
        from tracker.site.pages.changes import state

        return state(self)

    @cached_property
    def sandbox(self) -> Sandbox:
        """Where report SQL runs: copies of the (redacted) tables, no file or setting access."""
        from tracker.query.sandbox import Sandbox

        return Sandbox(self.query)

    @cached_property
    def locations(self) -> ArtifactLocations:
        """Where run artifacts may be read from (the store's own and the declared roots)."""
        from tracker.artifact_locations import ArtifactLocations

        return ArtifactLocations(self.query.store.fs, self.publish.config.artifact_locations)

    @cached_property
    def experiments(self) -> list[dict[str, Any]]:
        # The run digests are read before anything a page shows: a run that changes while the
        # build reads the store then has a fingerprint older than its page and is made again
        # by the next build, never the other way round.
        self.run_digests  # noqa: B018
        return bulk.experiments(self.query)

    @cached_property
    def runs(self) -> list[dict[str, Any]]:
        from tracker.validation import is_run_id

        known = {e["experiment_id"] for e in self.experiments}
        return [r for r in bulk.runs(self.query) if r["experiment_id"] in known
                and (is_run_id(r["run_id"]) or _safe_id(r))]

    @cached_property
    def runs_by_id(self) -> dict[str, dict[str, Any]]:
        return {r["run_id"]: r for r in self.runs}

    @cached_property
    def runs_by_experiment(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {e["experiment_id"]: [] for e in self.experiments}
        for run in self.runs:
            out[run["experiment_id"]].append(run)
        return out

    @cached_property
    def children(self) -> dict[str, list[str]]:
        """Parent run id → child run ids (oldest first)."""
        out: dict[str, list[str]] = {}
        for run in reversed(self.runs):
            parent = run["parent_run_id"]
            if parent and parent in self.runs_by_id:
                out.setdefault(parent, []).append(run["run_id"])
        return out

    @cached_property
    def params(self) -> bulk.Grouped:
        return bulk.params(self.query)

    @cached_property
    def tags(self) -> bulk.Grouped:
        return bulk.tags(self.query)

    @cached_property
    def metrics(self) -> bulk.Grouped:
        return self._latest[0]

    @cached_property
    def _latest(self) -> tuple[bulk.Grouped, bulk.Grouped]:
        return bulk.latest_metrics_and_counts(self.query)

    @cached_property
    def metric_digests(self) -> dict[str, str]:
        """Run id → a digest of its metric histories: each one's point count and last point
        (histories are append-only: any new point changes it; read with ``run_digests``)."""
        self.run_digests  # noqa: B018 - fills both
        return self._metric_digests

    @cached_property
    def metric_counts(self) -> bulk.Grouped:
        """Run id → metric key → number of logged points (``history`` may hold fewer)."""
        return self._latest[1]

    @property
    def _max_points(self) -> int | None:
        """Points of a series read for the site: enough for a CSV of ``site.max_csv_size``
        (a row takes at least 16 bytes) and for the charts; longer series are reduced in SQL."""
        size = self.publish.config.site.max_csv_size
        return max(4_000, size // 16) if size else None

    def history(self, run_id: str) -> dict[str, bulk.Series]:
        """Metric key → [(step, timestamp, value)] of one run, sorted by step then time (a
        ``bulk.Series``: also its columns ``steps``, ``times`` and ``values``).

        A series longer than ``_max_points`` comes reduced (first, last, lowest and highest
        point of each stretch; see ``bulk.metric_points``); ``metric_counts`` has its length.

        Histories are read in batches of about ``HISTORY_BATCH`` points: a run that
        ``plan_histories`` named is read with the runs planned after it, any other run alone.
        Only the last few batches are kept (``HISTORY_POINTS`` points in all), so a build holds
        a few thousand runs' points at a time, not every run's (#14).
        """
        for points, runs, _ in reversed(self._batches):
            if run_id in runs:
                return points.get(run_id, {})
        batch = self._batch_from(run_id)
        counts = self.metric_counts
        longest = max((n for other in batch for n in counts.get(other, {}).values()), default=0)
        points = bulk.metric_series(self.query, batch, self._max_points, longest=longest)
        size = sum(len(series) for keys in points.values() for series in keys.values())
        self._batches.append((points, set(batch), size))
        while len(self._batches) > 1 and sum(b[2] for b in self._batches) > HISTORY_POINTS:
            del self._batches[0]
        return points.get(run_id, {})

    def plan_histories(self, run_ids: Iterable[str]) -> None:
        """Say which runs' ``history`` will be asked for next, in that order, so they are read
        in batches (one query per batch instead of per run, without holding every run's)."""
        self._plan = list(run_ids)
        self._plan_at = {run_id: i for i, run_id in enumerate(self._plan)}

    def _batch_from(self, run_id: str) -> list[str]:
        """``run_id`` and the planned runs after it, up to ``HISTORY_BATCH`` points in all
        (each series counted at most at ``_max_points``)."""
        at = self._plan_at.get(run_id)
        if at is None:
            return [run_id]
        counts, cap = self.metric_counts, self._max_points
        batch: list[str] = []
        total = 0
        # Runs already held are read again: the next runs asked for must be in the newest
        # batch, since the oldest ones are dropped first.
        for other in itertools.islice(self._plan, at, None):
            size = sum(n if cap is None else min(n, cap)
                       for n in counts.get(other, {}).values())
            if batch and total + size > HISTORY_BATCH:
                break
            batch.append(other)
            total += size
        return batch

    @cached_property
    def run_digests(self) -> dict[str, str]:
        """Run id → a digest of the run's own data in the store (``bulk.run_digests``: its
        row, params, tags, each metric's point count and last point, artifacts and inputs),
        one query."""
        digests, self._metric_digests = bulk.run_digests(self.query)
        return digests

    def run_fingerprint(self, run: dict[str, Any]) -> str:
        """A hash of everything a run's page, CSV histories and artifact copies are made from:
        its experiment and the build's settings (``_experiment_key``), its own data
        (``run_digests``), its children's names, states and latest metrics, its parent's
        name, the model versions made from it and its strip marks (``marked_runs``).

        Every run's is made at once, the first time one is asked for (#14: a Python pass
        over each run's params, tags and metrics took ~6 s at 100,000 runs)."""
        digest = self._run_fingerprints.get(run["run_id"])
        return digest if digest is not None else self._fingerprint(run)

    @cached_property
    def _run_fingerprints(self) -> dict[str, str]:
        import hashlib

        out: dict[str, str] = {}
        parts = self._chunk_parts
        fingerprint, sha256 = self._fingerprint, hashlib.sha256
        # ``_fingerprint`` inlined for a run with no children and no model version (most of
        # them): the same text, without its lookups and calls (#14: 9 µs a run at 100,000).
        children, versions = self.children, self.versions_by_run
        digests, marks_of, parents = self.run_digests, self._marks, self._parent_parts
        experiment_keys: dict[str, str] = {}
        for run in self.runs:
            run_id = run["run_id"]
            if run_id in children or run_id in versions:
                digest = fingerprint(run)
            else:
                eid = run["experiment_id"]
                key = experiment_keys.get(eid)
                if key is None:
                    key = experiment_keys[eid] = self._experiment_key(eid)
                parent_id = run["parent_run_id"]
                parent_part = (parents.get(parent_id) or self._parent_part(parent_id)
                               if parent_id else "")
                marks = marks_of.get(run_id)
                digest = sha256(
                    f"{key}\0{run_id}\0{digests.get(run_id)}\0\0{parent_part}\0\0"
                    f"{repr(marks) if marks else ''}".encode()).hexdigest()
            out[run_id] = digest
            parts[run_id] = f"\0{run_id}\0{digest}".encode()
        return out

    def _fingerprint(self, run: dict[str, Any]) -> str:
        import hashlib

        run_id = run["run_id"]
        # What comes from other runs, each part only when there is one (most runs: none).
        kids = self.children.get(run_id)
        # A child's latest metrics enter as its metric digest (their rows, hashed in SQL): a
        # parent's children's dicts made for 100,000 runs took ~0.4 s (#14).
        digests = self.metric_digests
        kids_part = repr([(k, (kid := self.runs_by_id[k])["run_name"], kid["status"],
                           kid["dead"], digests.get(k)) for k in kids]) if kids else ""
        parent_id = run["parent_run_id"]
        parent_part = (self._parent_parts.get(parent_id) or self._parent_part(parent_id)
                       if parent_id else "")
        versions = self.versions_by_run.get(run_id)
        versions_part = repr(sorted((v.name, v.version, v.current_stage, sorted(v.aliases),
                                     self.urls.lineage(v.name, v.version)) for v in versions)
                             ) if versions else ""
        marks = self._marks.get(run_id)
        text = (f"{self._experiment_key(run['experiment_id'])}\0{run_id}\0"
                f"{self.run_digests.get(run_id)}\0{kids_part}\0{parent_part}\0"
                f"{versions_part}\0{repr(marks) if marks else ''}")
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _parent_part(self, parent_id: str) -> str:
        """What a run's fingerprint holds of its parent: its name (made once per parent)."""
        parent = self.runs_by_id.get(parent_id)
        part = self._parent_parts[parent_id] = repr(parent["run_name"] if parent else None)
        return part

    @cached_property
    def _marks(self) -> dict[str, tuple[bool, bool, str, str]]:
        from tracker.site.pages.run_summary import marked_runs

        return marked_runs(self)

    def run_chunk_part(self, run: dict[str, Any]) -> bytes:
        """``\0<run id>\0<fingerprint>``: what ``chunks.chunk_key`` hashes of a run (made with
        the fingerprints: the row, filter and compare chunks and the board pages all ask)."""
        part = self.chunk_parts.get(run["run_id"])
        if part is None:
            part = f"\0{run['run_id']}\0{self.run_fingerprint(run)}".encode()
        return part

    @property
    def chunk_parts(self) -> dict[str, bytes]:
        """``run_chunk_part`` of every run, by run id."""
        self._run_fingerprints  # noqa: B018 - fills the parts
        return self._chunk_parts

    def _experiment_key(self, experiment_id: str) -> str:
        """A hash of what every run page of an experiment shows of it, and the build's
        settings (part of each run's fingerprint; made once per experiment)."""
        key = self._experiment_keys.get(experiment_id)
        if key is None:
            import hashlib

            key = self._experiment_keys[experiment_id] = hashlib.sha256(repr((
                self.build_key, tuple(self.runs[0]) if self.runs else (),
                self.experiment_name(experiment_id), self.urls.experiment(experiment_id),
                self.directions, self.primary_metric(experiment_id))).encode()).hexdigest()
        return key

    @cached_property
    def dirty_runs(self) -> set[str]:
        """Runs whose page group the previous build cannot provide (see ``reusable``)."""
        return {key[len("run:"):] for key in self.refused(
            (f"run:{run_id}", digest) for run_id, digest in self._run_fingerprints.items())}

    @cached_property
    def artifacts(self) -> dict[str, list[dict[str, Any]]]:
        return bulk.artifacts(self.query)

    @cached_property
    def inputs(self) -> dict[str, list[dict[str, Any]]]:
        return bulk.inputs(self.query)

    @cached_property
    def models(self) -> list[ModelState]:
        """Registered models with their versions and history, redacted by the publish rules
        (names too: ``registered_name`` maps a published name back, #15)."""
        rules = self.publish
        out = []
        for model in self.registry.search_registered_models(order_by=["name"]):
            shown = rules.redact_model(model)
            try:
                versions = self.registry.search_model_versions(
                    f"name = '{_quote(model.name)}'", order_by=["version"]
                )
                history = self.registry.history(model.name)
            except TrackerError as exc:  # the message could quote the name: not logged
                log.warning("Model %s: skipped, its records cannot be read (%s).", shown.name,
                            type(exc).__name__)
                continue
            self._model_names[shown.name] = model.name
            out.append(ModelState(
                shown,
                [rules.redact_version(v) for v in versions],
                [rules.redact_event(e) for e in history],
            ))
        return out

    def registered_name(self, name: str) -> str:
        """The registry's name of the model published as ``name`` (see ``models``)."""
        if not self._model_names:
            self.models  # noqa: B018 - fills the map
        return self._model_names.get(name, name)

    @cached_property
    def versions_by_run(self) -> dict[str, list[ModelVersion]]:
        out: dict[str, list[ModelVersion]] = {}
        for state in self.models:
            for version in state.versions:
                if version.run_id:
                    out.setdefault(version.run_id, []).append(version)
        return out

    @cached_property
    def urls(self) -> Urls:
        from tracker.site.pages.reports import home_report_slug

        return Urls(
            {e["experiment_id"]: e["name"] for e in self.experiments},
            [m.model.name for m in self.models],
            home_report=home_report_slug(self),
        )

    def primary_metric(self, experiment_id: str) -> str:
        """The metric an experiment is ranked by: configured, else the directed metric most of
        its finished runs have ('' when none is directed; see ``tracker.directions``)."""
        if experiment_id not in self._primary:
            if self.finished(experiment_id).any():
                counts = self._site_sql(
                    f"SELECT m.key, count(DISTINCT s.pos) FROM latest_metrics m "
                    f"JOIN {_SITE_RUNS} s USING (run_id) WHERE s.experiment_id = $e "
                    "AND s.finished GROUP BY m.key", {"e": experiment_id})
                counted: dict[str, int] = dict(counts)
            else:
                counted = self.metric_key_counts(experiment_id)
            self._primary[experiment_id] = self.directions.primary_from_counts(
                self.experiment_name(experiment_id), counted)
        return self._primary[experiment_id]

    def primary_metrics(
        self, runs: list[dict[str, Any]], limit: int = 3, *, directed_only: bool = True
    ) -> list[str]:
        """The metrics to show for ``runs``: their experiment's primary metric first, then the
        directed metrics most runs have, then (unless ``directed_only``) neutral ones."""
        whole = runs and runs is self.runs_by_experiment.get(runs[0]["experiment_id"])
        # an experiment's whole list: its keys are counted once, in SQL (#14)
        counts = self.metric_key_counts(runs[0]["experiment_id"]) if whole else _key_counts(
            self.metrics, runs)
        experiments = {r["experiment_id"] for r in runs}
        primary = self.primary_metric(experiments.pop()) if len(experiments) == 1 else ""

        def rank(key: str) -> tuple[bool, bool, int, int, str]:
            return (key != primary, self.direction(key) == "", -counts[key], len(key), key)

        keys = sorted(counts, key=rank)
        if directed_only:
            keys = [k for k in keys if self.direction(k)]
        return keys[:limit]

    def keys(self, experiment_id: str, table: str) -> list[str]:
        """The keys the experiment's runs have in ``"params"``, ``"metrics"`` or ``"tags"``,
        sorted (found in SQL once per build: the leaderboard, compare data and search index
        all list them, #14)."""
        found = self._keys.get((experiment_id, table))
        if found is None:
            if table == "metrics":
                found = sorted(self.metric_key_counts(experiment_id))
            else:
                rows = self._site_sql(
                    f"SELECT DISTINCT t.key FROM {_TABLES[table]} t SEMI JOIN {_SITE_RUNS} s "
                    "ON t.run_id = s.run_id AND s.experiment_id = $e", {"e": experiment_id})
                found = sorted(key for key, in rows)
            self._keys[(experiment_id, table)] = found
        return list(found)  # a copy: callers sort it their way

    def metric_key_counts(self, experiment_id: str) -> dict[str, int]:
        """Metric key → how many of the experiment's runs have it (counted in SQL, #14)."""
        found = self._key_counts.get(experiment_id)
        if found is None:
            found = self._key_counts[experiment_id] = dict(self._site_sql(
                f"SELECT m.key, count(DISTINCT s.pos) FROM latest_metrics m "
                f"JOIN {_SITE_RUNS} s USING (run_id) WHERE s.experiment_id = $e "
                "GROUP BY m.key", {"e": experiment_id}))
        return found

    def metric_column(self, experiment_id: str, key: str) -> Any:
        """The latest value of metric ``key`` of each run of ``runs_by_experiment``'s list, in
        its order: a float64 numpy array, NaN where a run has no value (or logged NaN). The
        whole-experiment aggregates (bests, top runs, trends) are numpy over these, read in
        SQL: a Python look-up in each of 100,000 runs' dicts took ~0.2 s a pass (#14)."""
        found = self._columns.get((experiment_id, key))
        if found is None:
            import numpy as np

            got = self._site_sql(
                f"SELECT s.pos, m.value FROM latest_metrics m JOIN {_SITE_RUNS} s "
                "USING (run_id) WHERE s.experiment_id = $e AND m.key = $k",
                {"e": experiment_id, "k": key}, columns=True)
            count = len(self.runs_by_experiment.get(experiment_id, []))
            found = np.full(count, np.nan)
            values = got["value"]
            if np.ma.isMaskedArray(values):
                values = values.filled(np.nan)
            found[got["pos"]] = values
            present = np.zeros(count, dtype=bool)
            present[got["pos"]] = True
            self._columns[(experiment_id, key)] = found
            self._present[(experiment_id, key)] = present
        return found

    def metric_values(self, runs: Sequence[dict[str, Any]], keys: Iterable[str]) -> dict[str, Any]:
        """Metric key → the latest value of it of each of ``runs`` (of any experiments, in any
        order): float64 numpy arrays, NaN where a run has none, taken from ``metric_column``
        (#14: a look in each of 100,000 runs' dicts made every run's dict)."""
        import numpy as np

        places = self._places(runs)
        out = {}
        for key in keys:
            values = out[key] = np.full(len(runs), np.nan)
            for eid, (index, place) in places.items():
                values[index] = self.metric_column(eid, key)[place]
        return out

    def metric_logged(self, runs: Sequence[dict[str, Any]], keys: Iterable[str]) -> set[str]:
        """Those of metric ``keys`` that one of ``runs`` or more has (NaN included), from
        ``metric_present``."""
        places = self._places(runs)
        return {key for key in keys if any(self.metric_present(eid, key)[place].any()
                                           for eid, (_, place) in places.items())}

    def _places(self, runs: Sequence[dict[str, Any]]) -> dict[str, tuple[list[int], list[int]]]:
        """Experiment id → (indexes into ``runs``, their places in its run list)."""
        at = self._positions
        places: dict[str, tuple[list[int], list[int]]] = {}
        eids = {run["experiment_id"] for run in runs}
        if len(eids) == 1:  # a board, a sweep: its runs' places in one go
            ids = [run["run_id"] for run in runs]
            places[eids.pop()] = (list(range(len(ids))), list(map(at.__getitem__, ids)))
        else:
            for i, run in enumerate(runs):
                mine = places.setdefault(run["experiment_id"], ([], []))
                mine[0].append(i)
                mine[1].append(at[run["run_id"]])
        return places

    @cached_property
    def _positions(self) -> dict[str, int]:
        """Run id → its place in its experiment's ``runs_by_experiment`` list."""
        columns = self._site_runs
        return dict(zip(columns["run_id"].tolist(), columns["pos"].tolist()))

    def metric_present(self, experiment_id: str, key: str) -> Any:
        """Whether each run of ``runs_by_experiment``'s list has a value of metric ``key``
        (NaN included): a numpy bool array (see ``metric_column``)."""
        self.metric_column(experiment_id, key)
        return self._present[(experiment_id, key)]

    def tagged_runs(self, experiment_id: str, word: str, *,
                    exclude: tuple[str, ...] = ()) -> list[int]:
        """The places in ``runs_by_experiment``'s list (in order) of the runs with a tag named
        ``word`` or a tag value that contains it in any case (ASCII), found in SQL: where a run
        tagged, say, ``baseline`` can be (#14). ``exclude``: only tags whose key starts with
        none of these count (``word`` '': any such tag)."""
        where = ["s.experiment_id = $e"]
        if word:
            where.append("(t.key = $w OR contains(lower(t.value), $w))")
        where += [f"NOT starts_with(t.key, $x{i})" for i in range(len(exclude))]
        rows = self._site_sql(
            f"SELECT DISTINCT s.pos FROM tags t JOIN {_SITE_RUNS} s USING (run_id) "
            f"WHERE {' AND '.join(where)} ORDER BY s.pos",
            {"e": experiment_id, **({"w": word.lower()} if word else {}),
             **{f"x{i}": prefix for i, prefix in enumerate(exclude)}})
        return [pos for pos, in rows]

    def param_values(self, experiment_id: str) -> dict[str, tuple[bool, bool]]:
        """Per param key of the experiment's runs: whether it has two distinct values or more
        (a missing value counts as one) and whether every non-empty value is a number
        (``float`` reads it), in SQL (#14). Values like ``-1.5e3`` are numbers to SQL's regular
        expression already; only the distinct others are tried with ``float``."""
        rows = self._site_sql(
            f"SELECT t.key, count(DISTINCT t.value) + (count(*) > count(t.value))::INTEGER, "
            "list(DISTINCT t.value) FILTER (WHERE t.value <> '' AND NOT regexp_full_match("
            "t.value, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?')) "
            f"FROM params t JOIN {_SITE_RUNS} s USING (run_id) WHERE s.experiment_id = $e "
            "GROUP BY t.key", {"e": experiment_id})
        from tracker.site.render import is_number

        return {key: (distinct > 1, all(is_number(v) for v in others or ()))
                for key, distinct, others in rows}

    def run_columns(self, experiment_id: str) -> dict[str, list[Any]]:
        """``run_id``, ``run_name``, ``start_time`` and ``parent_run_id`` of the runs of
        ``runs_by_experiment``'s list, each as a list in that order (#14: a pass over 100,000
        runs' dicts cost more than the work it fed)."""
        self._site_runs  # noqa: B018 - makes the columns
        return self._run_columns.get(experiment_id) or {key: [] for key in _RUN_COLUMNS}

    def tag_column(self, experiment_id: str, key: str) -> list[str | None]:
        """The value of tag ``key`` of each run of ``runs_by_experiment``'s list, in that
        order (None: no such tag), read in SQL once per build (#14)."""
        found = self._tag_columns.get((experiment_id, key))
        if found is None:
            import numpy as np

            got = self._site_sql(
                f"SELECT s.pos, t.value FROM tags t JOIN {_SITE_RUNS} s USING (run_id) "
                "WHERE s.experiment_id = $e AND t.key = $k", {"e": experiment_id, "k": key},
                columns=True)
            column = np.full(len(self.runs_by_experiment.get(experiment_id, [])), None,
                             dtype=object)
            values = got["value"]
            if np.ma.isMaskedArray(values):  # NULL values
                values = values.filled(None)
            column[got["pos"]] = values
            found = self._tag_columns[(experiment_id, key)] = column.tolist()
        return found

    def finished(self, experiment_id: str) -> Any:
        """Whether each run of ``runs_by_experiment``'s list is FINISHED (a numpy bool array)."""
        import numpy as np

        self._site_runs  # noqa: B018 - makes the columns
        found = self._finished.get(experiment_id)
        return found if found is not None else np.zeros(0, dtype=bool)

    @cached_property
    def _site_runs(self) -> dict[str, Any]:
        """The runs of the site as numpy columns for SQL: run id, experiment id, place in
        ``runs_by_experiment``'s list (``pos``) and whether FINISHED, for ``_site_sql`` (numpy:
        Arrow would import pandas, ~0.5 s)."""
        import numpy as np

        ids: list[str] = []
        experiments: list[str] = []
        places: list[int] = []
        self._finished: dict[str, Any] = {}
        read = operator.itemgetter(*_RUN_COLUMNS, "status")
        for eid, runs in self.runs_by_experiment.items():
            # one pass over the dicts, transposed in C (a pass per column cost more)
            values = list(zip(*map(read, runs))) or [()] * (len(_RUN_COLUMNS) + 1)
            self._run_columns[eid] = {key: list(column)
                                      for key, column in zip(_RUN_COLUMNS, values)}
            ids += values[0]
            experiments += [eid] * len(runs)
            places += range(len(runs))
            self._finished[eid] = np.array(values[-1], dtype=object) == "FINISHED" \
                if runs else np.zeros(0, dtype=bool)
        finished = (np.concatenate(list(self._finished.values())) if self._finished
                    else np.zeros(0, dtype=bool))
        return {"run_id": np.array(ids, dtype=object),
                "experiment_id": np.array(experiments, dtype=object),
                "pos": np.array(places, dtype=np.int64), "finished": finished}

    def _site_sql(self, sql: str, params: dict[str, Any], *, columns: bool = False) -> Any:
        """The rows (``columns``: the numpy columns) of ``sql`` over the store's tables and
        ``_SITE_RUNS``: ``_site_runs`` copied once into a temporary table (a registered numpy
        column of 100,000 run ids was read into DuckDB again by each query, ~0.1 s). The
        table is marked with this ``SiteData``'s number and made again when another one
        replaced it (two sites over one query layer)."""
        query = self.query
        con = query._connection()  # not ``con``: that makes the lazy views too
        try:
            mark = con.execute(f"SELECT max(site) FROM {_SITE_RUNS}").fetchall()
        except _duckdb_error() as exc:  # not made yet
            if "does not exist" not in str(exc):
                raise
            mark = []
        if mark != [(self._number,)]:
            con.register("tracker_site_runs_in", self._site_runs)
            try:
                con.execute(f"CREATE OR REPLACE TEMP TABLE {_SITE_RUNS} AS "
                            "SELECT *, $n::BIGINT AS site FROM tracker_site_runs_in",
                            {"n": self._number})
            finally:
                con.unregister("tracker_site_runs_in")
        result = query._execute(sql, params)
        return result.fetchnumpy() if columns else result.fetchall()

    @cached_property
    def data_as_of(self) -> str:
        """ISO time the site describes: ``SOURCE_DATE_EPOCH`` when set, else the newest data.

        Never the wall clock, so two builds of one store are identical. Only the home page
        shows it: were it on every page, each new run would change every page.
        """
        from datetime import datetime, timezone

        from tracker.site.render import build_time

        if "SOURCE_DATE_EPOCH" in os.environ:
            return build_time().isoformat()
        newest = max((r["last_seen"] or 0 for r in self.runs), default=0)
        if not newest:
            return ""
        moment = datetime.fromtimestamp(newest / 1000, tz=timezone.utc).replace(microsecond=0)
        return moment.isoformat()

    def direction(self, key: str) -> str:
        """``"min"``, ``"max"``, or ``""`` for a neutral metric (never ranked or marked best)."""
        return self.directions.of(key) or ""

    def experiment_name(self, experiment_id: str) -> str:
        return self._experiment_names.get(experiment_id, experiment_id)

    @cached_property
    def _experiment_names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for exp in self.experiments:  # the first of an id, as a search in order would find
            names.setdefault(exp["experiment_id"], str(exp["name"]))
        return names


#: The temporary table of the site's runs that ``SiteData._site_sql`` queries join.
_SITE_RUNS = "temp.tracker_site_runs"
_NUMBERS = itertools.count(1)  # marks each SiteData's rows of that table
_TABLES = {"params": "params", "metrics": "latest_metrics", "tags": "tags"}
_RUN_COLUMNS = ("run_id", "run_name", "start_time", "parent_run_id")


def _duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


def _key_counts(
    table: Mapping[str, dict[str, Any]], runs: Iterable[dict[str, Any]]
) -> dict[str, int]:
    """Key → how many of ``runs`` have it in ``table`` (run id → key → value), counted in C
    (``Counter`` over chained dicts: a Python loop per key of 100,000 runs took ~0.3 s)."""
    from collections import Counter

    empty: dict[str, Any] = {}
    return Counter(itertools.chain.from_iterable(
        [table.get(r["run_id"], empty) for r in runs]))


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
