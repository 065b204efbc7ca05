"""The ``tracker`` command line: list, inspect and maintain a store without writing Python.

One click group. Each command parses its options, calls the library (``TrackerClient``, the
query layer, ``compact``) and prints the result: data on stdout, notices on stderr. Library
errors (``TrackerError``) become one-line ``Error: …`` messages with exit code 1. DuckDB and
pandas are imported inside command bodies, so ``tracker --help`` stays fast.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from tracker.client import TrackerClient
from tracker.config import TrackerConfig, load_config
from tracker.entities import ViewType
from tracker.exceptions import TrackerError
from tracker.output import frame_rows, render, utc

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

    def client(self, *, must_exist: bool = True) -> TrackerClient:
        """The client of the store. A missing store folder is an error (a ``--store`` typo must
        not pass in CI, #13), or only a notice with ``must_exist=False`` (commands that write)."""
        if self._client is None:
            self._client = TrackerClient(self.uri)
            if not self._client.store.fs.exists(""):
                where = self._client.store.fs.root
                if must_exist:
                    raise click.ClickException(
                        f"No store at {where} (from {self.uri!r}): check --store or "
                        "TRACKER_TRACKING_URI, or log a run there first."
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


# ``-h`` is help everywhere (#13); ``tracker ui`` alone keeps MLflow's ``-h HOST``.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


@click.group(cls=_Group, context_settings=HELP_OPTIONS)
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



# -- SQL and maintenance ----------------------------------------------------------------------


@cli.command("sql")
@click.argument("query")
@output_options
@store_option
@pass_context
def sql_command(obj: _Context, query: str, fmt: str) -> None:
    """Run a SQL query (DuckDB dialect) over the store's tables and print the result.

    Tables: experiments, experiment_tags, runs, params, metrics (every point),
    latest_metrics, tags, artifacts, inputs. params, tags, metrics and latest_metrics name
    each row's run and experiment (run_name, experiment_name). Times are milliseconds since
    the epoch; runs.start_at/end_at and logged_at (metrics) are TIMESTAMP WITH TIME ZONE, in
    UTC. Give - as QUERY to read it from stdin.

    \b
    Example:
        tracker sql "SELECT run_name, value FROM latest_metrics WHERE key = 'rmse' ORDER BY value"
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
    from tracker.commands.report import report_group
    from tracker.commands.runs import runs_group
    from tracker.commands.site import build_command, serve_command, ui_command
    from tracker.commands.summary import summary_command

    cli.add_command(runs_group)
    cli.add_command(models_group)
    cli.add_command(build_command)
    cli.add_command(serve_command)
    cli.add_command(ui_command)
    cli.add_command(doctor_command)
    cli.add_command(gc_command)
    cli.add_command(import_mlflow_command)
    cli.add_command(summary_command)
    cli.add_command(report_group)


_add_commands()


def main() -> None:
    """Entry point of ``python -m tracker``."""
    cli(prog_name="tracker")
