"""Where every page and file of the site lives, and relative links between them.

All paths are site-root-relative POSIX paths of real files (``runs/<id>.html``, never a folder),
so links work from ``file://`` and under a GitHub Pages sub-path. ``relative(from_page, target)``
turns a target into the link written into ``from_page``.
"""

from __future__ import annotations

import functools
import posixpath
import re
import unicodedata
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^a-z0-9]+")


def slugify(text: str, fallback: str = "item") -> str:
    """A readable ASCII file name part: ``"NYC Taxi (v2)"`` → ``nyc-taxi-v2``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _UNSAFE.sub("-", ascii_text.lower()).strip("-")[:60].strip("-")
    return slug or fallback


RESERVED = frozenset({"index"})  # index.html files are the section pages


def unique_slugs(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Slugs for (key, name) pairs, made unique deterministically by appending the key."""
    pairs = sorted(items)
    counts: dict[str, int] = {}
    for _, name in pairs:
        slug = slugify(name)
        counts[slug] = counts.get(slug, 0) + 1
    out = {}
    for key, name in pairs:
        slug = slugify(name)
        unique = counts[slug] == 1 and slug not in RESERVED
        out[key] = slug if unique else f"{slug}-{slugify(key)[:12]}"
    return out


def relative(from_page: str, target: str) -> str:
    """The relative link from the page at ``from_page`` to ``target`` (both site-root paths)."""
    if "://" in target or target.startswith(("#", "mailto:")):
        return target
    path, _, fragment = target.partition("#")
    link = _link(posixpath.dirname(from_page) or ".", path) if path else ""
    return f"{link}#{fragment}" if fragment else link


@functools.lru_cache(maxsize=65536)
def _link(start: str, path: str) -> str:
    """``_relpath`` remembered: every run page links the same assets from ``runs/`` (#10)."""
    return _relpath(path, start)


def _relpath(path: str, start: str) -> str:
    """``posixpath.relpath`` for site-root paths, without its cwd lookups (a leaderboard of
    10,000 rows makes 10,000 links: relpath alone took ~1.7 s of a rebuild)."""
    path, start = posixpath.normpath(path), posixpath.normpath(start)
    if path.startswith(("/", "..")) or start.startswith(("/", "..")):
        return posixpath.relpath(path, start)
    to = [] if path == "." else path.split("/")
    here = [] if start == "." else start.split("/")
    common = 0
    for a, b in zip(to, here):
        if a != b:
            break
        common += 1
    parts = [".."] * (len(here) - common) + to[common:]
    return "/".join(parts) if parts else "."


class Urls:
    """The URL scheme of one build.

    Args:
        experiments: experiment id → name.
        models: registered model names.
        home_report: the slug of the report that is the landing page (``home: true``, #17):
            it is ``index.html`` and the experiments dashboard moves to ``dashboard.html``.
    """

    def __init__(
        self, experiments: dict[str, str], models: Iterable[str] = (),
        home_report: str | None = None,
    ) -> None:
        self._experiments = unique_slugs(experiments.items())
        self._models = unique_slugs((m, m) for m in models)
        self.home_report = home_report
        if home_report is not None:
            self.home = "dashboard.html"

    home = "index.html"  # the experiments dashboard ("dashboard.html" under a home report)
    landing = "index.html"  # the site's front page: the dashboard, or the home report
    changes = "changes.html"
    registry = "models/index.html"
    search_index = "assets/search-index.js"
    reports_index = "reports/index.html"

    def experiment(self, experiment_id: str) -> str:
        return f"experiments/{self._experiments[experiment_id]}.html"

    def experiment_data(self, experiment_id: str) -> str:
        """Compact JSON (as a script) of an experiment's runs, for client-side compare."""
        return f"experiments/{self._experiments[experiment_id]}.data.js"

    def compare(self, experiment_id: str) -> str:
        return f"experiments/{self._experiments[experiment_id]}-compare.html"

    def experiment_charts(self, experiment_id: str) -> str:
        """The chart view of an experiment: every run's history per metric, grouped or not."""
        return f"experiments/{self._experiments[experiment_id]}-charts.html"

    def run(self, run_id: str) -> str:
        return f"runs/{run_id}.html"

    def run_metric_csv(self, run_id: str, key: str) -> str:
        return f"runs/{run_id}/metrics/{slugify(key, 'metric')}-{_short_hash(key)}.csv"

    def run_artifact(self, run_id: str, path: str) -> str:
        return f"runs/{run_id}/artifacts/{path}"

    def run_previews(self, run_id: str) -> str:
        """The data script of a run page's long text previews (loaded when one is opened)."""
        return f"runs/{run_id}/previews.js"

    def sweep(self, run_id: str) -> str:
        return f"sweeps/{run_id}.html"

    def model(self, name: str) -> str:
        return f"models/{self._models[name]}.html"

    def lineage(self, name: str, version: int) -> str:
        return f"models/{self._models[name]}/v{int(version)}.html"

    def report(self, slug: str) -> str:
        return self.landing if slug == self.home_report else f"reports/{slug}.html"

    @staticmethod
    def asset(name: str) -> str:
        return f"assets/{name}"


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()[:8]
