"""The import layering of ``tracker/`` (#13), read from the source with ``ast``, so it stays true.

Every ``import`` and ``from … import`` counts, module-level or inside a function: an import moved
into a function still runs, so it does not remove a dependency. Only imports under
``if TYPE_CHECKING:`` are left out (they never run). The README's "Architecture" section says
what each package may import; these tests hold the parts of it that a reader relies on:

- no import cycle among the top-level modules and packages of ``tracker`` (the package root
  ``tracker/__init__.py`` included);
- module-level cycles only inside one package, and only the known ones listed below;
- ``tracker.store`` and ``tracker.query`` never import the API, the clients, the CLI or the site;
- the site and the clients never import the fluent API (``tracker.api``, the package root);
- model URIs and lineage resolve through the client object they are given, never by importing the
  client class; CLI commands never import ``tracker.cli``.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

import pytest

TRACKER = Path(__file__).resolve().parent.parent / "tracker"

# Module-level cycles that remain inside one package, with why they are allowed. A new cycle, or
# a known one that grows, fails; one that disappears may be deleted from here.
KNOWN_PACKAGE_CYCLES: dict[frozenset[str], str] = {
    frozenset({"tracker.xgboost", "tracker.xgboost._autolog"}): (
        "autolog() imports its integration on first call (it imports xgboost), which logs "
        "models with the package's log_model"
    ),
    frozenset({"tracker.sklearn", "tracker.sklearn._autolog", "tracker.sklearn._search"}): (
        "autolog() imports its integration on first call; the integration logs models with the "
        "package's log_model, and hyperparameter searches log their candidates as estimators"
    ),
}

# The modules of the fluent API: the package root re-exports it.
FLUENT = ("tracker", "tracker.api")
# The client layer: TrackerClient and the mixins it is made of (``tracker.tracking`` is MLflow's
# module of that name, which also has the fluent ``set_tracking_uri``).
CLIENTS = (
    "tracker.client", "tracker.experiments_client",
    "tracker.artifacts_client", "tracker.registry.client", "tracker.media", "tracker.legacy",
)
# What the store and the query layer must never reach.
ABOVE_DATA = (*FLUENT, *CLIENTS, "tracker.site", "tracker.cli", "tracker.commands")


def _in(module: str, prefixes: Iterable[str]) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one (the root ``tracker``: only itself)."""
    return any(module == p or ("." in p and module.startswith(p + ".")) for p in prefixes)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def modules(root: Path) -> dict[str, Path]:
    """Dotted name → file of every module below ``root`` (a package folder)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, int]]:
    """The modules of the package ``name`` imports at run time, with their line numbers."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def target(module: str) -> str:
        while module not in known and "." in module:
            module = module.rpartition(".")[0]
        return module

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((target(a.name), child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    source = ".".join(base + ([child.module] if child.module else []))
                else:
                    source = child.module or ""
                for alias in child.names:
                    sub = f"{source}.{alias.name}"
                    found.append((sub if sub in known else target(source), child.lineno))
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    root = next(iter(known)).split(".")[0]
    return [(m, line) for m, line in found if m in known and (m == root or m.startswith(root + "."))]


Graph = dict[str, dict[str, str]]  # module → {imported module: "file:line" of the import}


@functools.cache
def module_graph(root: Path = TRACKER) -> Graph:
    known = modules(root)
    graph: Graph = {name: {} for name in known}
    for name, path in known.items():
        for target, line in imports(name, path, known):
            if target != name:
                where = f"{path.relative_to(root.parent)}:{line}"
                graph[name].setdefault(target, where)
    return graph


def top_level_graph(graph: Graph) -> Graph:
    """The graph between ``tracker`` (the root module) and ``tracker.<X>`` modules and packages."""
    def top(module: str) -> str:
        return ".".join(module.split(".")[:2])

    tops: Graph = {}
    for source, targets in graph.items():
        edges = tops.setdefault(top(source), {})
        for target, where in targets.items():
            if top(target) != top(source):
                edges.setdefault(top(target), where)
    return tops


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, {})):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def describe(graph: Graph, component: list[str]) -> str:
    """One cycle through the component, each hop with the import that makes it."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:  # breadth first, so the cycle shown is a shortest one back to start
        node = queue.pop(0)
        for nxt in sorted(graph[node]):
            if nxt == start:
                cycle = [*paths[node], start]
                return "\n".join(
                    f"    {a} -> {b}  ({graph[a][b]})" for a, b in zip(cycle, cycle[1:])
                )
            if nxt in members and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    return "    " + " <-> ".join(component)


def reachable(graph: Graph, sources: Iterable[str]) -> dict[str, list[str]]:
    """Every module importing ``sources`` runs, with one import chain to it.

    Importing ``a.b.c`` also runs the packages ``a.b`` and ``a`` (but the package root is left
    out: it is what ``import tracker`` is for, and every submodule import would reach it)."""
    def runs(target: str) -> list[str]:
        parts = target.split(".")
        return [".".join(parts[:i]) for i in range(len(parts), 1, -1)]

    chains: dict[str, list[str]] = {}
    queue = []
    for source in sources:
        chains[source] = [source]
        queue.append(source)
    while queue:
        node = queue.pop(0)
        for target in sorted(graph.get(node, {})):
            for module in runs(target):
                if module in graph and module not in chains:
                    chains[module] = [*chains[node], module]
                    queue.append(module)
    return chains


def forbidden(graph: Graph, sources: Iterable[str], banned: Iterable[str]) -> list[str]:
    """The import chains from ``sources`` that reach a module of ``banned``, as text."""
    banned = tuple(banned)
    chains = reachable(graph, sources)
    return [
        " -> ".join(chain) for module, chain in sorted(chains.items()) if _in(module, banned)
    ]


def _package(graph: Graph, prefix: str) -> list[str]:
    found = [m for m in graph if _in(m, [prefix])]
    assert found, f"no module {prefix} in {TRACKER}: update the layering test"
    return found


# -- the rules ----------------------------------------------------------------------------------


def test_no_import_cycle_among_top_level_modules_and_packages() -> None:
    tops = top_level_graph(module_graph())
    found = cycles(tops)
    assert not found, "import cycles among tracker's top-level modules and packages:\n" + "\n".join(
        f"  {' , '.join(c)}:\n{describe(tops, c)}" for c in found
    )


def test_module_cycles_are_only_known_ones_inside_one_package() -> None:
    graph = module_graph()
    unknown = [
        c for c in cycles(graph)
        if not any(set(c) <= known for known in KNOWN_PACKAGE_CYCLES)
    ]
    assert not unknown, "new import cycles between modules:\n" + "\n".join(
        f"  {' , '.join(c)}:\n{describe(graph, c)}" for c in unknown
    )


def test_store_and_query_never_import_the_api_clients_cli_or_site() -> None:
    graph = module_graph()
    for layer in ("tracker.store", "tracker.query"):
        chains = forbidden(graph, _package(graph, layer), ABOVE_DATA)
        assert not chains, f"{layer} reaches a layer above it:\n  " + "\n  ".join(chains)


def test_site_never_imports_the_fluent_api() -> None:
    graph = module_graph()
    chains = forbidden(graph, _package(graph, "tracker.site"), FLUENT)
    assert not chains, "the site reaches the fluent API:\n  " + "\n  ".join(chains)


def test_clients_never_import_the_fluent_api() -> None:
    graph = module_graph()
    chains = forbidden(graph, [m for m in graph if _in(m, CLIENTS)], FLUENT)
    assert not chains, "a client module reaches the fluent API:\n  " + "\n  ".join(chains)


def test_model_uris_and_lineage_never_import_the_client_class() -> None:
    graph = module_graph()
    chains = forbidden(graph, ["tracker.model_uri", "tracker.provenance"], ["tracker.client"])
    assert not chains, "URI resolution or lineage imports TrackerClient:\n  " + "\n  ".join(chains)


def test_cli_commands_never_import_the_cli_group() -> None:
    graph = module_graph()
    chains = forbidden(graph, _package(graph, "tracker.commands"), ["tracker.cli"])
    assert not chains, "a command imports tracker/cli.py:\n  " + "\n  ".join(chains)


# -- the checker itself -------------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_sees_function_level_imports_and_skips_type_checking(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "__init__.py": "",
        "a.py": "from pkg import b\n",
        "b.py": "def f():\n    from pkg.c import thing\n",
        "c.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pkg import a\n"
            "def g():\n    import pkg.a\n"
        ),
        "d/__init__.py": "from .e import x\n",
        "d/e.py": "from .. import c\n",
    })
    graph = module_graph(root)
    assert graph["pkg.a"] == {"pkg.b": "pkg/a.py:1"}
    assert graph["pkg.b"] == {"pkg.c": "pkg/b.py:2"}
    assert graph["pkg.c"] == {"pkg.a": "pkg/c.py:5"}  # the TYPE_CHECKING import is not counted
    assert graph["pkg.d"] == {"pkg.d.e": "pkg/d/__init__.py:1"}
    assert graph["pkg.d.e"] == {"pkg.c": "pkg/d/e.py:1"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert describe(graph, ["pkg.a", "pkg.b", "pkg.c"]) == (
        "    pkg.a -> pkg.b  (pkg/a.py:1)\n"
        "    pkg.b -> pkg.c  (pkg/b.py:2)\n"
        "    pkg.c -> pkg.a  (pkg/c.py:5)"
    )
    assert cycles(top_level_graph(graph)) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert forbidden(graph, ["pkg.d.e"], ["pkg.b"]) == ["pkg.d.e -> pkg.c -> pkg.a -> pkg.b"]


def test_checker_counts_a_package_as_one_node_at_the_top_level(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "__init__.py": "",
        "x/__init__.py": "",
        "x/low.py": "",
        "x/high.py": "def f():\n    from pkg import y\n",
        "y.py": "from pkg.x import low\n",
    })
    graph = module_graph(root)
    assert cycles(graph) == []
    tops = top_level_graph(graph)
    assert cycles(tops) == [["pkg.x", "pkg.y"]]
    assert describe(tops, ["pkg.x", "pkg.y"]) == (
        "    pkg.x -> pkg.y  (pkg/x/high.py:2)\n    pkg.y -> pkg.x  (pkg/y.py:1)"
    )


@pytest.mark.parametrize("prefix", ["tracker.store", "tracker.query", "tracker.site"])
def test_checked_packages_exist(prefix: str) -> None:
    assert len(_package(module_graph(), prefix)) > 1
