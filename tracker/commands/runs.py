"""``tracker runs``: list, show, delete and restore the runs of a store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from tracker.commands._base import (
    DEAD,
    Context,
    emit,
    notice,
    output_options,
    pass_context,
    store_option,
    view_options,
)
from tracker.entities import RunStatus, ViewType
from tracker.output import duration, fit, json_default, plain, render, text, utc

if TYPE_CHECKING:
    import pandas as pd

    from tracker.client import TrackerClient
    from tracker.entities import Run


@click.group("runs")
def runs_group() -> None:
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
            notice(f"no listed run has {name}; its column is empty.")
    return list(requested)


@runs_group.command("list")
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
    help="Show these metrics./params./tags. columns (comma-separated or repeated) after "
    "the run's id, name, experiment, status, start and duration.",
)
@click.option(
    "--wide", is_flag=True,
    help="Every column (full ids, experiment, duration, all metrics and params), however wide.",
)
@view_options
@output_options
@store_option
@pass_context
def runs_list_command(
    obj: Context, experiment: tuple[str, ...], filter_string: str | None,
    order_by: tuple[str, ...], max_results: int | None, columns: tuple[str, ...], wide: bool,
    view: int, fmt: str,
) -> None:
    """List runs: id, name, status, start, the primary metric and the params that vary.

    The table fits the terminal: run ids are cut to 8 characters (any unique prefix of 6 or
    more works in other commands), the experiment shows when several are listed, then each
    listed experiment's primary metric ([tool.tracker.experiments."name"] primary = …, else
    the directed metric most of its runs have) and the params whose values differ between
    the runs, dropped from the right when the terminal is too narrow. --wide shows every
    column; --columns picks them. JSON and CSV always have every column.

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
    if fmt == "table" and not wide and not columns and len(frame):
        _emit_fitted(obj, frame, dead, names)
        return
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
    emit(header + data_columns, rows, fmt, "runs")


SHORT_ID = 8


def _emit_fitted(obj: Context, frame: pd.DataFrame, dead: set[str], names: dict[str, str]
                 ) -> None:
    """The default table of ``runs list``: the columns that tell runs apart, fitted to the
    terminal (#13: 38 columns were 783 characters wide)."""
    import shutil

    records = frame.to_dict("records")
    experiments = list(dict.fromkeys(str(r["experiment_id"]) for r in records))
    base = ["run_id", "run_name", *(["experiment"] if len(experiments) > 1 else []), "status",
            "start_time"]
    metrics = _primary_metrics(obj, frame, records, experiments, names)
    params = [c for c in frame.columns if str(c).startswith("params.")
              and len({text(r.get(c), table=True) for r in records}) > 1]
    # The params most runs have first: a sweep's trials before its parent's own settings.
    params.sort(key=lambda c: -sum(plain(r.get(c)) is not None for r in records))
    shown = [*metrics, *params]
    bare = [str(c).split(".", 1)[1] for c in shown]
    headers = [b if bare.count(b) == 1 and b not in base else c for b, c in zip(bare, shown)]
    rows = []
    for rec in records:
        run_id = str(rec["run_id"])
        rows.append([
            run_id[:SHORT_ID], rec.get("tags.mlflow.runName"),
            *([names.get(str(rec["experiment_id"]), rec["experiment_id"])]
              if len(experiments) > 1 else []),
            DEAD if run_id in dead else rec["status"], plain(rec["start_time"]),
            *(rec.get(c) for c in metrics), *(_short(rec.get(c)) for c in params),
        ])
    width = shutil.get_terminal_size((120, 24)).columns
    kept, fitted, dropped = fit([*base, *headers], rows, width,
                                keep=len(base) + len(metrics))
    click.echo(render(kept, fitted, "table"))
    if dropped:
        notice(f"{dropped} more param column{'s' if dropped > 1 else ''} hidden to fit "
                f"{width} characters; --wide shows every column, --columns picks them.")


def _short(param: Any) -> Any:
    """A param as a table shows it: a long decimal (0.13731149395940828) to 6 digits."""
    if isinstance(param, str) and len(param) > 8:
        try:
            number = float(param)
        except ValueError:
            return param
        return f"{number:.6g}" if "." in param and number == number else param
    return param


def _primary_metrics(obj: Context, frame: pd.DataFrame, records: list[dict[Any, Any]],
                     experiments: list[str], names: dict[str, str]) -> list[str]:
    """The ``metrics.*`` column of each listed experiment's primary metric (tracker.directions)."""
    directions = obj.config().directions
    metric_columns = [str(c) for c in frame.columns if str(c).startswith("metrics.")]
    out: list[str] = []
    for eid in experiments:
        runs_metrics = [
            [c[len("metrics."):] for c in metric_columns if plain(rec.get(c)) is not None]
            for rec in records
            if str(rec["experiment_id"]) == eid and rec["status"] == RunStatus.FINISHED
        ]
        key = directions.primary_metric(names.get(eid, eid), runs_metrics)
        if key and f"metrics.{key}" in metric_columns and f"metrics.{key}" not in out:
            out.append(f"metrics.{key}")
    return out


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


def _full_id(client: TrackerClient, run_id: str) -> str:
    """The whole id of RUN_ID, which may be a unique prefix of 6 or more characters."""
    from tracker.query.reads import resolve_run_id

    return resolve_run_id(client.query, run_id)


@runs_group.command("show")
@click.argument("run_id", metavar="RUN_ID")
@output_options
@store_option
@pass_context
def runs_show_command(obj: Context, run_id: str, fmt: str) -> None:
    """Show one run: info, params, latest metrics, tags, dataset inputs and artifacts.

    RUN_ID may be a unique prefix of 6 or more characters. --format json prints one JSON
    object with the keys info, params, metrics, tags, inputs and artifacts; --format csv
    prints section,key,value rows.

    \b
    Example:
        tracker runs show 3f2a9c0d --format json
    """
    client = obj.client()
    sections = _run_sections(client, client.get_run(_full_id(client, run_id)))
    if fmt == "json":
        click.echo(json.dumps(plain(sections), indent=2, default=json_default))
    elif fmt == "csv":
        click.echo(_show_csv(sections))
    else:
        click.echo(_show_table(sections))


@runs_group.command("delete")
@click.argument("run_id")
@store_option
@pass_context
def runs_delete_command(obj: Context, run_id: str) -> None:
    """Soft-delete a run: searches hide it; its files stay and `runs restore` brings it back.

    RUN_ID may be a unique prefix of 6 or more characters.

    \b
    Example:
        tracker runs delete 3f2a9c0d5e6b4a718293a4b5c6d7e8f9
    """
    client = obj.client()
    run_id = _full_id(client, run_id)
    client.delete_run(run_id)
    notice(f"deleted run {run_id}; undo with: tracker runs restore {run_id}")


@runs_group.command("restore")
@click.argument("run_id")
@store_option
@pass_context
def runs_restore_command(obj: Context, run_id: str) -> None:
    """Restore a deleted run, so searches show it again (`runs list --deleted` lists them).

    RUN_ID may be a unique prefix of 6 or more characters.

    \b
    Example:
        tracker runs restore 3f2a9c0d5e6b4a718293a4b5c6d7e8f9
    """
    client = obj.client()
    run_id = _full_id(client, run_id)
    client.restore_run(run_id)
    notice(f"restored run {run_id}")

