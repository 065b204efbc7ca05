"""``tracker report new NAME``: scaffold a Markdown report from the store (#17)."""

from __future__ import annotations

import click

from tracker.commands._base import Context, pass_context, store_option
from tracker.commands.site import config_option


@click.group("report")
def report_group() -> None:
    """Markdown reports: scaffold one from the store (``tracker build`` renders them).

    \b
    Example:
        tracker report new weekly-review
    """


@report_group.command("new")
@click.argument("name")
@click.option("--experiment", "-e", default=None, metavar="NAME",
              help="The experiment the report is about. [default: the one with the most runs]")
@click.option("--reports", default="reports", show_default=True,
              help="Folder of Markdown reports the new one is written to.")
@config_option
@store_option
@pass_context
def new_command(obj: Context, name: str, experiment: str | None, reports: str) -> None:
    """Write reports/NAME.md: front matter, the best runs, the primary metric over training and
    the champion model of an experiment (never over an existing file). ``tracker build``
    then renders it into site/reports/NAME.html.

    \b
    Example:
        tracker report new weekly-review --experiment nyc-taxi-experiment
    """
    from tracker.site.report_scaffold import new_report

    obj.client(must_exist=True)
    path, spec = new_report(obj.uri, name, reports, experiment=experiment, config=obj.config())
    chose = [f"experiment {spec.experiment!r} ({spec.runs} runs)"]
    chose.append(f"metric {spec.metric!r}" if spec.metric else "no directed metric (no chart)")
    chose.append(f"model {spec.champion.name!r}" if spec.champion else "no registered model")
    click.echo(f"Wrote {path}: {', '.join(chose)}. Edit it, then run `tracker build`.")
