"""``tracker gc``: delete temporary, superseded and stale files from a store."""

from __future__ import annotations

import click

from tracker.commands._base import Context, notice, pass_context, store_option
from tracker.output import render


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option(
    "--min-age",
    default="1h",
    show_default=True,
    metavar="DURATION",
    help="Leave temporary files, unreadable locks and empty folders younger than this "
    "(30m, 1h, 2d), so writes in progress are never touched.",
)
@store_option
@pass_context
def gc_command(obj: Context, dry_run: bool, min_age: str) -> None:
    """Delete what crashes and compaction leave behind: temporary files, files superseded by
    compaction, stale lock files and empty folders.

    Safe while other processes log, read and compact. Prints each path with its size in
    bytes and the total.

    \b
    Example:
        tracker gc --dry-run --min-age 2h
    """
    from tracker.ops.gc import gc, parse_duration

    result = gc(obj.client(must_exist=True).store, min_age=parse_duration(min_age), dry_run=dry_run)
    for note in result.notes:
        notice(note)
    if not result.items:
        click.echo("Nothing to delete.")
        return
    rows = [(item.kind, item.size, item.path) for item in result.items]
    click.echo(render(["kind", "bytes", "path"], rows, "table"))
    verb = "Would delete" if dry_run else "Deleted"
    count = len(result.items)
    click.echo(f"{verb} {count} path{'' if count == 1 else 's'}, {result.total_bytes} bytes.")
