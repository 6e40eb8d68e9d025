"""SQLite writers queue on a file lock instead of polling the database lock.

SQLite lets one writer in at a time. A writer that finds the database locked calls the busy
handler, which in SQLite (and so in Python's ``sqlite3``) sleeps in coarse steps (1, 2, 5, 10, 15,
20, 25 ... 100 ms) and tries again: with several web processes committing a few hundred
microseconds each, a request that loses the race once waits a millisecond or more, and the waits
compound into the long tail (p99 of 49 ms where the work is 0.5 ms).

``GatedConnection`` takes an exclusive ``flock`` on ``<database>.write-lock`` before ``BEGIN
IMMEDIATE`` and drops it at commit or rollback. Waiters sleep in the kernel and the next one wakes
the moment the lock is released, in arrival order, so the database lock is nearly always free
when a writer reaches it. The kernel drops the lock of a process that dies, so a ``kill -9`` never
leaves it held. Writers that do not use the gate (the ``sqlite3`` shell, another program) still
meet the database lock and the usual busy timeout. A thread that already holds the gate through
one connection and begins a write on another does not wait for the gate (it would wait for
itself); that second write meets SQLite's lock as before.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

_held = threading.local()  # how many gates this thread holds, across its connections


def gate_path(database: str) -> str:
    return f"{database}.write-lock"


class GatedConnection(sqlite3.Connection):
    """A ``sqlite3.Connection`` whose write transactions pass through the file lock first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate_fd: int | None = None
        self._gate_held = False

    def open_gate(self, path: str) -> None:
        if self._gate_fd is None:
            self._gate_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def enter_gate(self) -> None:
        """Before ``BEGIN IMMEDIATE``: wait for the gate (no-op when this thread holds it already)."""
        if self._gate_fd is None or self._gate_held or getattr(_held, "count", 0) > 0:
            return
        fcntl.flock(self._gate_fd, fcntl.LOCK_EX)
        self._gate_held = True
        _held.count = getattr(_held, "count", 0) + 1

    def leave_gate(self) -> None:
        if self._gate_held and self._gate_fd is not None:
            self._gate_held = False
            _held.count -= 1
            fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_gate()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_gate()

    def close(self) -> None:
        self.leave_gate()
        if self._gate_fd is not None:
            os.close(self._gate_fd)
            self._gate_fd = None
        super().close()
