"""The ``tracker`` command line: list, inspect and maintain a store without writing Python.

One click group. Each command parses its options, calls the library (``TrackerClient``, the
query layer, ``compact``) and prints the result: data on stdout, notices on stderr. Library
errors (``TrackerError``) become one-line ``Error: …`` messages with exit code 1. DuckDB and
pandas are imported inside command bodies, so ``tracker --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import os
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
        """The config's ``[s3]`` endpoint and region, unless the environment names them."""
        settings = self.config().s3
        options: dict[str, str] = {}
        if settings.endpoint_url and not (
            os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        ):
            options["endpoint_url"] = settings.endpoint_url
        if settings.region and not (
            os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        ):
            options["region"] = settings.region
        if options:
            from tracker.store.s3 import configure

            configure(**options)

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


# -- model registry ---------------------------------------------------------------------------


@cli.group()
def models() -> None:
    """Registered models: list, show, promote and alias versions (for CI).

    \b
    Example:
        tracker models promote nyc-taxi-duration 3 --stage Production --archive-existing
    """


def _aliases_text(aliases: dict[str, int] | list[str]) -> str:
    if isinstance(aliases, dict):
        return ", ".join(f"{a}=v{v}" for a, v in sorted(aliases.items()))
    return ", ".join(aliases)


@models.command("list")
@output_options
@store_option
@pass_context
def models_list_command(obj: _Context, fmt: str) -> None:
    """List registered models with their versions in Production and Staging and their aliases.

    \b
    Example:
        tracker models list --format json
    """
    client = obj.client()
    rows = []
    for model in client.search_registered_models(order_by=["name"]):
        versions = client.search_model_versions(f"name = '{_quote(model.name)}'")
        by_stage = {v.current_stage: v.version for v in model.latest_versions}
        rows.append((
            model.name, len(versions), max((v.version for v in versions), default=None),
            by_stage.get("Production"), by_stage.get("Staging"), _aliases_text(model.aliases),
            utc(model.last_updated_timestamp), model.description,
        ))
    columns = ["name", "versions", "latest", "production", "staging", "aliases", "updated",
               "description"]
    _emit(columns, rows, fmt, "registered models")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@models.command("show")
@click.argument("name")
@click.option("--history", is_flag=True, help="List every registry event instead of versions.")
@output_options
@store_option
@pass_context
def models_show_command(obj: _Context, name: str, history: bool, fmt: str) -> None:
    """Show a model's versions (stage, aliases, run, description) or its full history.

    \b
    Example:
        tracker models show nyc-taxi-duration --history
    """
    client = obj.client()
    if history:
        events = client.get_model_history(name)
        history_rows = [(utc(e.timestamp), e.user, e.event, e.version, e.key, e.value, e.reason)
                        for e in events]
        columns = ["time", "user", "event", "version", "key", "value", "reason"]
        _emit(columns, history_rows, fmt, "events")
        return
    client.get_registered_model(name)  # a clear error for an unknown name
    versions = client.search_model_versions(f"name = '{_quote(name)}'", order_by=["version"])
    rows = [(v.version, v.current_stage, _aliases_text(v.aliases), v.run_id,
             utc(v.creation_timestamp), v.user_id, v.description, v.source) for v in versions]
    columns = ["version", "stage", "aliases", "run_id", "created", "user", "description",
               "source"]
    _emit(columns, rows, fmt, "versions")


@models.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--stage", required=True, help="Staging, Production, Archived or None.")
@click.option("--archive-existing", is_flag=True,
              help="Archive the versions now in that stage (Staging/Production only).")
@click.option("--reason", default=None, help="Why: kept in the model's history.")
@store_option
@pass_context
def models_promote_command(
    obj: _Context, name: str, version: str, stage: str, archive_existing: bool,
    reason: str | None,
) -> None:
    """Move a model version to a stage.

    \b
    Example:
        tracker models promote nyc-taxi-duration 3 --stage Production --archive-existing
    """
    mv = obj.client().transition_model_version_stage(
        name, version, stage, archive_existing_versions=archive_existing, reason=reason
    )
    click.echo(f"{mv.name} version {mv.version} is now in {mv.current_stage}")


@models.command("alias")
@click.argument("name")
@click.argument("version")
@click.argument("alias")
@click.option("--delete", is_flag=True, help="Remove the alias instead (VERSION is ignored).")
@click.option("--reason", default=None, help="Why: kept in the model's history.")
@store_option
@pass_context
def models_alias_command(
    obj: _Context, name: str, version: str, alias: str, delete: bool, reason: str | None
) -> None:
    """Point an alias (e.g. champion) at a model version, or remove it with --delete.

    \b
    Example:
        tracker models alias nyc-taxi-duration 3 champion
    """
    client = obj.client()
    if delete:
        client.delete_registered_model_alias(name, alias, reason=reason)
        click.echo(f"removed alias {alias!r} of {name}")
        return
    client.set_registered_model_alias(name, alias, version, reason=reason)
    click.echo(f"{name}@{alias} -> version {client.get_model_version_by_alias(name, alias).version}")


# -- the site ---------------------------------------------------------------------------------

_TITLE_HELP = "Site title. [default: the config's title, else Experiments]"


def config_option(func: F) -> F:
    """``--config PATH``: this config file instead of the one found from the current folder."""

    def use(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(_Context).config_path = value

    return click.option(
        "--config", metavar="PATH", expose_value=False, callback=use,
        help="A tracker.toml or pyproject.toml to read instead of the nearest one.",
    )(func)


@cli.command("build")
@click.option("--out", "-o", default="site", show_default=True, help="Output folder.")
@click.option("--reports", default=None, help="Folder of Markdown reports (default: ./reports if present).")
@click.option("--templates", default=None,
              help="Folder of templates overriding the default theme (default: ./site_templates if present).")
@click.option("--strict", is_flag=True, help="Fail on any warning (for CI).")
@click.option("--base-url", default=None,
              help="URL the site is published at: sitemap.xml lists every page under it (links stay relative). [default: the config's]")
@click.option("--title", default=None, help=_TITLE_HELP)
@config_option
@store_option
@pass_context
def build_command(
    obj: _Context, out: str, reports: str | None, templates: str | None, strict: bool,
    base_url: str | None, title: str | None,
) -> None:
    """Build the static site of the store into a folder (open index.html, or publish it).

    The title, base URL, store, published experiments, redaction and artifact rules come from
    the project's config ([tool.tracker] in pyproject.toml, or tracker.toml); options win.

    \b
    Example:
        tracker build --out site --strict
    """
    import os

    from tracker.site.build import build

    reports = reports if reports is not None else ("reports" if os.path.isdir("reports") else None)
    templates = _project_templates(templates)
    obj.client(must_exist=True)

    def progress(done: int, total: int) -> None:
        if total >= 500:
            click.echo(f"rendered {done}/{total} pages", err=True)

    config = obj.config()
    result = build(obj.uri, out, reports=reports, templates=templates, strict=strict,
                   base_url=config.base_url if base_url is None else base_url,
                   site_title=config.title if title is None else title, progress=progress,
                   config=config)
    for warning in result.warnings:
        _notice(f"warning: {warning}")
    click.echo(
        f"Built {result.pages} pages into {result.out} in {result.seconds:.1f} s "
        f"({len(result.written)} files written, {result.unchanged} unchanged, "
        f"{len(result.removed)} removed)."
    )


def _project_templates(templates: str | None) -> str | None:
    """``--templates``, else ./site_templates when it is a project's own overrides (and not the
    default theme of a tracker checkout)."""
    import os

    from tracker.site.render import default_theme

    if templates is None and os.path.isdir("site_templates") and (
        os.path.realpath("site_templates") != os.path.realpath(default_theme())
    ):
        return "site_templates"
    return templates


def serve_options(func: F) -> F:
    """Options of ``tracker serve`` / ``tracker ui`` (MLflow's ``ui`` spellings included)."""
    options: list[Callable[[Any], Any]] = [
        click.option("--out", "-o", default="site", show_default=True,
                     help="Folder the site is built into and served from."),
        click.option("--host", "-h", default="127.0.0.1", show_default=True,
                     help="Address to listen on (keep 127.0.0.1 unless you mean to share)."),
        click.option("--port", "-p", type=click.IntRange(0, 65535), default=8000,
                     show_default=True, help="Port to listen on (0: any free port)."),
        click.option("--reports", default=None,
                     help="Folder of Markdown reports, watched (default: ./reports if present)."),
        click.option("--templates", default=None,
                     help="Folder of templates overriding the default theme, watched "
                          "(default: ./site_templates if present)."),
        click.option("--title", default=None, help=_TITLE_HELP),
        click.option("--default-artifact-root", "artifact_root", default=None, metavar="URI",
                     help="Accepted for MLflow compatibility and ignored: artifacts stay where "
                          "the runs logged them."),
        config_option,
        store_option,
        pass_context,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _serve(obj: _Context, out: str, host: str, port: int, reports: str | None,
           templates: str | None, title: str | None, artifact_root: str | None) -> None:
    """What ``serve`` and ``ui`` do: build, serve, rebuild on changes until Ctrl-C."""
    import os

    from tracker.site.serve import serve

    if artifact_root is not None:
        _notice("--default-artifact-root is ignored: artifacts are served from where the runs "
                "logged them.")
    reports = reports if reports is not None else ("reports" if os.path.isdir("reports") else None)
    templates = _project_templates(templates)
    obj.client(must_exist=True)

    def echo(line: str) -> None:
        click.echo(line, err=line.startswith(("warning:", "error:")))

    config = obj.config()
    serve(obj.uri, out, host=host, port=port, reports=reports, templates=templates,
          site_title=config.title if title is None else title, echo=echo, config=config)


@cli.command("serve")
@serve_options
def serve_command(obj: _Context, **options: Any) -> None:
    """Build the site, serve it on http://127.0.0.1:8000/ and rebuild it when runs are logged.

    The store, the reports and the templates are checked once a second; a change rebuilds
    only the pages it affects (refresh the browser to see it). Ctrl-C stops.

    \b
    Example:
        tracker serve --store ./tracking --port 8000
    """
    _serve(obj, **options)


@cli.command("ui")
@serve_options
def ui_command(obj: _Context, **options: Any) -> None:
    """The same as `tracker serve`, under MLflow's name (`mlflow ui` options accepted).

    \b
    Example:
        tracker ui --backend-store-uri ./tracking -p 5000
    """
    _serve(obj, **options)


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
    from tracker.commands.summary import summary_command

    cli.add_command(doctor_command)
    cli.add_command(gc_command)
    cli.add_command(import_mlflow_command)
    cli.add_command(summary_command)


_add_commands()


def main() -> None:
    """Entry point of ``python -m tracker``."""
    cli(prog_name="tracker")
