"""The compaction lock: who holds it, whether they are still alive, and taking it over when not.

A lock is one small JSON file under ``.locks/``, published only if absent (``os.link`` in a
folder, a conditional PUT on S3), that says who holds it::

    {"host": "…", "pid": 123, "started": 1733350000.1, "heartbeat": 1733350020.4,
     "token": "<32 hex digits>", "time": <= heartbeat, for trackers before #19>}

While it holds the lock, a thread of the holder rewrites ``heartbeat`` every
``LOCK_HEARTBEAT_SECONDS``. The holder is gone, and the lock is taken over at once with a notice,
when it ran on this machine and its process has exited; or, wherever it ran, when its heartbeat
is more than ``LOCK_TIMEOUT_SECONDS`` old by this machine's clock, or has not changed for that
long while a waiter watched it (so a holder whose clock runs ahead cannot keep a dead lock).

Taking over is itself exclusive: a waiter first creates ``<lock>.<token>.takeover`` (if absent),
so among several waiters only one removes the dead holder's lock; it then re-reads the lock and
removes it only if it still carries the dead holder's token, and deletes the takeover file once
a live lock is in place. ``tracker gc`` removes takeover files a crash left.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracker.exceptions import InvalidArgumentError
from tracker.store.store import LOCKS, local_owner, pid_alive

if TYPE_CHECKING:
    from tracker.store.fs import StoreFS
    from tracker.store.store import Store

log = logging.getLogger("tracker.store")

LOCK_HEARTBEAT_SECONDS = 10.0  # how often a holder proves it is alive
LOCK_TIMEOUT_SECONDS = 60.0  # no heartbeat for this long: the holder is gone (any machine)
LOCK_WAIT_SECONDS = 600.0  # how long ``acquire(wait=True)`` waits for a live holder
TAKEOVER_SUFFIX = ".takeover"
_POLL_SECONDS = 0.2
_TOKEN = re.compile(r"^[0-9a-f]{1,64}$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_held_here: set[str] = set()  # tokens of the locks this process holds


@dataclass(frozen=True)
class LockInfo:
    """What a lock file says about its holder (``readable`` False: the file is not valid JSON)."""

    host: str
    pid: int
    started: float
    heartbeat: float
    token: str
    readable: bool = True

    def describe(self) -> str:
        if not self.readable:
            return "an unreadable lock file"
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        return f"process {self.pid} on {self.host}, holding it since {since}"


def read_lock(fs: StoreFS, path: str) -> LockInfo | None:
    """The holder recorded in the lock file at ``path``; None when there is no lock."""
    try:
        raw = fs.read_bytes(path)
    except FileNotFoundError:
        return None
    fallback = hashlib.sha1(raw).hexdigest()[:32]  # names an old or unreadable lock's takeover
    try:
        body = json.loads(raw)
        host, pid = str(body["host"]), int(body["pid"])
        # Locks written before #19 carry only "time" (when they were taken).
        started = float(body.get("started", body["time"]))
        heartbeat = float(body.get("heartbeat", body["time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return LockInfo("", 0, 0.0, 0.0, fallback, readable=False)
    token = body.get("token")
    if not isinstance(token, str) or not _TOKEN.match(token):
        token = fallback
    return LockInfo(host, pid, started, heartbeat, token)


def holder_gone(info: LockInfo, now: float | None = None) -> str | None:
    """Why the holder of a lock is gone, or None while it may be alive.

    Args:
        info: the lock as ``read_lock`` returned it.
        now: the time to judge the heartbeat by (default: now).
    """
    if not info.readable:
        return "the lock file is unreadable"
    now = time.time() if now is None else now
    host, pid = local_owner()
    if info.host == host and info.pid != pid and not pid_alive(info.pid):
        return f"its process {info.pid} on {info.host} is gone"
    if info.host == host and info.pid == pid and info.token not in _held_here:
        # Our pid, but no lock of this process: an earlier process with the same pid (pids
        # repeat, e.g. pid 1 in every container) died holding it.
        return f"its process {info.pid} on {info.host} is gone (this process has that pid now)"
    age = now - info.heartbeat
    if age > LOCK_TIMEOUT_SECONDS:
        return f"no heartbeat for {age:.0f} s (a holder is gone after {LOCK_TIMEOUT_SECONDS:.0f} s)"
    return None


def takeover_path(path: str, token: str) -> str:
    """The file a waiter creates to be the only one that takes over the lock ``token`` held."""
    return f"{path}.{token}{TAKEOVER_SUFFIX}"


class StoreLock:
    """A named lock in a store, held by one process at a time, taken over when its holder dies.

    Args:
        store: the store the lock lives in.
        name: the lock's name (``compact``): lowercase letters, digits, ``-`` and ``_``.
    """

    def __init__(self, store: Store, name: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidArgumentError(
                f"Invalid lock name {name!r}: use lowercase letters, digits, '-' and '_'."
            )
        self.store = store
        self.path = f"{LOCKS}/{name}.lock"
        self.token = secrets.token_hex(16)
        self.held = False
        self.lost = False
        self.took_over: str | None = None  # the notice, when this holder took a dead one's lock
        self._started = 0.0
        self._stop = threading.Event()
        self._beater: threading.Thread | None = None

    # -- taking and giving back ----------------------------------------------------------------

    def acquire(self, *, wait: bool, wait_seconds: float = LOCK_WAIT_SECONDS) -> bool:
        """Take the lock; True when this object holds it.

        Args:
            wait: wait while a live holder has it (else give up at once).
            wait_seconds: the longest wait for a live holder when ``wait`` is set.
        """
        if isinstance(wait_seconds, bool) or not isinstance(wait_seconds, (int, float)) or (
            wait_seconds < 0
        ):
            raise InvalidArgumentError(
                f"wait_seconds must be a number of seconds >= 0, got {wait_seconds!r}."
            )
        if self.held:
            return True
        deadline = time.monotonic() + (wait_seconds if wait else 0.0)
        watched: tuple[str, float] | None = None
        watched_since = time.monotonic()
        claim: str | None = None
        while True:
            self._started = time.time()
            created = self.store.fs.create_exclusive(self.path, self._body(self._started))
            if claim is not None:
                # The dead holder's lock is gone and a live one is in place (ours or another
                # waiter's): a late waiter that takes the claim now re-reads a live token.
                self.store.fs.delete(claim)
                claim = None
            if created:
                self.held, self.lost = True, False
                _held_here.add(self.token)
                self._start_heartbeat()
                return True
            info = read_lock(self.store.fs, self.path)
            if info is None:
                continue  # released between our create and our read: try again at once
            reason = holder_gone(info)
            if reason is None:
                seen = (info.token, info.heartbeat)
                if seen != watched:
                    watched, watched_since = seen, time.monotonic()
                elif time.monotonic() - watched_since > LOCK_TIMEOUT_SECONDS:
                    reason = f"its heartbeat did not change for {LOCK_TIMEOUT_SECONDS:.0f} s"
            if reason is not None:
                claim = self._take_over(info, reason)
                if claim is not None:
                    continue
            if time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_SECONDS)

    def still_held(self) -> bool:
        """True while the lock file still carries this holder's token (one read)."""
        if not self.held or self.lost:
            return False
        info = read_lock(self.store.fs, self.path)
        if info is None or info.token != self.token:
            self.lost = True
        return not self.lost

    def release(self) -> None:
        """Stop the heartbeat and remove the lock file, unless another process took it over."""
        if not self.held:
            return
        self._stop.set()
        if self._beater is not None:
            self._beater.join(timeout=60)
            self._beater = None
        self.held = False
        _held_here.discard(self.token)
        info = read_lock(self.store.fs, self.path)
        if info is not None and info.token == self.token:
            self.store.fs.delete(self.path)

    # -- helpers ---------------------------------------------------------------------------------

    def _body(self, heartbeat: float) -> bytes:
        host, pid = local_owner()
        return json.dumps(
            {
                "host": host,
                "pid": pid,
                "started": self._started,
                "heartbeat": heartbeat,
                "token": self.token,
                "time": heartbeat,
            }
        ).encode()

    def _take_over(self, info: LockInfo, reason: str) -> str | None:
        """Remove a dead holder's lock if this waiter wins the takeover.

        Returns the takeover file this waiter created (the lock is gone), or None when another
        waiter is taking it over or a live holder has it now.
        """
        fs = self.store.fs
        claim = takeover_path(self.path, info.token)
        body = self._body(time.time())
        if not fs.create_exclusive(claim, body):
            other = read_lock(fs, claim)
            if other is None or holder_gone(other) is None:
                return None  # another waiter is taking it over: its lock appears in a moment
            fs.delete(claim)  # that waiter died on the way: its claim is stale like a lock
            if not fs.create_exclusive(claim, body):
                return None
        current = read_lock(fs, self.path)
        if current is not None and current.token != info.token:
            fs.delete(claim)
            return None  # replaced by a live holder since we looked
        if current is not None:
            fs.delete(self.path)
        self.took_over = f"took over the lock {fs.uri(self.path)} from {info.describe()}: {reason}"
        log.warning("tracker: %s", self.took_over)
        return claim

    def _start_heartbeat(self) -> None:
        self._stop = threading.Event()
        beater = threading.Thread(target=self._beat, name="tracker-lock-heartbeat", daemon=True)
        try:
            beater.start()
        except RuntimeError:
            # The interpreter is exiting (a background compaction at exit): no heartbeat; a
            # waiter on another machine may take over after LOCK_TIMEOUT_SECONDS, and
            # ``still_held`` tells the holder before it publishes.
            return
        self._beater = beater

    def _beat(self) -> None:
        while not self._stop.wait(LOCK_HEARTBEAT_SECONDS):
            try:
                info = read_lock(self.store.fs, self.path)
                if info is None or info.token != self.token:
                    self.lost = True
                    log.warning(
                        "tracker: lost the lock %s (taken over by another process)",
                        self.store.fs.uri(self.path),
                    )
                    return
                self.store.fs.write_atomic(self.path, self._body(time.time()))
            except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the holder
                log.debug("tracker: lock heartbeat failed (tried again): %s", exc)
