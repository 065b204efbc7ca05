"""HTML of the home page and the leaderboard (BeautifulSoup assertions on a built site), and the
contract between page models and templates: every field documented, every ``page.x`` used by a
template exists (#5)."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from bs4 import BeautifulSoup, Tag
from jinja2 import meta, nodes

import tracker.site.pages
from tests.test_site_build import COMMITS, seed_site_store
from tracker.client import TrackerClient
from tracker.site import render
from tracker.site.build import build
from tracker.site.pages import Page

# -- the built site --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The seeded store of test_site_build, built once: (output folder, names → ids)."""
    root = tmp_path_factory.mktemp("html")
    ids = seed_site_store(str(root / "store"))
    build(str(root / "store"), root / "site", strict=False)
    return root / "site", ids


def soup_of(out: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((out / path).read_text(encoding="utf-8"), "html.parser")


def text(element: Tag | None) -> str:
    assert element is not None
    return " ".join(element.get_text(" ", strip=True).split())


def link_of(cell: Tag) -> tuple[str, str]:
    anchor = cell.find("a")
    assert isinstance(anchor, Tag), cell
    return anchor.get_text(strip=True), str(anchor["href"])


def experiment_href(out: Path, name: str) -> str:
    anchor = soup_of(out, "index.html").find("a", string=name)
    assert isinstance(anchor, Tag), name
    return str(anchor["href"])


# -- home ------------------------------------------------------------------------------------


def test_home_lists_experiments_with_run_counts_and_best_runs(
    site: tuple[Path, dict[str, str]],
) -> None:
    out, ids = site
    soup = soup_of(out, "index.html")
    assert text(soup.find("h1")) == "Experiments"
    table = soup.select_one("main table")
    assert table is not None
    headers = [text(th) for th in table.select("thead th")]
    assert headers == ["Experiment", "Runs", "Best run", "Last activity"]
    rows = [row.find_all("td") for row in table.select("tbody tr")]
    assert [link_of(r[0]) for r in rows] == [
        ("beta", "experiments/beta.html"), ("empty", "experiments/empty.html"),
        ("nyc-taxi", "experiments/nyc-taxi.html"),
    ]
    assert [text(r[1]) for r in rows] == ["2", "0", "7"]
    assert text(rows[0][2]) == "loss ↓ 0.25 — beta-1"
    assert link_of(rows[0][2]) == ("beta-1", f"runs/{ids['beta-1']}.html")
    assert text(rows[1][2]) == "no metrics yet"
    assert text(rows[2][2]) == "rmse ↓ 3.9 — trial-1"
    assert link_of(rows[2][2]) == ("trial-1", f"runs/{ids['trial-1']}.html")
    assert text(rows[0][3]) == "2026-01-01 05:01 UTC"  # last write of beta-1
    assert text(rows[2][3]) == "2026-01-01 03:01 UTC"  # the FAILED run ended last


def test_home_lists_recent_runs_newest_first(site: tuple[Path, dict[str, str]]) -> None:
    out, ids = site
    soup = soup_of(out, "index.html")
    section = _section(soup, "Recent runs")
    items = section.select("li")
    names = ["beta-1", "beta-0", "broken", "retrain", "trial-2", "trial-1", "trial-0",
             "xgb-sweep", "lasso"]
    assert [item.find_all("a")[0].get_text() for item in items] == names
    for item, name in zip(items, names):
        run_link, experiment_link = item.find_all("a")[:2]
        assert run_link["href"] == f"runs/{ids[name]}.html"
        expected_experiment = "beta" if name.startswith("beta") else "nyc-taxi"
        assert experiment_link.get_text() == expected_experiment
        assert experiment_link["href"] == f"experiments/{expected_experiment}.html"
        badge = item.select_one(".badge")
        assert badge is not None
        assert text(badge) == ("failed" if name == "broken" else "finished")
    assert "2026-01-01 03:00 UTC" in text(items[2])


def test_home_caps_recent_runs(tmp_path: Path) -> None:
    from tracker.site.pages.home import RECENT_RUNS

    client = TrackerClient(str(tmp_path / "store"))
    experiment = client.create_experiment("many")
    for i in range(RECENT_RUNS + 3):
        run = client.create_run(experiment, start_time=1_767_225_600_000 + i * 1000,
                                run_name=f"run-{i:02d}")
        client.set_terminated(run.info.run_id)
    build(str(tmp_path / "store"), tmp_path / "site")
    items = _section(soup_of(tmp_path / "site", "index.html"), "Recent runs").select("li")
    assert [item.a.get_text() for item in items if item.a] == [
        f"run-{i:02d}" for i in range(RECENT_RUNS + 2, 2, -1)
    ]


def test_home_summarizes_the_registry(site: tuple[Path, dict[str, str]]) -> None:
    out, _ = site
    section = _section(soup_of(out, "index.html"), "Model registry")
    (item,) = section.select("li")
    links = [(a.get_text(), a["href"]) for a in item.find_all("a")]
    assert links[:2] == [("taxi-duration", "models/taxi-duration.html"),
                         ("v2", "models/taxi-duration/v2.html")]
    assert "2 versions" in text(item)
    assert "Production: v2" in text(item)
    assert [text(b) for b in item.select(".badge-alias")] == ["@champion → v2"]


def test_home_of_a_store_without_runs_or_models(tmp_path: Path) -> None:
    TrackerClient(str(tmp_path / "store")).create_experiment("first")
    build(str(tmp_path / "store"), tmp_path / "site", strict=True)
    soup = soup_of(tmp_path / "site", "index.html")
    assert text(_section(soup, "Recent runs").select_one(".empty")) == "No runs yet."
    assert text(_section(soup, "Model registry").select_one(".empty")) == \
        "No registered models yet."
    rows = soup.select("main table tbody tr")
    assert [text(r.find("td")) for r in rows] == ["first"]


def test_home_navigation_and_breadcrumbs(site: tuple[Path, dict[str, str]]) -> None:
    out, _ = site
    soup = soup_of(out, "index.html")
    nav = [(a.get_text(), a["href"], a.get("aria-current")) for a in soup.select("header nav a")]
    assert nav[:3] == [("Experiments", "index.html", "page"), ("Changes", "changes.html", None),
                       ("Models", "models/index.html", None)]
    assert [text(li) for li in soup.select("nav.breadcrumbs li")] == ["Home"]
    assert text(soup.find("title")) == "Experiments · Experiments"


def _section(soup: BeautifulSoup, heading: str) -> Tag:
    h2 = soup.find("h2", string=heading)
    assert isinstance(h2, Tag), heading
    section = h2.find_parent("section")
    assert isinstance(section, Tag)
    return section


# -- leaderboard -----------------------------------------------------------------------------


def _leaderboard(out: Path, name: str = "nyc-taxi") -> tuple[BeautifulSoup, Tag, list[str]]:
    soup = soup_of(out, experiment_href(out, name))
    table = soup.select_one("table.leaderboard")
    assert table is not None
    keys = [str(th.get("data-key", "")) for th in table.select("thead th")]
    return soup, table, keys


def _column(table: Tag, keys: list[str], key: str) -> dict[str, Tag]:
    """run id → the cell of column ``key``."""
    index = keys.index(key)
    return {str(tr["data-run"]): tr.find_all(["td", "th"], recursive=False)[index]
            for tr in table.select("tbody tr")}


def test_leaderboard_header(site: tuple[Path, dict[str, str]]) -> None:
    out, _ = site
    soup, table, keys = _leaderboard(out)
    assert text(soup.find("h1")) == "nyc-taxi"
    assert keys == [
        "", "attr.name", "attr.status", "attr.start", "attr.duration", "attr.user",
        "attr.commit", "metrics.rmse", "metrics.accuracy", "params.alpha",
        "params.learning_rate", "params.max_depth", "params.model",
    ]
    headers = {str(th["data-key"]): th for th in table.select("thead th[data-key]")}
    assert headers["metrics.rmse"]["data-direction"] == "min"
    assert headers["metrics.accuracy"]["data-direction"] == "max"
    assert "data-direction" not in headers["params.alpha"].attrs
    # a param only one run has (the lasso's alpha) does not vary: under "Columns", not shown
    assert [k for k, th in headers.items() if th.has_attr("data-hidden")] == \
        ["attr.user", "attr.commit", "params.alpha"]
    for key in ("metrics.rmse", "params.max_depth", "params.alpha", "attr.duration"):
        assert headers[key].has_attr("data-numeric"), key
    assert not headers["params.model"].has_attr("data-numeric")
    assert [text(headers[k]) for k in ("metrics.rmse", "params.model")] == ["rmse", "model"]
    assert "7 runs, ranked by rmse." in text(soup.select_one("main p.muted"))


def test_leaderboard_rows_parents_then_children_best_first(
    site: tuple[Path, dict[str, str]],
) -> None:
    out, ids = site
    _, table, _ = _leaderboard(out)
    rows = table.select("tbody tr")
    names = {v: k for k, v in ids.items()}
    assert [names[str(r["data-run"])] for r in rows] == [
        "xgb-sweep", "trial-1", "trial-0", "trial-2", "retrain", "lasso", "broken",
    ]
    parents = [r.get("data-parent") for r in rows]
    assert parents == [None, ids["xgb-sweep"], ids["xgb-sweep"], ids["xgb-sweep"], None, None, None]
    assert [r["class"] for r in rows] == [["depth-0"]] + [["depth-1"]] * 3 + [["depth-0"]] * 3
    for row in rows:
        name, href = link_of(row.find("th"))
        assert href == f"../runs/{row['data-run']}.html"
        assert name == names[str(row["data-run"])]


def test_leaderboard_cells(site: tuple[Path, dict[str, str]]) -> None:
    out, ids = site
    _, table, keys = _leaderboard(out)
    rmse = _column(table, keys, "metrics.rmse")
    assert (text(rmse[ids["lasso"]]), rmse[ids["lasso"]]["data-sort"]) == ("5.5", "5.5")
    assert (text(rmse[ids["broken"]]), rmse[ids["broken"]]["data-sort"]) == ("", "")
    model = _column(table, keys, "params.model")
    assert {text(model[ids[n]]) for n in ("lasso", "broken")} == {"lasso"}
    assert text(model[ids["retrain"]]) == "xgboost"
    rate = _column(table, keys, "params.learning_rate")
    assert [text(rate[ids[f"trial-{i}"]]) for i in range(3)] == ["0.1", "0.2", "0.3"]
    assert text(rate[ids["lasso"]]) == ""
    status = _column(table, keys, "attr.status")
    assert text(status[ids["broken"]]) == "failed"
    assert status[ids["broken"]].select_one(".badge-failed") is not None
    assert status[ids["broken"]]["data-sort"] == "FAILED"
    commit = _column(table, keys, "attr.commit")
    assert text(commit[ids["lasso"]]) == COMMITS[0][:8]
    assert commit[ids["lasso"]]["data-sort"] == COMMITS[0]
    start = _column(table, keys, "attr.start")
    assert text(start[ids["lasso"]]) == "2026-01-01 00:00"
    assert text(_column(table, keys, "attr.duration")[ids["lasso"]]) == "1 min 5 s"


def test_leaderboard_marks_the_best_value_per_metric_direction(
    site: tuple[Path, dict[str, str]],
) -> None:
    out, ids = site
    _, table, keys = _leaderboard(out)
    for key, winner in (("metrics.rmse", "trial-1"), ("metrics.accuracy", "trial-2")):
        best = [run for run, cell in _column(table, keys, key).items()
                if "best" in cell.get("class", [])]
        assert best == [ids[winner]], key
    cell = _column(table, keys, "metrics.rmse")[ids["trial-1"]]
    assert text(cell) == "3.9 (best)"
    assert text(cell.select_one(".visually-hidden")) == "(best)"
    assert not [c for c in table.select("td.best") if "num" not in c["class"]]
    _, beta, beta_keys = _leaderboard(out, "beta")
    (winner,) = [r for r, c in _column(beta, beta_keys, "metrics.loss").items()
                 if "best" in c.get("class", [])]
    assert winner == ids["beta-1"]


def _figures(soup: BeautifulSoup) -> dict[str, dict[str, Any]]:
    out = {}
    for figure in soup.select("figure.chart"):
        data = figure.select_one('script[type="application/json"].chart-data')
        assert data is not None
        out[str(figure["aria-label"])] = json.loads(data.string or "")
    return out


def test_leaderboard_trend_charts_mark_regressions(site: tuple[Path, dict[str, str]]) -> None:
    out, ids = site
    soup, _, _ = _leaderboard(out)
    figures = _figures(soup)
    assert list(figures) == ["rmse: best over time and by commit",
                             "accuracy: best over time and by commit"]
    rmse = {t["name"]: t for t in figures["rmse: best over time and by commit"]["data"]}
    assert set(rmse) == {"runs", "best so far (min)", "best per commit"}
    order = ["lasso", "xgb-sweep", "trial-0", "trial-1", "trial-2", "retrain"]  # by start time
    assert rmse["runs"]["text"] == order
    assert rmse["runs"]["y"] == [5.5, 4.2, 4.5, 3.9, 4.8, 4.6]
    assert rmse["runs"]["customdata"] == [f"runs/{ids[n]}.html" for n in order]
    assert rmse["best so far (min)"]["y"] == [5.5, 4.2, 4.2, 3.9, 3.9, 3.9]
    commits = rmse["best per commit"]
    assert commits["x"] == [c[:8] for c in COMMITS]
    assert commits["y"] == [5.5, 3.9, 4.6]
    assert commits["marker"]["symbol"] == ["circle", "circle", "x"]  # c3 regressed
    layout = figures["rmse: best over time and by commit"]["layout"]
    assert layout["xaxis"]["title"]["text"] == "run start (UTC)"
    assert layout["yaxis"]["title"]["text"] == "rmse"
    assert layout["xaxis2"]["title"]["text"] == "git commit (red × = regression)"
    accuracy = {t["name"]: t for t in figures["accuracy: best over time and by commit"]["data"]}
    assert accuracy["best so far (max)"]["y"] == [0.70, 0.88, 0.88, 0.88, 0.95, 0.95]
    assert accuracy["best per commit"]["y"] == [0.70, 0.95, 0.86]
    assert accuracy["best per commit"]["marker"]["symbol"] == ["circle", "circle", "x"]
    scripts = [s["src"] for s in soup.select("script[src]")]
    assert any("assets/vendor/plotly-" in s for s in scripts)


def test_leaderboard_of_an_experiment_without_runs(site: tuple[Path, dict[str, str]]) -> None:
    out, _ = site
    soup = soup_of(out, experiment_href(out, "empty"))
    assert text(soup.select_one("p.empty")) == "This experiment has no runs yet."
    assert soup.select("table.leaderboard") == []
    assert soup.select("figure.chart") == []
    assert not [s for s in soup.select("script[src]") if "plotly" in str(s["src"])]
    crumbs = [(a.get_text(), a["href"]) for a in soup.select("nav.breadcrumbs a")]
    assert crumbs == [("Home", "../index.html")]
    assert text(soup.select("nav.breadcrumbs li")[-1]) == "empty"


# -- contract: page models and templates -----------------------------------------------------


def _page_modules() -> list[types.ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(tracker.site.pages.__path__))
    return [tracker.site.pages] + [
        importlib.import_module(f"tracker.site.pages.{name}") for name in names
    ]


def _models() -> Iterator[type]:
    """Every dataclass defined in a page module."""
    for module in _page_modules():
        for value in vars(module).values():
            if (isinstance(value, type) and dataclasses.is_dataclass(value)
                    and value.__module__ == module.__name__):
                yield value


def _page_models() -> list[type[Page]]:
    return sorted((m for m in _models()
                   if issubclass(m, Page) and m is not Page and "template" in vars(m)),
                  key=lambda m: m.template)


def test_every_page_model_field_has_help() -> None:
    undocumented = []
    for model in _models():
        if not (model.__doc__ or "").strip():
            undocumented.append(f"{model.__module__}.{model.__name__} (docstring)")
        for field in dataclasses.fields(model):
            help_text = field.metadata.get("help")
            if not isinstance(help_text, str) or not help_text.strip():
                undocumented.append(f"{model.__module__}.{model.__name__}.{field.name}")
    assert undocumented == []
    assert {m.__name__ for m in _models()} >= {"HomePage", "LeaderboardPage", "Link", "Page"}


def test_page_models_are_frozen_and_have_one_template_each() -> None:
    models = _page_models()
    assert models
    for model in _models():
        assert model.__dataclass_params__.frozen, model  # type: ignore[attr-defined]
    templates = [m.template for m in models]
    assert len(templates) == len(set(templates)), templates
    env = render.environment()
    for template in templates:
        env.get_template(template)  # exists and parses


def test_every_page_template_belongs_to_a_page_model() -> None:
    theme = render.default_theme()
    used = {m.template for m in _page_models()}
    pages = {p.name for p in theme.glob("*.html") if not p.name.startswith("_")}
    assert pages - used == {"base.html"}


def _element_type(hint: Any) -> Any:
    """The type of one item of ``tuple[X, ...]`` / ``list[X]``, or None."""
    if typing.get_origin(hint) in (tuple, list) and typing.get_args(hint):
        return typing.get_args(hint)[0]
    return None


def _unwrap(hint: Any) -> Any:
    """``X | None`` → ``X``; anything that is not a dataclass → None (not checked further)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = options[0] if len(options) == 1 else None
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _hints(model: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(model)
    except Exception:  # a hint that cannot be evaluated: check names only
        return {f.name: Any for f in dataclasses.fields(model)}


class _Checker:
    """Follows ``page`` (and loop variables over its fields) through a template's AST and
    records every attribute that the page model (or the nested dataclass) does not have."""

    def __init__(self, template: str) -> None:
        self.template = template
        self.problems: list[str] = []
        self.checked: set[str] = set()

    def resolve(self, node: nodes.Node, scope: dict[str, Any]) -> Any:
        """The dataclass (or field hint) an expression evaluates to, or None when unknown."""
        if isinstance(node, nodes.Name):
            return scope.get(node.name)
        if isinstance(node, nodes.Getattr):
            return self.attribute(self.resolve(node.node, scope), node.attr, node)
        if isinstance(node, nodes.Getitem):
            return _element_type(self.resolve(node.node, scope))
        return None

    def attribute(self, owner: Any, attr: str, node: nodes.Node) -> Any:
        model = _unwrap(owner)
        if model is None:
            return None
        hints = _hints(model)
        self.checked.add(f"{model.__name__}.{attr}")
        if attr in hints:
            return hints[attr]
        if not hasattr(model, attr):  # properties and methods are fine
            self.problems.append(
                f"{self.template}:{node.lineno}: {model.__name__} has no field {attr!r}")
        return None

    def visit(self, node: nodes.Node, scope: dict[str, Any]) -> None:
        if isinstance(node, nodes.For):
            self.visit(node.iter, scope)
            inner = dict(scope)
            if isinstance(node.target, nodes.Name):
                inner[node.target.name] = _element_type(self.resolve(node.iter, scope))
            for child in [*node.body, *node.else_]:
                self.visit(child, inner)
            if node.test is not None:
                self.visit(node.test, inner)
            return
        if isinstance(node, nodes.Macro):
            return  # macro arguments are untyped; macros get values, not ``page``
        if isinstance(node, nodes.Getattr):
            self.resolve(node, scope)
        for child in node.iter_child_nodes():
            self.visit(child, scope)


def _template_family(env: jinja2.Environment, name: str) -> list[str]:
    """A template and every template it extends, includes or imports (recursively)."""
    seen: list[str] = []
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        source = env.loader.get_source(env, current)[0]  # type: ignore[union-attr]
        todo.extend(t for t in meta.find_referenced_templates(env.parse(source)) if t)
    return seen


def test_templates_use_only_fields_their_page_model_has() -> None:
    env = render.environment()
    problems: list[str] = []
    checked: set[str] = set()
    for model in _page_models():
        for name in _template_family(env, model.template):
            source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
            checker = _Checker(f"{name} (as {model.__name__})")
            checker.visit(env.parse(source), {"page": model})
            problems += checker.problems
            checked |= checker.checked
    assert problems == []
    # The checker really follows page fields and loops over them.
    # (The leaderboard's table is the runs_table macro since #17: macros are not followed.)
    assert {"HomePage.experiments", "HomePage.title", "ExperimentCard.best", "BestRun.metric",
            "ModelCard.versions", "VersionRow.stage", "LeaderboardPage.columns",
            "Section.rows", "TableCell.text"} <= checked


def test_the_contract_checker_catches_a_misspelled_field() -> None:
    env = render.environment()
    from tracker.site.pages.home import HomePage

    source = ("{% for exp in page.experiments %}{{ exp.link.label }}{{ exp.runz }}"
              "{% for b in exp.best %}{{ b.valu }}{% endfor %}{% endfor %}{{ page.titel }}"
              "{{ page.models[0].link.hreff }}")
    checker = _Checker("t.html")
    checker.visit(env.parse(source), {"page": HomePage})
    assert sorted(checker.problems) == sorted([
        "t.html:1: ExperimentCard has no field 'runz'",
        "t.html:1: BestRun has no field 'valu'",
        "t.html:1: HomePage has no field 'titel'",
        "t.html:1: Link has no field 'hreff'",
    ])
