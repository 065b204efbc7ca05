"""Express searches: a new process's first ``search_runs`` answered without starting DuckDB (#16).

A first search of a new process used to import DuckDB, open a database and restore the query
snapshot on a thread running ahead of the pandas import. On two cores that thread mostly held
the GIL: DuckDB's import and connection are Python and native code that do not release it, so
the search ended ~70 ms after pandas alone would have (387 ms against a 318 ms import floor).

When the background snapshot save has written the tables (``StoreQuery._save_later``), it
writes the ``runs_wide`` rows, with the few ``runs`` columns a filter may name, to an Arrow
IPC file beside the snapshot (``write``), named by a digest of the store files they hold. A
new process lists the store as a DuckDB load would (``Store.plan``); when the file of that
state exists, it evaluates the filter, the order and the limit on it with ``pyarrow.compute``
and builds the DataFrame (``search``). pyarrow comes with pandas, so the search costs a few
milliseconds past the imports. Otherwise the name said so before anything was imported, and
DuckDB's load starts ahead of pandas as before; that process then writes the file of the new
state in the background (``StoreQuery._express_later``), for the next one.

It answers only what it answers exactly as the DuckDB path does, and otherwise returns None:

* the store changed since the file was written (a new run, a compaction), or the file was
  written by another tracker, another DuckDB, or for other tables (``format_key``);
* an ILIKE over text that is not ASCII (DuckDB and RE2 fold case differently past ASCII);
* publish rules, snapshots turned off, a missing or damaged file, any Arrow error.

The file is only a cache, like the snapshot: written under a temporary name and renamed into
place, never trusted for more than its metadata says, and a miss when it cannot be read.
``tests/test_query_express.py`` checks that both paths keep and order the same runs for every
filter of ``tests/test_filter.py`` and for random ones, and give equal DataFrames.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tracker.query.dbfiles import abandoned, unlink
from tracker.query.filter import BoolOp, Compare, Field, Node, parse_filter, parse_order_by
from tracker.simple_filter import like_regex

if TYPE_CHECKING:
    import pandas as pd

    from tracker.query import StoreQuery
    from tracker.query.wide import WideTable

log = logging.getLogger("tracker.query")

FORMAT = 2  # bumped whenever the file's layout or meaning changes
SUFFIX = ".arrow"
KEY_CHARS = 32  # of the files key, in the file's name (all of it is in its metadata)
META = b"tracker.express"
# No file past this many cells (keys x runs): such a first search is not import-bound, and
# the file would add its size to the background save's memory.
MAX_CELLS = 4_000_000
EXPORT_BATCH_ROWS = 20_000
# At exit, ``runs_wide`` is built for an express file (``StoreQuery._write_express``) only up
# to this many runs: past it, the pivot would hold up the exit of a short process.
EXIT_RUNS = 5_000
# ``runs`` columns a filter may name that ``runs_wide`` lacks, under names no alias takes.
EXTRA = {"run_name": "_run_name", "user_id": "_user_id", "lifecycle_stage": "_lifecycle_stage"}
# The rows of an express file, in the default order of a search (newest first, then by id):
# a search without ``order_by`` keeps its rows in file order, and one of every run copies none.
EXPORT = ("SELECT w.*, {} FROM runs_wide w JOIN runs r USING (run_id) "
          "ORDER BY w.start_time DESC NULLS LAST, w.run_id").format(
    ", ".join(f"r.{column} AS {alias}" for column, alias in EXTRA.items()))
_PREFIX = {"metric": "metrics", "param": "params", "tag": "tags"}


class _Decline(Exception):
    """This search is left to DuckDB (see the module docstring)."""


def path_for(snapshot_path: str, key: str) -> str:
    """The express file of the query snapshot at ``snapshot_path`` for the store files whose
    ``files_key`` is ``key``: named by it, so a search knows whether it can be answered from
    it before importing anything (on a changed store the DuckDB path then starts at once)."""
    return f"{_prefix(snapshot_path)}{key[:KEY_CHARS]}{SUFFIX}"


def _prefix(snapshot_path: str) -> str:
    return os.path.splitext(snapshot_path)[0] + ".express-"


def files_key(loaded: Iterable[str], exclude: Mapping[str, Iterable[str]]) -> str:
    """A digest of the store files the tables hold (full paths) and the segments excluded
    from some of them: equal keys, equal tables."""
    state = [sorted(loaded), sorted((path, sorted(segs)) for path, segs in exclude.items())]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()


def format_key() -> str | None:
    """What the file's content depends on besides the store: the layout, tracker's version,
    the record schema, the SQL of the tables, and the DuckDB that folded them (named by its
    files, found without importing it). None: no DuckDB installed."""
    import importlib.util

    from tracker._version import __version__
    from tracker.query import views
    from tracker.store.schema import SCHEMA_VERSION

    digest = hashlib.sha256(f"{FORMAT} {SCHEMA_VERSION} {__version__}".encode())
    # The package, and its engine where it is a module of its own (duckdb >= 2).
    for name in ("duckdb", "_duckdb"):
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            if name == "duckdb":
                return None
            continue
        try:
            found = os.stat(spec.origin)
        except OSError:
            return None
        digest.update(f" {spec.origin} {found.st_size} {found.st_mtime_ns}".encode())
    for sql in (views.EMPTY_RECORDS, *views.DERIVED.values()):
        digest.update(sql.encode())
    return digest.hexdigest()[:32]


# -- writing -------------------------------------------------------------------------------------


def write(execute: Callable[..., Any], snapshot_path: str, loaded: Iterable[str],
          exclude: Mapping[str, Iterable[str]], wide: WideTable | None) -> bool:
    """Write the express file of the tables ``execute`` reads (``runs_wide`` current, holding
    exactly the files ``loaded`` minus ``exclude``); False (and no file left) when they
    cannot have one: no ``runs_wide`` (over its budget), too many cells.

    RUNNING runs are written as they are: whether one's process died (``StoreQuery._mark_dead``)
    sets its ``dead`` flag, which neither a filter nor the DataFrame reads."""
    key = files_key(loaded, exclude)
    target = path_for(snapshot_path, key)
    _remove_others(snapshot_path, keep=target)
    fmt = format_key()
    if wide is None or fmt is None:
        unlink(target)
        return False
    if _runs(execute) * (len(wide.columns) + len(EXTRA)) > MAX_CELLS:
        unlink(target)
        return False
    import pyarrow as pa

    cursor = execute(EXPORT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "extra copy of the rows": a batch each
        reader = cursor.to_arrow_reader(EXPORT_BATCH_ROWS)
    info = {"format": fmt, "files": key, "columns": wide.as_json()}
    schema = reader.schema.with_metadata({META: json.dumps(info).encode()})
    tmp = f"{target}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        os.replace(tmp, target)
    except OSError as exc:  # a cache that cannot be written costs time only
        log.debug("could not write the express file %s: %s", target, exc)
        unlink(tmp)
        unlink(target)
        return False
    except BaseException:
        unlink(tmp)
        raise
    return True


def worth_building(execute: Callable[..., Any], exiting: bool) -> bool:
    """Whether to build ``runs_wide`` of the tables ``execute`` reads for their express file
    now: always while the process runs; at exit, for a small store only."""
    return not exiting or _runs(execute) <= EXIT_RUNS


def _runs(execute: Callable[..., Any]) -> int:
    """How many runs the tables ``execute`` reads hold."""
    (runs,) = execute("SELECT count(*) FROM runs").fetchone() or (0,)
    return int(runs)


def current(snapshot_path: str, loaded: Iterable[str],
            exclude: Mapping[str, Iterable[str]]) -> bool:
    """Whether the express file of these files is there and readable."""
    key = files_key(loaded, exclude)
    opened = _open(path_for(snapshot_path, key))
    return opened is not None and opened[1] == key


def _any_file(snapshot_path: str) -> bool:
    """Whether the snapshot has an express file, for whichever store state."""
    folder, start = os.path.split(_prefix(snapshot_path))
    try:
        return any(name.startswith(start) and name.endswith(SUFFIX)
                   for name in os.listdir(folder))
    except OSError:
        return False


def _remove_others(snapshot_path: str, keep: str) -> None:
    """Delete the snapshot's express files of other store states, and the temporary files of
    writes whose process died."""
    folder, start = os.path.split(_prefix(snapshot_path))
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if not name.startswith(start) or path == keep:
            continue
        target, tmp, _ = name.partition(".tmp-")
        if not tmp or abandoned(name, target):
            unlink(path)


# -- reading -------------------------------------------------------------------------------------

# Per snapshot (the prefix of its express files), the last file opened: its path and identity,
# then what ``_open`` returns. One each: a long-lived process does not keep the mapped files
# of states its store has left behind.
_opened: dict[str, tuple[str, tuple[int, int, int], Any, str, tuple[tuple[str, str], ...]]] = {}


def _open(path: str) -> tuple[Any, str, tuple[tuple[str, str], ...]] | None:
    """(the table, the files key, the wide columns) of the express file at ``path``, or None
    when it is missing, damaged or of another format. Mapped, not read: a search touches only
    the columns it filters, sorts and returns."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    snapshot = path.rpartition(".express-")[0]
    cached = _opened.get(snapshot)
    if cached is not None and cached[:2] == (path, identity):
        return cached[2:]
    import pyarrow as pa

    try:
        with pa.memory_map(path) as source:
            table = pa.ipc.open_file(source).read_all()
        info = json.loads((table.schema.metadata or {})[META])
        if info.get("format") != format_key():
            return None
        columns = tuple((str(alias), str(name)) for alias, name in info["columns"])
        key = str(info["files"])
    except Exception as exc:  # noqa: BLE001 - a damaged cache file is only a miss
        log.debug("ignoring express file %s: %s", path, exc)
        return None
    _opened[snapshot] = (path, identity, table, key, columns)
    return table, key, columns


def search(q: StoreQuery, experiment_ids: list[str] | None, filter_string: str | None,
           run_view_type: int, max_results: int | None,
           order_by: list[str] | None) -> pd.DataFrame | None:
    """``runs_dataframe(search_runs(...))`` from the express file, or None when it cannot
    answer exactly (the module docstring lists when). Bad arguments raise as that does."""
    from tracker.entities import ViewType
    from tracker.query.reads import check_max_results

    check_max_results(max_results)
    tree = parse_filter(filter_string)
    order = parse_order_by(order_by)
    view = ViewType.from_any(run_view_type)
    if q.publish is not None or not q._snapshots():
        return None
    snapshot_path = q._snapshot_path()
    if not _any_file(snapshot_path):
        return None  # none for this store: the DuckDB path plans (ahead of pandas' import)
    q.store.read_format_warning()
    plan = q.store.plan(cached=True)  # what a DuckDB load would plan next, cached for it
    full = q.store.fs.full_path
    key = files_key([full(p) for p in plan.files],
                    {full(p): segs for p, segs in plan.exclude.items()})
    path = path_for(snapshot_path, key)
    if not os.path.isfile(path):
        return None  # the store changed since (or no file yet): DuckDB starts now
    import pandas  # noqa: F401 - the DataFrame's, imported before pyarrow as a plain import is

    opened = _open(path)
    if opened is None or opened[1] != key:
        return None
    table, _, columns = opened
    try:
        return answer(table, columns, tree, order, experiment_ids, view, max_results)
    except _Decline:
        return None
    except Exception as exc:  # noqa: BLE001 - any surprise: DuckDB answers instead
        log.debug("express search declined: %s", exc)
        return None


def answer(table: Any, columns: tuple[tuple[str, str], ...], tree: Node | None,
           order: list[tuple[Field, bool]], experiment_ids: list[str] | None, view: int,
           max_results: int | None) -> pd.DataFrame:
    """MLflow's DataFrame of the rows of ``table`` (an express file's, with its wide
    ``columns``) that ``tree`` keeps, in ``order``, at most ``max_results`` of them."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from tracker.entities import LifecycleStage, ViewType
    from tracker.query.wide import BASE_COLUMNS

    lookup = {name: alias for alias, name in columns}
    stage = table.column(EXTRA["lifecycle_stage"])
    if view == ViewType.ALL:
        keep = stage.is_valid()
    else:
        wanted_stage = (LifecycleStage.ACTIVE if view == ViewType.ACTIVE_ONLY
                        else LifecycleStage.DELETED)
        keep = pc.equal(stage, pa.scalar(wanted_stage, pa.string()))
    if experiment_ids is not None:
        wanted = pa.array([str(e) for e in experiment_ids], pa.string())
        keep = pc.and_kleene(keep, pc.is_in(table.column("experiment_id"), value_set=wanted))
    if tree is not None:
        keep = pc.and_kleene(keep, _mask(tree, table, lookup))
    # Row numbers only until the end: each returned column is copied once, in its order.
    found = pc.indices_nonzero(pc.fill_null(keep, False))
    rows = pc.take(found, _order(table, found, order, lookup)) if order else found
    if max_results is not None:
        rows = rows.slice(0, max_results)
    if len(rows) == 0:
        return pd.DataFrame(columns=list(BASE_COLUMNS))

    def pick(column: Any) -> Any:  # every row in file order: the file's own column
        return column if len(rows) == table.num_rows and not order else column.take(rows)

    arrays, names = [], []
    for name in BASE_COLUMNS:
        column = pick(table.column(name))
        if name.endswith("_time"):  # as DuckDB's epoch_ms(...)::TIMESTAMPTZ gives them
            column = pc.multiply_checked(column, 1000).cast(pa.timestamp("us", tz="UTC"))
        arrays.append(column)
        names.append(name)
    for alias, name in columns:
        column = pick(table.column(alias))
        if column.null_count < len(rows):  # the columns the runs found have (NaN counts)
            arrays.append(column)
            names.append(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pa.Table.from_arrays(arrays, names=names).to_pandas()


def _column(table: Any, field: Field, lookup: Mapping[str, str]) -> Any:
    """The column ``field`` names: a runs attribute, or a key's pivoted values (all null when
    no run has the key)."""
    import pyarrow as pa

    if field.kind == "attribute":
        return table.column(EXTRA.get(field.key, field.key))
    alias = lookup.get(f"{_PREFIX[field.kind]}.{field.key}")
    if alias is not None:
        return table.column(alias)
    return pa.nulls(table.num_rows, pa.float64() if field.kind == "metric" else pa.string())


def _mask(node: Node, table: Any, lookup: Mapping[str, str]) -> Any:
    """The rows ``node`` keeps, with SQL's three values: null where DuckDB's is NULL."""
    import pyarrow.compute as pc

    if isinstance(node, BoolOp):
        combine = pc.and_kleene if node.op == "AND" else pc.or_kleene
        parts = [_mask(item, table, lookup) for item in node.items]
        out = parts[0]
        for part in parts[1:]:
            out = combine(out, part)
        return out
    assert isinstance(node, Compare)
    column = _column(table, node.field, lookup)
    result = _compare(column, node)
    if node.field.kind != "attribute":
        # EXISTS (a row with the key whose value compares true): never NULL. A NaN metric
        # fails every comparison but != under IEEE rules, as the SQL's ``NOT isnan`` has it.
        result = pc.fill_null(result, False)
    return result


def _compare(column: Any, node: Compare) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    op, value = node.op, node.value
    if op == "IS NULL":
        return column.is_null()
    if op == "IS NOT NULL":
        return column.is_valid()
    if op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        found = pc.is_in(column, value_set=pa.array(list(value), pa.string()))
        if op == "NOT IN":
            found = pc.invert(found)
        return pc.if_else(column.is_null(), pa.scalar(None, pa.bool_()), found)
    if op in ("LIKE", "ILIKE"):
        assert isinstance(value, str)
        if op == "ILIKE" and not (value.isascii() and _all_ascii(column)):
            raise _Decline("ILIKE past ASCII")
        return pc.match_substring_regex(column, pattern=like_regex(value),
                                        ignore_case=op == "ILIKE")
    compare = {"=": pc.equal, "!=": pc.not_equal, "<": pc.less, "<=": pc.less_equal,
               ">": pc.greater, ">=": pc.greater_equal}[op]
    return compare(column, pa.scalar(value))


def _all_ascii(column: Any) -> bool:
    import pyarrow.compute as pc

    return column.null_count == len(column) or bool(
        pc.all(pc.string_is_ascii(column)).as_py())


def _order(table: Any, found: Any, order: list[tuple[Field, bool]],
           lookup: Mapping[str, str]) -> Any:
    """The sort indices of the rows ``found`` of ``table``: the ``order_by`` keys, then newest
    first, then run id; missing values last in both directions, NaN metrics just before them
    (as in SQL)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays: dict[str, Any] = {}
    keys: list[tuple[str, str]] = []
    for index, (field, ascending) in enumerate(order):
        direction = "ascending" if ascending else "descending"
        column = pc.take(_column(table, field, lookup), found)
        if field.kind == "metric":
            nan = pc.fill_null(pc.is_nan(column), False)
            arrays[f"k{index}a"] = pc.if_else(column.is_null(), 2, pc.if_else(nan, 1, 0))
            keys.append((f"k{index}a", "ascending"))
            column = pc.if_else(nan, pa.scalar(None, pa.float64()), column)
        arrays[f"k{index}"] = column
        keys.append((f"k{index}", direction))
    arrays["start_time"] = table.column("start_time").take(found)
    arrays["run_id"] = table.column("run_id").take(found)
    keys += [("start_time", "descending"), ("run_id", "ascending")]
    if int(pa.__version__.split(".")[0]) >= 25:  # null placement per key (the global one warns)
        return pc.sort_indices(pa.table(arrays),
                               sort_keys=[(name, way, "at_end") for name, way in keys])
    return pc.sort_indices(pa.table(arrays), sort_keys=keys, null_placement="at_end")
