"""``tracker models``: list registered models and their versions, promote and alias versions
(the registry calls a CI job makes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from tracker.commands._base import Context, emit, output_options, pass_context, store_option
from tracker.output import text, utc

if TYPE_CHECKING:
    from tracker.registry import RegistryEvent


@click.group("models")
def models_group() -> None:
    """Registered models: list, show, promote and alias versions (for CI).

    \b
    Example:
        tracker models promote nyc-taxi-duration 3 --stage Production --archive-existing
    """


def _aliases_text(aliases: dict[str, int] | list[str]) -> str:
    if isinstance(aliases, dict):
        return ", ".join(f"{a}=v{v}" for a, v in sorted(aliases.items()))
    return ", ".join(aliases)


@models_group.command("list")
@output_options
@store_option
@pass_context
def models_list_command(obj: Context, fmt: str) -> None:
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
    emit(columns, rows, fmt, "registered models")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@models_group.command("show")
@click.argument("name")
@click.option("--history", is_flag=True, help="List every registry event instead of versions.")
@output_options
@store_option
@pass_context
def models_show_command(obj: Context, name: str, history: bool, fmt: str) -> None:
    """Show a model's versions (stage, aliases, run, description) or its full history.

    --history prints one line per registry event: time (UTC), user, what changed and, in
    parentheses, the reason given; --format json/csv add the raw event fields.

    \b
    Example:
        tracker models show nyc-taxi-duration --history
    """
    client = obj.client()
    if history:
        _history(client.get_model_history(name), fmt)
        return
    client.get_registered_model(name)  # a clear error for an unknown name
    versions = client.search_model_versions(f"name = '{_quote(name)}'", order_by=["version"])
    rows = [(v.version, v.current_stage, _aliases_text(v.aliases), v.run_id,
             utc(v.creation_timestamp), v.user_id, v.description, v.source) for v in versions]
    columns = ["version", "stage", "aliases", "run_id", "created", "user", "description",
               "source"]
    emit(columns, rows, fmt, "versions")


def _history(events: Sequence[RegistryEvent], fmt: str) -> None:
    """One readable line per event in a table (#13); every field, and the line, in JSON/CSV."""
    from tracker.site.pages.registry import _event_text  # the site's history wording

    lines = [_event_text(e) for e in events]
    if fmt != "table":
        rows = [(utc(e.timestamp), e.user, e.event, e.version, e.key, e.value, e.reason, line)
                for e, line in zip(events, lines)]
        columns = ["time", "user", "event", "version", "key", "value", "reason", "text"]
        emit(columns, rows, fmt, "events")
        return
    if not events:
        emit([], [], fmt, "events")
        return
    width = max(len(e.user or "") for e in events)
    for event, line in zip(events, lines):
        when = text(utc(event.timestamp), table=True)
        why = f"  ({text(event.reason, table=True)})" if event.reason else ""
        click.echo(f"{when}  {(event.user or '').ljust(width)}  {text(line, table=True)}{why}")


@models_group.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--stage", required=True, help="Staging, Production, Archived or None.")
@click.option("--archive-existing", is_flag=True,
              help="Archive the versions now in that stage (Staging/Production only).")
@click.option("--reason", default=None, help="Why: kept in the model's history.")
@store_option
@pass_context
def models_promote_command(
    obj: Context, name: str, version: str, stage: str, archive_existing: bool,
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


@models_group.command("alias")
@click.argument("name")
@click.argument("version")
@click.argument("alias")
@click.option("--delete", is_flag=True, help="Remove the alias instead (VERSION is ignored).")
@click.option("--reason", default=None, help="Why: kept in the model's history.")
@store_option
@pass_context
def models_alias_command(
    obj: Context, name: str, version: str, alias: str, delete: bool, reason: str | None
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
