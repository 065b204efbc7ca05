"""``tracker build``, ``tracker serve`` and ``tracker ui``: the static site of a store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracker.commands._base import Context, notice, pass_context, store_option

F = TypeVar("F", bound=Callable[..., Any])

_TITLE_HELP = "Site title. [default: the config's title, else Experiments]"


def config_option(func: F) -> F:
    """``--config PATH``: this config file instead of the one found from the current folder."""

    def use(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(Context).config_path = value

    return click.option(
        "--config", metavar="PATH", expose_value=False, callback=use,
        help="A tracker.toml or pyproject.toml to read instead of the nearest one.",
    )(func)


@click.command("build")
@click.option("--out", "-o", default="site", show_default=True, help="Output folder.")
@click.option("--reports", default=None, help="Folder of Markdown reports (default: ./reports if present).")
@click.option("--templates", default=None,
              help="Folder of templates overriding the default theme (default: ./site_templates if present).")
@click.option("--strict", is_flag=True, help="Fail on any warning (for CI).")
@click.option("--base-url", default=None,
              help="URL the site is published at: sitemap.xml lists every page under it (links stay relative). [default: the config's]")
@click.option("--title", default=None, help=_TITLE_HELP)
@click.option("--pdf", is_flag=True,
              help="Also print each report to a PDF next to its page (needs Chromium).")
@config_option
@store_option
@pass_context
def build_command(
    obj: Context, out: str, reports: str | None, templates: str | None, strict: bool,
    base_url: str | None, title: str | None, pdf: bool,
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

    def progress(done: int, total: int) -> None:  # total: 0 until the last call
        if total >= 500 or (not total and done >= 500):
            click.echo(f"rendered {done}/{total} pages" if total else f"rendered {done} pages",
                       err=True)

    config = obj.config()
    result = build(obj.uri, out, reports=reports, templates=templates, strict=strict,
                   base_url=config.base_url if base_url is None else base_url,
                   site_title=config.title if title is None else title, progress=progress,
                   config=config, pdf=pdf)
    for warning in result.warnings:
        notice(f"warning: {warning}")
    click.echo(
        f"Built {result.pages} pages into {result.out} in {result.seconds:.1f} s "
        f"({len(result.written)} files written, {result.unchanged} unchanged, "
        f"{len(result.removed)} removed)."
    )
    if pdf:
        click.echo(f"Printed {len(result.pdfs)} report PDF(s)"
                   + (f": {', '.join(result.pdfs)}." if result.pdfs else " (no reports)."))


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


def serve_options(*, mlflow_h: bool) -> Callable[[F], F]:
    """Options of ``tracker serve`` / ``tracker ui`` (MLflow's ``ui`` spellings included).

    ``-h`` is help on every command (#13) except ``tracker ui`` (``mlflow_h``), where it is
    ``--host`` as in ``mlflow ui -h 0.0.0.0``; ``tracker ui --help`` is its help.
    """
    host_names = ("--host", "-h") if mlflow_h else ("--host",)
    options: list[Callable[[Any], Any]] = [
        click.option("--out", "-o", default="site", show_default=True,
                     help="Folder the site is built into and served from."),
        click.option(*host_names, default="127.0.0.1", show_default=True,
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

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _serve(obj: Context, out: str, host: str, port: int, reports: str | None,
           templates: str | None, title: str | None, artifact_root: str | None) -> None:
    """What ``serve`` and ``ui`` do: build, serve, rebuild on changes until Ctrl-C."""
    import os

    from tracker.site.serve import serve

    if artifact_root is not None:
        notice("--default-artifact-root is ignored: artifacts are served from where the runs "
                "logged them.")
    reports = reports if reports is not None else ("reports" if os.path.isdir("reports") else None)
    templates = _project_templates(templates)
    obj.client(must_exist=True)

    def echo(line: str) -> None:
        click.echo(line, err=line.startswith(("warning:", "error:")))

    config = obj.config()
    serve(obj.uri, out, host=host, port=port, reports=reports, templates=templates,
          site_title=config.title if title is None else title, echo=echo, config=config)


@click.command("serve")
@serve_options(mlflow_h=False)
def serve_command(obj: Context, **options: Any) -> None:
    """Build the site, serve it on http://127.0.0.1:8000/ and rebuild it when runs are logged.

    The store, the reports and the templates are checked once a second; a change rebuilds
    only the pages it affects (refresh the browser to see it). Ctrl-C stops.

    \b
    Example:
        tracker serve --store ./tracking --port 8000
    """
    _serve(obj, **options)


@click.command("ui", context_settings={"help_option_names": ["--help"]})
@serve_options(mlflow_h=True)
def ui_command(obj: Context, **options: Any) -> None:
    """The same as `tracker serve`, under MLflow's name (`mlflow ui` options accepted).

    As in `mlflow ui`, -h is --host here (`tracker ui -h 0.0.0.0`); --help is the help.

    \b
    Example:
        tracker ui --backend-store-uri ./tracking -p 5000
    """
    _serve(obj, **options)
