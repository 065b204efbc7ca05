"""``make demo``: train the NYC-taxi example into a fresh demo store, build the site, say how to open it.

Run from the repository root with the venv's Python (the Makefile does)::

    .venv/bin/python scripts/demo.py [--store tracking] [--site site] [-- EXAMPLE OPTIONS]

Each step prints one line when it starts and one with its time when it ends (#13: the demo was
silent for a minute and a half). The store is the demo's own: the folder gets a marker file, and
the next run deletes a marked store and starts again, so re-running does not double the runs or
register an identical second version into Production. A store without the marker holds runs the
demo did not make: the script stops and says what to do rather than delete or add to them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

MARKER = ".made-by-make-demo"


class DemoError(Exception):
    """A reason to stop before training (the message says what to do)."""


def prepare_store(store: Path) -> str:
    """Make ``store`` ready for a fresh demo; the line that says what was done.

    Raises:
        DemoError: ``store`` exists and is not a store the demo made.
    """
    if not store.exists():
        return f"new demo store {store}"
    if (store / MARKER).is_file():
        shutil.rmtree(store)
        return f"deleted the previous demo store {store} (made by make demo), starting afresh"
    if store.is_dir() and not any(store.iterdir()):
        return f"demo store {store} (an empty folder)"
    raise DemoError(
        f"{store} exists and was not made by make demo (it has no {MARKER} file): it may hold "
        f"your own runs, so the demo neither deletes nor adds to them. Move it away "
        f"(mv {store} {store}.mine), delete it if it is an old demo store (rm -rf {store}), or "
        f"put the demo elsewhere: make demo DEMO_STORE=demo-tracking"
    )


def open_lines(store: Path, site: Path, tracker: str) -> list[str]:
    """How to open the built site: the serve command with its URL, and the file path."""
    store_option = "" if str(store) == "tracking" else f" --store {store}"
    site_option = "" if str(site) == "site" else f" --out {site}"
    return [
        "Open the site:",
        f"  {tracker} serve{store_option}{site_option}",
        "      then http://127.0.0.1:8000/ (rebuilds as runs are logged; Ctrl-C stops)",
        f"  or open {site.resolve() / 'index.html'} in a browser (no server needed)",
    ] + ([
        "",
        f"`tracker` is in {Path(tracker).parent}: `source {Path(tracker).parent / 'activate'}` "
        "puts it on your PATH.",
    ] if " " not in tracker else [])


def _tracker_shown() -> str:
    """How to tell a user to run the CLI: ``.venv/bin/tracker`` from the repository root."""
    script = Path(sys.executable).parent / "tracker"
    if not script.is_file():
        return f"{sys.executable} -m tracker"
    relative = os.path.relpath(script)
    return str(script) if relative.startswith("..") else relative


def _step(number: int, total: int, title: str, command: Sequence[str]) -> None:
    """Run one step, with a line before and a line with its time after."""
    print(f"==> [{number}/{total}] {title}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(list(command), check=False)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise DemoError(f"step {number} ({title}) failed after {seconds:.1f} s "
                        f"(exit code {result.returncode}); see its output above.")
    print(f"==> [{number}/{total}] done in {seconds:.1f} s", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Train, build, print how to open the site; the exit code."""
    parser = argparse.ArgumentParser(prog="scripts/demo.py", description=__doc__.split("\n")[0])
    parser.add_argument("--store", default="tracking", help="the demo store (default: tracking)")
    parser.add_argument("--site", default="site", help="where the site is built (default: site)")
    parser.add_argument("example", nargs="*", help="options for python -m examples.nyc_taxi")
    args = parser.parse_args(argv)
    store, site = Path(args.store), Path(args.site)
    shown = _tracker_shown()
    started = time.perf_counter()
    try:
        print(f"==> {prepare_store(store)}", flush=True)
        # Marked before training, so a demo stopped half-way (Ctrl-C) is still the demo's.
        store.mkdir(parents=True, exist_ok=True)
        (store / MARKER).write_text(
            "This store was made by `make demo`, which deletes it and starts again when it is "
            "run again. Delete this file to keep the store.\n", encoding="utf-8")
        _step(1, 2, f"training the NYC-taxi example into {store} (about a minute)",
              [sys.executable, "-m", "examples.nyc_taxi", "--store", str(store), *args.example])
        _step(2, 2, f"building the site into {site}: tracker build --strict",
              [sys.executable, "-m", "tracker", "--store", str(store), "build", "--out",
               str(site), "--strict"])
    except DemoError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 1
    print(f"\nThe demo took {time.perf_counter() - started:.0f} s.")
    print("\n".join(open_lines(store, site, shown)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
