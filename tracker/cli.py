"""The ``tracker`` command line: list, inspect and maintain a store without writing Python.

One click group. Each command parses its options, calls the library (``TrackerClient``, the
query layer, ``compact``) and prints the result: data on stdout, notices on stderr. Library
errors (``TrackerError``) become one-line ``Error: …`` messages with exit code 1. DuckDB and
pandas are imported inside command bodies, so ``tracker --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tracker.client import TrackerClient
from tracker.config import TrackerConfig, load_config
from tracker.entities import RunStatus, ViewType
from tracker.exceptions import TrackerError
from tracker.output import duration, frame_rows, json_default, plain, render, text, utc

if TYPE_CHECKING:
    import pandas as pd

    from tracker.entities import Run

__all__ = ["cli"]

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "csv")
ENV_VARS = ["TRACKER_TRACKING_URI", "MLFLOW_TRACKING_URI"]
DEFAULT_STORE = "./tracking"
DEAD = "DEAD"

# -- the group and its error boundary ---------------------------------------------------------


class _Group(click.Group):
    """A click group that turns library errors into one-line ``click.ClickException``s."""

    group_class = type  # sub-groups are _Group too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            raise click.ClickException(_one_line(str(exc))) from exc


def _one_line(message: str) -> str:
    """A multi-line message (DuckDB's caret diagrams) folded into one line."""
    parts = [re.sub(r"^\^+", "", line.strip()).strip() for line in message.splitlines()]
    text = " ".join(p for p in parts if p)
    return re.sub(r"\s+([.,;:])(?=\s|$)", r"\1", text)


class _Context:
    """What the group passes to its commands: the store URI and a client opened on demand.

    The store is ``--store`` (or the environment) when given, else the config's ``store``, else
    ``./tracking``. ``config_path`` (``--config`` of build/serve) replaces config discovery.
    """

    def __init__(self, uri: str | None) -> None:
        self.given_uri = uri
        self.config_path: str | None = None
        self._config: TrackerConfig | None = None
        self._client: TrackerClient | None = None

    @property
    def uri(self) -> str:
        uri = self.given_uri if self.given_uri is not None else (
            self.config().store or DEFAULT_STORE)
        if uri.lower().startswith("s3://"):
            self._configure_s3()
        return uri

    @uri.setter
    def uri(self, value: str) -> None:
        self.given_uri = value

    def _configure_s3(self) -> None:
        """The config's ``[s3]`` endpoint and region, used where the environment names none."""
        settings = self.config().s3
        if settings.endpoint_url or settings.region:
            from tracker.store.s3 import configure

            configure(default_endpoint_url=settings.endpoint_url or None,
                      default_region=settings.region or None)

    def config(self) -> TrackerConfig:
        """The project configuration (``--config``, else the nearest one; read once)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def client(self, *, must_exist: bool = False) -> TrackerClient:
        """The client of the store; a missing store folder is a notice (an error if must_exist)."""
        if self._client is None:
            self._client = TrackerClient(self.uri)
            if not self._client.store.fs.exists(""):
                where = self._client.store.fs.root
                if must_exist:
                    raise click.ClickException(
                        f"No store at {where} (from {self.uri!r}); check --store or "
                        "TRACKER_TRACKING_URI."
                    )
                _notice(f"no store at {where} yet; check --store or TRACKER_TRACKING_URI.")
        return self._client


pass_context = click.make_pass_decorator(_Context)

_STORE_NAMES = ("--store", "--tracking-uri", "--backend-store-uri")
_STORE_HELP = (
    "The store: a folder, file:///abs/path, s3://bucket/prefix, or sqlite:///x.db (mapped to a "
    "folder)."
)


def store_option(func: F) -> F:
    """``--store`` after the command too (``tracker runs list --store DIR``); this one wins."""

    def use(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(_Context).uri = value

    return click.option(
        *_STORE_NAMES, metavar="URI", expose_value=False, callback=use,
        help=_STORE_HELP + " Overrides the one given before the command.",
    )(func)


def _notice(message: str) -> None:
    click.echo(f"tracker: {message}", err=True)


@click.group(cls=_Group)
@click.option(
    *_STORE_NAMES, "store", envvar=ENV_VARS, default=None, show_envvar=True, metavar="URI",
    help=_STORE_HELP + f" [default: the config's store, else {DEFAULT_STORE}]",
)
@click.version_option(package_name="tracker", prog_name="tracker")
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """Experiment tracking with no server: inspect and maintain a tracker store.

    A store is a folder of immutable Parquet files written by `import tracker as mlflow`.
    These commands list experiments and runs, show one run, run SQL over the store's tables
    and compact finished runs. List commands print an aligned table, or JSON or CSV with
    --format.

    \b
    Example:
        tracker --store ./tracking runs list --order-by "metrics.rmse ASC"
    """
    ctx.obj = _Context(store)


# -- shared options ---------------------------------------------------------------------------


def output_options(func: F) -> F:
    """``--format table|json|csv`` plus the shortcuts ``--table``, ``--json`` and ``--csv``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        chosen = {name for name in FORMATS if kwargs.pop(f"{name}_flag")}
        given = kwargs.pop("fmt")
        if len(chosen) > 1 or (chosen and given is not None and {given} != chosen):
            shown = sorted(chosen | ({given} if given else set()))
            raise click.UsageError(f"Choose one output format, got {', '.join(shown)}.")
        kwargs["fmt"] = given or (chosen.pop() if chosen else "table")
        return func(*args, **kwargs)

    for name in reversed(FORMATS):
        help_text = f"Same as --format {name}."
        wrapper = click.option(f"--{name}", f"{name}_flag", is_flag=True, help=help_text)(wrapper)
    return click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default=None,
        help="Output format [default: table]: aligned columns, a JSON array, or CSV with header.",
    )(wrapper)  # type: ignore[return-value]


def view_options(func: F) -> F:
    """``--all`` / ``--deleted``: which lifecycle stages to list (active only by default)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        show_all, deleted = kwargs.pop("show_all"), kwargs.pop("deleted")
        if show_all and deleted:
            raise click.UsageError("Use --all or --deleted, not both.")
        kwargs["view"] = (
            ViewType.ALL if show_all else ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY
        )
        return func(*args, **kwargs)

    wrapper = click.option("--deleted", is_flag=True, help="Only deleted ones.")(wrapper)
    return click.option(
        "--all", "show_all", is_flag=True, help="Active and deleted ones."
    )(wrapper)  # type: ignore[return-value]


def _emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, what: str) -> None:
    if not rows and fmt == "table":
        _notice(f"no {what}.")
        return
    click.echo(render(columns, rows, fmt))



# -- experiments ------------------------------------------------------------------------------


@cli.group()
def experiments() -> None:
    """Experiments of the store.

    \b
    Example:
        tracker experiments list --all
    """


@experiments.command("list")
@view_options
@output_options
@store_option
@pass_context
def experiments_list_command(obj: _Context, view: int, fmt: str) -> None:
    """List experiments: id, name, artifact location, stage, run count and last activity.

    Active experiments by default; --all adds deleted ones, --deleted shows only those.
    "runs" counts the experiment's runs that are not deleted; "last_activity" is the last
    time the experiment or one of its runs wrote to the store (UTC).

    \b
    Example:
        tracker experiments list --format json
    """
    client = obj.client()
    found = client.search_experiments(view_type=view)
    stats: dict[str, tuple[int, Any]] = {}
    if found:
        stats = client.experiment_stats()
    rows = []
    for exp in sorted(found, key=lambda e: (e.name, e.experiment_id)):
        count, last_seen = stats.get(exp.experiment_id, (0, None))
        times = [t for t in (exp.last_update_time, last_seen) if t is not None]
        rows.append((
            exp.experiment_id, exp.name, exp.artifact_location, exp.lifecycle_stage, count,
            utc(max(times)) if times else None,
        ))
    columns = ["experiment_id", "name", "artifact_location", "lifecycle_stage", "runs"]
    _emit([*columns, "last_activity"], rows, fmt, "experiments")


# -- runs -------------------------------------------------------------------------------------


@cli.group()
def runs() -> None:
    """Runs of the store: list, show, delete and restore.

    \b
    Example:
        tracker runs list --experiment nyc-taxi --max-results 10
    """


def _split(values: Sequence[str]) -> list[str]:
    """Repeated and comma-separated option values, flattened."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _experiment_ids(client: TrackerClient, wanted: Sequence[str]) -> list[str] | None:
    """Experiment ids for --experiment values (an id or a name); None means all experiments."""
    if not wanted:
        return None
    known = client.search_experiments(view_type=ViewType.ALL)
    by_id = {e.experiment_id: e.experiment_id for e in known}
    by_name = {e.name: e.experiment_id for e in known}
    ids = []
    for value in wanted:
        found = by_id.get(value) or by_name.get(value)
        if found is None:
            names = ", ".join(sorted(repr(e.name) for e in known)) or "none"
            raise click.ClickException(
                f"No experiment with id or name {value!r} in the store at {client.store.uri}; "
                f"its experiments: {names}."
            )
        ids.append(found)
    return ids


_DATA_PREFIXES = ("metrics.", "params.", "tags.")


def _data_columns(frame: pd.DataFrame, requested: Sequence[str]) -> list[str]:
    """The metric/param/tag columns to show: all metrics and params, or --columns."""
    present = [str(c) for c in frame.columns]
    if not requested:
        return [c for c in present if c.startswith(("metrics.", "params."))]
    for name in requested:
        if not name.startswith(_DATA_PREFIXES):
            raise click.ClickException(
                f"--columns {name!r}: name a logged column, e.g. metrics.{name}, "
                f"params.{name} or tags.{name}."
            )
        if len(frame) and name not in present:
            _notice(f"no listed run has {name}; its column is empty.")
    return list(requested)


@runs.command("list")
@click.option(
    "--experiment", multiple=True, metavar="NAME_OR_ID",
    help="Only runs of this experiment (repeatable); all experiments by default.",
)
@click.option(
    "--filter", "filter_string", default=None,
    help="MLflow search filter, e.g. \"metrics.rmse < 5 and params.model = 'xgb'\".",
)
@click.option(
    "--order-by", "order_by", multiple=True,
    help='Sort key, e.g. "metrics.rmse ASC" (repeatable); newest first by default.',
)
@click.option("--max-results", type=click.IntRange(min=0), default=None, help="At most N runs.")
@click.option(
    "--columns", multiple=True, metavar="COLUMNS",
    help="Show only these metrics./params./tags. columns (comma-separated or repeated).",
)
@view_options
@output_options
@store_option
@pass_context
def runs_list_command(
    obj: _Context, experiment: tuple[str, ...], filter_string: str | None,
    order_by: tuple[str, ...], max_results: int | None, columns: tuple[str, ...], view: int,
    fmt: str,
) -> None:
    """List runs: id, name, experiment, status, start, duration, metrics and params.

    Filters and sort keys use MLflow's search syntax. A RUNNING run whose process is gone
    (it crashed or was killed) shows as DEAD. Start times are UTC; duration is in seconds
    in JSON and CSV.

    \b
    Example:
        tracker runs list --experiment nyc-taxi --filter "metrics.rmse < 5" --order-by metrics.rmse
    """
    client = obj.client()
    ids = _experiment_ids(client, experiment)
    frame = client.search_runs_frame(
        ids, filter_string or None, view, max_results, list(order_by) or None
    )
    data_columns = _data_columns(frame, _split(columns))
    dead: set[str] = set()
    if (frame["status"] == RunStatus.RUNNING).any():
        dead = client.dead_run_ids()
    names = {e.experiment_id: e.name for e in client.search_experiments(view_type=ViewType.ALL)}
    header = ["run_id", "run_name", "experiment", "status", "start_time", "duration"]
    rows = []
    for rec in frame.to_dict("records"):
        run_id = str(rec["run_id"])
        status = DEAD if run_id in dead else rec["status"]
        rows.append([
            run_id, rec.get("tags.mlflow.runName"),
            names.get(str(rec["experiment_id"]), rec["experiment_id"]), status,
            plain(rec["start_time"]), duration(rec["start_time"], rec["end_time"]),
            *(rec.get(c) for c in data_columns),
        ])
    _emit(header + data_columns, rows, fmt, "runs")


def _run_sections(client: TrackerClient, run: Run) -> dict[str, Any]:
    """One run as plain sections: info, params, metrics, tags, inputs, artifacts."""
    from tracker.query.reads import artifacts, run_exists

    info = run.info
    status = info.status
    if status == RunStatus.RUNNING:
        row = run_exists(client.query, info.run_id)
        status = DEAD if row and row["dead"] else status
    names = {e.experiment_id: e.name for e in client.search_experiments(view_type=ViewType.ALL)}
    return {
        "info": {
            "run_id": info.run_id, "run_name": info.run_name,
            "experiment_id": info.experiment_id, "experiment": names.get(info.experiment_id),
            "status": status, "start_time": utc(info.start_time), "end_time": utc(info.end_time),
            "duration": duration(info.start_time, info.end_time), "user_id": info.user_id,
            "lifecycle_stage": info.lifecycle_stage, "artifact_uri": info.artifact_uri,
        },
        "params": dict(run.data.params),
        "metrics": dict(run.data.metrics),
        "tags": dict(run.data.tags),
        "inputs": [
            {
                "name": d.dataset.name, "digest": d.dataset.digest, "context": d.context,
                "source_type": d.dataset.source_type, "source": d.dataset.source,
                "schema": _maybe_json(d.dataset.schema), "profile": _maybe_json(d.dataset.profile),
            }
            for d in run.inputs.dataset_inputs
        ],
        "artifacts": [
            {"path": a["path"], "file_size": a["file_size"]}
            for a in artifacts(client.query, info.run_id)
        ],
    }


def _maybe_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _show_table(sections: dict[str, Any]) -> str:
    info = sections["info"]
    width = max(len(k) for k in info)
    out = [f"Run {info['run_id']}"]
    out += [f"  {k.ljust(width)}  {text(v, table=True)}".rstrip() for k, v in info.items()]
    for title in ("params", "metrics", "tags"):
        values = sections[title]
        out += ["", f"{title.capitalize()} ({len(values)})"]
        if values:
            key_width = max(len(k) for k in values)
            out += [f"  {k.ljust(key_width)}  {text(v, table=True)}" for k, v in values.items()]
    for title, keys in (
        ("inputs", ["name", "digest", "context", "source"]),
        ("artifacts", ["path", "file_size"]),
    ):
        items = sections[title]
        out += ["", f"{title.capitalize()} ({len(items)})"]
        if items:
            table = render(keys, [[item[k] for k in keys] for item in items], "table")
            out += ["  " + line for line in table.splitlines()]
    return "\n".join(out)


def _show_csv(sections: dict[str, Any]) -> str:
    rows: list[tuple[str, str, Any]] = [("info", k, v) for k, v in sections["info"].items()]
    for title, kind in (("params", "param"), ("metrics", "metric"), ("tags", "tag")):
        rows += [(kind, k, v) for k, v in sections[title].items()]
    for item in sections["inputs"]:
        rest = {k: v for k, v in item.items() if k != "name"}
        rows.append(("input", item["name"], json.dumps(plain(rest), default=str)))
    rows += [("artifact", a["path"], a["file_size"]) for a in sections["artifacts"]]
    return render(["section", "key", "value"], rows, "csv")


@runs.command("show")
@click.argument("run_id")
@output_options
@store_option
@pass_context
def runs_show_command(obj: _Context, run_id: str, fmt: str) -> None:
    """Show one run: info, params, latest metrics, tags, dataset inputs and artifacts.

    --format json prints one JSON object with the keys info, params, metrics, tags, inputs
    and artifacts; --format csv prints section,key,value rows.

    \b
    Example:
        tracker runs show 3f2a9c0d5e6b4a718293a4b5c6d7e8f9 --format json
    """
    client = obj.client()
    sections = _run_sections(client, client.get_run(run_id))
    if fmt == "json":
        click.echo(json.dumps(plain(sections), indent=2, default=json_default))
    elif fmt == "csv":
        click.echo(_show_csv(sections))
    else:
        click.echo(_show_table(sections))


@runs.command("delete")
@click.argument("run_id")
@store_option
@pass_context
def runs_delete_command(obj: _Context, run_id: str) -> None:
    """Soft-delete a run: searches hide it; its files stay and `runs restore` brings it back.

    \b
    Example:
        tracker runs delete 3f2a9c0d5e6b4a718293a4b5c6d7e8f9
    """
    obj.client().delete_run(run_id)
    _notice(f"deleted run {run_id}; undo with: tracker runs restore {run_id}")


@runs.command("restore")
@click.argument("run_id")
@store_option
@pass_context
def runs_restore_command(obj: _Context, run_id: str) -> None:
    """Restore a deleted run, so searches show it again (`runs list --deleted` lists them).

    \b
    Example:
        tracker runs restore 3f2a9c0d5e6b4a718293a4b5c6d7e8f9
    """
    obj.client().restore_run(run_id)
    _notice(f"restored run {run_id}")


# -- SQL and maintenance ----------------------------------------------------------------------


@cli.command("sql")
@click.argument("query")
@output_options
@store_option
@pass_context
def sql_command(obj: _Context, query: str, fmt: str) -> None:
    """Run a SQL query (DuckDB dialect) over the store's tables and print the result.

    Tables: experiments, experiment_tags, runs, params, metrics (every point),
    latest_metrics, tags, artifacts, inputs. Times are milliseconds since the epoch.
    Give - as QUERY to read it from stdin.

    \b
    Example:
        tracker sql "SELECT run_id, value FROM latest_metrics WHERE key = 'rmse' ORDER BY value"
    """
    if query == "-":
        query = sys.stdin.read()
    columns, rows = frame_rows(obj.client().sql(query))
    _emit(columns, rows, fmt, "rows")


@cli.command("compact")
@click.option(
    "--min-runs", type=click.IntRange(min=1), default=1, show_default=True,
    help="Skip experiments with fewer finished, uncompacted runs than this.",
)
@store_option
@pass_context
def compact_command(obj: _Context, min_runs: int) -> None:
    """Merge the files of finished runs into one Parquet part per experiment.

    Queries over many small files are slow; compaction makes them fast again. It is safe
    while other processes log and read. If another compaction holds the lock, this one
    waits for it.

    \b
    Example:
        tracker compact --min-runs 10
    """
    from tracker.store.compact import compact

    result = compact(obj.client(must_exist=True).store, wait_lock=True, min_runs=min_runs)
    if not result.files_written:
        click.echo(
            f"Nothing compacted in {result.seconds:.2f} s: no experiment had {min_runs} or more "
            "finished runs outside part files that could be read."
        )
        return
    click.echo(
        f"Compacted {result.runs} runs: read {result.files_read} files, "
        f"wrote {result.files_written}, deleted {result.files_deleted} "
        f"in {result.seconds:.2f} s."
    )


# Commands that live in their own modules (tracker/commands/*.py) are added here, one line each.
# Imported in a function: mypy cannot type a command imported at module level through the cycle.
def _add_commands() -> None:
    from tracker.commands.doctor import doctor_command
    from tracker.commands.gc import gc_command
    from tracker.commands.import_mlflow import import_mlflow_command
    from tracker.commands.models import models_group
    from tracker.commands.site import build_command, serve_command, ui_command
    from tracker.commands.summary import summary_command

    cli.add_command(models_group)
    cli.add_command(build_command)
    cli.add_command(serve_command)
    cli.add_command(ui_command)
    cli.add_command(doctor_command)
    cli.add_command(gc_command)
    cli.add_command(import_mlflow_command)
    cli.add_command(summary_command)


_add_commands()


def main() -> None:
    """Entry point of ``python -m tracker``."""
    cli(prog_name="tracker")
