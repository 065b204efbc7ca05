"""``tracker summary``: the new and changed runs since a baseline, for a terminal or a PR."""

from __future__ import annotations

import os

import click

from tracker.commands._base import Context, store_option

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@click.command("summary")
@click.option(
    "--baseline",
    default="main",
    show_default=True,
    metavar="REF_OR_PATH",
    help="A git ref of the repository the store is in (its store as of that commit), or the "
    "folder of a store snapshot (an existing folder wins over a ref of that name).",
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="KEY",
    help="Compare only this metric (repeatable); all metrics by default.",
)
@click.option("--markdown", is_flag=True, help="GitHub-flavoured Markdown instead of plain text.")
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"Write the report to this file instead of stdout; without it, ${STEP_SUMMARY} (when "
    "set, as in GitHub Actions) also gets the Markdown report appended.",
)
@click.option(
    "--site-url",
    default=None,
    metavar="URL",
    help="The published site: names link to their experiment and run pages.",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit with code 3 when a metric's best is worse than the baseline's best.",
)
@store_option
@click.pass_obj
def summary_command(
    obj: Context,
    baseline: str,
    metrics: tuple[str, ...],
    markdown: bool,
    output: str | None,
    site_url: str | None,
    fail_on_regression: bool,
) -> None:
    """Summarize the runs that are new or changed since a baseline, per experiment.

    Each metric's best among the new FINISHED runs is compared with the baseline's best
    (the project's [tool.tracker.metrics] rules, else lower is better for losses and errors,
    higher for accuracies and scores; counters such as best_iteration get no verdict): a new
    best is an improvement, a worse best a regression. The project's publish rules apply as on
    the site ([tool.tracker.experiments] and [tool.tracker.redact]): hidden experiments are left
    out; run and experiment names, param keys and values and metric keys are redacted.

    \b
    Example:
        tracker summary --baseline origin/main --markdown --site-url https://me.github.io/proj/
    """
    from tracker.site.publish import PublishRules
    from tracker.summary import exit_code, summary, to_markdown, to_text

    obj.client(must_exist=True)
    config = obj.config()
    rules = PublishRules.from_config(config)  # the site's rules: one redactor (#15)
    redact = rules.redactor.redact_value
    result = summary(obj.uri, baseline, metrics=metrics, directions=config.directions,
                     publish=rules)
    for warning in result.warnings:
        click.echo(f"tracker: warning: {warning}", err=True)
    report = (to_markdown if markdown else to_text)(result, site_url=site_url, redact=redact)
    if output is not None:
        with open(output, "w", encoding="utf-8") as f:
            f.write(report)
    else:
        click.echo(report, nl=False)
        step_summary = os.environ.get(STEP_SUMMARY)
        if step_summary:
            text = report if markdown else to_markdown(result, site_url=site_url, redact=redact)
            with open(step_summary, "a", encoding="utf-8") as f:
                f.write(text)
    code = exit_code(result, fail_on_regression)
    if code:
        click.echo(
            f"tracker: {len(result.regressions)} regression(s) since {result.baseline}.", err=True
        )
        click.get_current_context().exit(code)
