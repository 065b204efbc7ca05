"""What the ``tracker`` group and every command share: the context object (store URI, config,
client), the error boundary, ``--store`` and output options, and how notices and tables are
printed. ``tracker/cli.py`` and each ``tracker/commands/*`` module import it; it imports neither,
so the CLI has no import cycle (#13).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from tracker.client import TrackerClient
from tracker.config import TrackerConfig, load_config
from tracker.entities import ViewType
from tracker.exceptions import TrackerError
from tracker.output import render

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("table", "json", "csv")
ENV_VARS = ["TRACKER_TRACKING_URI", "MLFLOW_TRACKING_URI"]
DEFAULT_STORE = "./tracking"
DEAD = "DEAD"

# -- the group's error boundary ---------------------------------------------------------


class Group(click.Group):
    """A click group that turns library errors into one-line ``click.ClickException``s."""

    group_class = type  # sub-groups are Group too

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            raise click.ClickException(one_line(str(exc))) from exc


def one_line(message: str) -> str:
    """A multi-line message (DuckDB's caret diagrams) folded into one line."""
    parts = [re.sub(r"^\^+", "", line.strip()).strip() for line in message.splitlines()]
    text = " ".join(p for p in parts if p)
    return re.sub(r"\s+([.,;:])(?=\s|$)", r"\1", text)


class Context:
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
                notice(f"no store at {where} yet; check --store or TRACKER_TRACKING_URI.")
        return self._client


pass_context = click.make_pass_decorator(Context)

STORE_NAMES = ("--store", "--tracking-uri", "--backend-store-uri")
STORE_HELP = (
    "The store: a folder, file:///abs/path, s3://bucket/prefix, or sqlite:///x.db (mapped to a "
    "folder)."
)


def store_option(func: F) -> F:
    """``--store`` after the command too (``tracker runs list --store DIR``); this one wins."""

    def use(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(Context).uri = value

    return click.option(
        *STORE_NAMES, metavar="URI", expose_value=False, callback=use,
        help=STORE_HELP + " Overrides the one given before the command.",
    )(func)


def notice(message: str) -> None:
    click.echo(f"tracker: {message}", err=True)


# ``-h`` is help everywhere (#13); ``tracker ui`` alone keeps MLflow's ``-h HOST``.
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


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


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, what: str) -> None:
    if not rows and fmt == "table":
        notice(f"no {what}.")
        return
    click.echo(render(columns, rows, fmt))
