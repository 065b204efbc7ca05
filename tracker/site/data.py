"""Everything the pages are built from, read once per build through the query layer."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tracker.exceptions import TrackerError
from tracker.query import bulk
from tracker.site.cache import BuildCache
from tracker.site.publish import PublishRules
from tracker.site.urls import Urls

if TYPE_CHECKING:
    from tracker.query import StoreQuery
    from tracker.registry import ModelVersion, RegisteredModel, Registry, RegistryEvent

log = logging.getLogger("tracker.site")

# Metric names where smaller is better; anything else is "higher is better" only when it looks
# like a score. ``direction`` falls back to "min" (losses are the common case).
_MIN_WORDS = ("loss", "rmse", "mse", "mae", "error", "err", "mape", "perplexity", "time",
              "latency", "duration", "regret", "cost")
_MAX_WORDS = ("acc", "accuracy", "auc", "score", "f1", "precision", "recall", "r2", "iou",
              "map", "ndcg", "bleu", "rouge", "reward", "return", "correlation", "best_iteration")


def metric_direction(key: str, overrides: dict[str, str] | None = None) -> str:
    """``"min"`` or ``"max"``: which value of this metric is best (configurable by key)."""
    if overrides and key in overrides:
        return overrides[key]
    lowered = key.lower()
    words = [w for w in _split_words(lowered) if w]
    if any(w in _MIN_WORDS for w in words):
        return "min"
    if any(w in _MAX_WORDS for w in words):
        return "max"
    return "min"


def _split_words(text: str) -> list[str]:
    import re

    return re.split(r"[^a-z0-9]+", text) + [text]


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
        metric_directions: overrides of ``metric_direction`` by metric key.
        reports_dir: the folder of Markdown reports, if any.
        cache: derived data kept from the previous build (see ``tracker.site.cache``).
        reusable: ``(group key, fingerprint) -> bool``: whether the previous build's files of a
            group can stay (the build's ``SiteWriter.reusable``); runs whose page group is
            reusable are never loaded in full.
        build_key: a hash of everything outside the store that pages depend on (theme, page
            header, settings); part of every fingerprint.
        publish: the build's publish rules; ``query`` should apply the same ones (the registry
            and the artifact files are redacted and filtered here).
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
        build_key: str = "",
        publish: PublishRules | None = None,
    ) -> None:
        self.query = query
        self.registry = registry
        self.metric_directions = metric_directions or {}
        self.reports_dir = reports_dir
        self.cache = cache if cache is not None else BuildCache(None)
        self.reusable = reusable if reusable is not None else (lambda key, fingerprint: False)
        self.build_key = build_key
        self._points: dict[str, dict[str, list[tuple[int, int, float]]]] = {}
        self._points_loaded: set[str] | None = set()  # None: every run's points are loaded
        self._fingerprints: dict[str, str] = {}
        self.publish = publish if publish is not None else PublishRules.from_config()
        self._model_names: dict[str, str] = {}  # published model name -> registry's

    @cached_property
    def experiments(self) -> list[dict[str, Any]]:
        return bulk.experiments(self.query)

    @cached_property
    def runs(self) -> list[dict[str, Any]]:
        known = {e["experiment_id"] for e in self.experiments}
        return [r for r in bulk.runs(self.query) if r["experiment_id"] in known]

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
    def params(self) -> dict[str, dict[str, str]]:
        return bulk.params(self.query)

    @cached_property
    def tags(self) -> dict[str, dict[str, str]]:
        return bulk.tags(self.query)

    @cached_property
    def metrics(self) -> dict[str, dict[str, float]]:
        return bulk.latest_metrics(self.query)

    @cached_property
    def metric_digests(self) -> dict[str, str]:
        """Run id → a digest of its whole metric history (changes with any point)."""
        return bulk.metric_digests(self.query)

    def history(self, run_id: str) -> dict[str, list[tuple[int, int, float]]]:
        """Metric key → [(step, timestamp, value)] of one run, sorted by step then time.

        Histories are read in bulk: the first call reads those of every run whose page must be
        rebuilt (``dirty_runs``), or of every run when that is most of them.
        """
        loaded = self._points_loaded
        if loaded is not None and run_id not in loaded:
            dirty = self.dirty_runs
            if run_id in dirty and not dirty <= loaded and len(dirty) * 2 < len(self.runs):
                wanted = sorted(dirty - loaded)
                self._points.update(bulk.metric_points(self.query, wanted))
                loaded.update(wanted)
                loaded.add(run_id)
            else:
                self._points = bulk.metric_points(self.query)
                self._points_loaded = None
        return self._points.get(run_id, {})

    def run_fingerprint(self, run: dict[str, Any]) -> str:
        """A hash of everything a run's page, CSV histories and artifact copies are made from."""
        run_id = run["run_id"]
        if run_id in self._fingerprints:
            return self._fingerprints[run_id]
        import hashlib

        eid = run["experiment_id"]
        kids = [self.runs_by_id[c] for c in self.children.get(run_id, [])]
        parent = self.runs_by_id.get(run["parent_run_id"] or "")
        versions = sorted((v.name, v.version, v.current_stage, sorted(v.aliases),
                           self.urls.lineage(v.name, v.version))
                          for v in self.versions_by_run.get(run_id, []))
        parts = (
            self.build_key, sorted(run.items()), self.experiment_name(eid),
            self.urls.experiment(eid), self.tags.get(run_id), self.params.get(run_id),
            self.metrics.get(run_id), self.metric_digests.get(run_id),
            self.artifacts.get(run_id), self.inputs.get(run_id),
            [(k["run_id"], k["run_name"], k["status"], k["dead"], self.metrics.get(k["run_id"]))
             for k in kids],
            parent["run_name"] if parent else None, versions,
            sorted(self.metric_directions.items()),
        )
        digest = hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()
        self._fingerprints[run_id] = digest
        return digest

    @cached_property
    def dirty_runs(self) -> set[str]:
        """Runs whose page group the previous build cannot provide (see ``reusable``)."""
        return {run["run_id"] for run in self.runs
                if not self.reusable(f"run:{run['run_id']}", self.run_fingerprint(run))}

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
        return Urls(
            {e["experiment_id"]: e["name"] for e in self.experiments},
            [m.model.name for m in self.models],
        )

    def primary_metrics(self, runs: list[dict[str, Any]], limit: int = 3) -> list[str]:
        """The metrics most runs have (ties: losses/rmse first, then by name)."""
        counts: dict[str, int] = {}
        for run in runs:
            for key in self.metrics.get(run["run_id"], {}):
                counts[key] = counts.get(key, 0) + 1
        preferred = ("rmse", "loss", "val_loss", "validation-rmse", "accuracy", "auc")

        def rank(key: str) -> tuple[int, int, str]:
            return (-counts[key], preferred.index(key) if key in preferred else 99, key)

        return sorted(counts, key=rank)[:limit]

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
        return metric_direction(key, self.metric_directions)

    def experiment_name(self, experiment_id: str) -> str:
        for exp in self.experiments:
            if exp["experiment_id"] == experiment_id:
                return str(exp["name"])
        return experiment_id


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
