"""``tracker doctor``: check a store, say what to do about each finding, fix what is safe."""

from __future__ import annotations

import click

from tracker.commands._base import Context, pass_context, store_option
from tracker.output import render


@click.command("doctor")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--fix",
    "apply_fix",
    is_flag=True,
    help="Resolve registry version conflicts and write a missing format marker, then check again.",
)
@store_option
@pass_context
def doctor_command(obj: Context, fmt: str, apply_fix: bool) -> None:
    """Check a store: unreadable or too new files, the format marker, runs left RUNNING by a
    dead process, garbage for tracker gc, registry version conflicts after a git merge.

    Each finding says what to do. Exits with status 1 when there is an error (for CI), 0
    with only warnings and notes.

    \b
    Example:
        tracker doctor --format json
    """
    from tracker.ops.doctor import diagnose, fix, has_errors

    client = obj.client(must_exist=True)
    if apply_fix:
        for line in fix(client):
            click.echo(f"fixed: {line}", err=True)
        client = type(client)(obj.uri)  # a fresh client: state re-read from the store
    findings = diagnose(client, obj.config())
    rows = [(f.severity, f.check, f.subject, f.message, f.fix) for f in findings]
    if fmt == "json":
        click.echo(render(["severity", "check", "subject", "message", "fix"], rows, "json"))
    elif not findings:
        click.echo("No problems found.")
    else:
        for f in findings:
            click.echo(f"{f.severity.upper()} [{f.check}] {f.subject}: {f.message}\n  fix: {f.fix}")
    if has_errors(findings):
        click.get_current_context().exit(1)
