"""Progress of long work: hyperopt's live bar on a terminal, one summary line per interval in a
CI log (#13: carriage-return updates flooded the logs).

``interactive()`` decides: a terminal on stderr and no ``CI`` variable. ``Ticker`` prints the
summary lines: the first update, then at most one per ``TRACKER_PROGRESS_SECONDS`` (default
10), then the final one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Ticker", "interactive", "interval"]

DEFAULT_SECONDS = 10.0
ENV_SECONDS = "TRACKER_PROGRESS_SECONDS"


def interactive(stream: TextIO | None = None) -> bool:
    """Whether a live progress bar suits ``stream`` (stderr): a terminal, and not CI
    (``CI=true``, as GitHub Actions, GitLab and most CI services set it)."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def interval() -> float:
    """Seconds between summary lines: ``TRACKER_PROGRESS_SECONDS``, else 10."""
    raw = os.environ.get(ENV_SECONDS, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_SECONDS
    except ValueError:
        return DEFAULT_SECONDS


class Ticker:
    """Summary lines for a log: the first update, then one per interval, then the last.

    Args:
        label: the prefix of each line (``tracker.hyperopt``).
        total: how many steps the work has, if known (for the caller's lines).
        every: seconds between lines (default: ``interval()``).
        stream: where lines go (default: stderr at the time of writing).
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(self, label: str, *, total: int | None = None, every: float | None = None,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.label = label
        self.total = total
        self.every = interval() if every is None else every
        self.stream = stream
        self.clock = clock
        self.started = clock()
        self._last: float | None = None
        self.lines = 0

    def elapsed(self) -> float:
        return self.clock() - self.started

    def update(self, text: str, *, final: bool = False) -> None:
        """Print ``label: text`` if this is the first or the final update, or an interval
        has passed since the last line."""
        now = self.clock()
        if not final and self._last is not None and now - self._last < self.every:
            return
        self._last = now
        stream = sys.stderr if self.stream is None else self.stream
        print(f"{self.label}: {text}", file=stream, flush=True)
        self.lines += 1
