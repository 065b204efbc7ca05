"""The ``tracker`` command line: list, inspect and maintain a store without writing Python.

One click group. Each command parses its options, calls the library (``TrackerClient``, the
query layer, ``compact``) and prints the result: data on stdout, notices on stderr. Library
errors (``TrackerError``) become one-line ``Error: …`` messages with exit code 1. DuckDB and
pandas are imported inside command bodies, so ``tracker --help`` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from tracker.commands._base import (
    DEFAULT_STORE,
    ENV_VARS,
    HELP_OPTIONS,
    STORE_HELP,
    STORE_NAMES,
    Context,
    Group,
    emit,
    output_options,
    pass_context,
    store_option,
    view_options,
)
from tracker.commands.doctor import doctor_command
from tracker.commands.gc import gc_command
from tracker.commands.import_mlflow import import_mlflow_command
from tracker.commands.models import models_group
from tracker.commands.report import report_group
from tracker.commands.runs import runs_group
from tracker.commands.site import build_command, serve_command, ui_command
from tracker.commands.summary import summary_command
from tracker.output import frame_rows, utc

__all__ = ["cli"]


@click.group(cls=Group, context_settings=HELP_OPTIONS)
@click.option(
    *STORE_NAMES, "store", envvar=ENV_VARS, default=None, show_envvar=True, metavar="URI",
    help=STORE_HELP + f" [default: the config's store, else {DEFAULT_STORE}]",
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
    ctx.obj = Context(store)


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
def experiments_list_command(obj: Context, view: int, fmt: str) -> None:
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
    emit([*columns, "last_activity"], rows, fmt, "experiments")



# -- SQL and maintenance ----------------------------------------------------------------------


@cli.command("sql")
@click.argument("query")
@output_options
@store_option
@pass_context
def sql_command(obj: Context, query: str, fmt: str) -> None:
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
    emit(columns, rows, fmt, "rows")


@cli.command("compact")
@click.option(
    "--min-runs", type=click.IntRange(min=1), default=1, show_default=True,
    help="Skip experiments with fewer finished, uncompacted runs than this.",
)
@store_option
@pass_context
def compact_command(obj: Context, min_runs: int) -> None:
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


def main() -> None:
    """Entry point of ``python -m tracker``."""
    cli(prog_name="tracker")
