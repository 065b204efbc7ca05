"""``tracker import-mlflow``: copy an MLflow store's experiments, runs and models into a store."""

from __future__ import annotations

import json

import click

from tracker.commands._base import Context, notice, pass_context, store_option


@click.command("import-mlflow")
@click.argument("uri")
@click.option(
    "--experiment",
    "experiments",
    multiple=True,
    metavar="NAME",
    help="Import only this experiment (and the model versions of its runs). Repeatable.",
)
@click.option(
    "--dry-run", is_flag=True, help="Read everything, print what would be imported, write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
@click.option(
    "--artifact-root", "artifact_roots", multiple=True, metavar="DIR",
    type=click.Path(exists=True, file_okay=False),
    help="Also copy artifacts found under this folder (MLflow's artifact root when it is "
    "outside the mlruns folder or the database's folder). Repeatable.",
)
@store_option
@pass_context
def import_mlflow_command(
    obj: Context, uri: str, experiments: tuple[str, ...], dry_run: bool, as_json: bool,
    artifact_roots: tuple[str, ...],
) -> None:
    """Import an MLflow store (URI: sqlite:///mlflow.db or an mlruns folder) into the store.

    MLflow need not be installed. Run ids, times, users, full metric histories, local
    artifacts and the model registry are kept. Running it again imports only what is new or
    changed in MLflow since. Artifacts are copied only from inside the MLflow store's folder
    or an --artifact-root; others are skipped with a warning.

    \b
    Example:
        tracker import-mlflow sqlite:///mlflow.db --store ./tracking
    """
    from tracker.client import TrackerClient
    from tracker.importers.mlflow import import_mlflow

    # Not obj.client(): a store that does not exist yet is the usual target, not a mistake.
    client = TrackerClient(obj.uri)
    summary = import_mlflow(uri, client, experiments or None, dry_run=dry_run,
                            artifact_roots=artifact_roots)
    for warning in summary.warnings:
        notice(f"warning: {warning}")
    if as_json:
        counts = {"source": summary.source, "dry_run": dry_run, **summary.counts()}
        click.echo(json.dumps(counts, sort_keys=True))
    else:
        click.echo(summary.text())
