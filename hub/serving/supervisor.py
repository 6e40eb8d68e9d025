"""``ctihub serve``'s process model: one supervisor, the gunicorn web tier, link workers, a scheduler.

Each part is its own process (the same commands an operator runs on several machines), started
here and watched: a part that exits unexpectedly is restarted after a backoff (1 s, doubling up to
30 s; reset after a minute of good health). On SIGTERM or SIGINT the supervisor sends SIGTERM to
every part and waits for them: gunicorn stops accepting and lets in-flight requests finish
(``graceful_timeout``), a link worker finishes its batch and settles every event of it, the
scheduler finishes a running tick and leaves the leadership. A part still running after
``stop_timeout`` is killed; what it held is released by its lease expiring, so nothing is lost.

Parts run in their own process group (Ctrl-C reaches only the supervisor, which stops them
gracefully) and, on Linux, get SIGTERM if the supervisor itself dies.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
HEALTHY_AFTER_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class PartSpec:
    name: str
    argv: Sequence[str]


@dataclass
class Part:
    spec: PartSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    backoff: float = 1.0
    restart_at: float | None = None
    restarts: int = 0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def hub_command(*args: str) -> list[str]:
    """``ctihub <args>`` run by this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "hub.cli", *args]


def gunicorn_command(*, host: str, port: int, workers: int, access_log: bool) -> list[str]:
    command = [sys.executable, "-m", "gunicorn", "-c", "python:hub.serving.gunicorn_conf"]
    command += ["-w", str(workers), "-b", f"{host}:{port}"]
    if access_log:
        command += ["--access-logfile", "-"]
    return [*command, "hub.web:create_app()"]


@dataclass
class Supervisor:
    specs: Sequence[PartSpec]
    env: Mapping[str, str]
    stop_timeout: float = 40.0  # above gunicorn's graceful_timeout (30 s)
    poll_seconds: float = 0.5
    parts: list[Part] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Supervisor:
        self.parts = [Part(spec) for spec in self.specs]
        for part in self.parts:
            self._spawn(part)
        return self

    def _spawn(self, part: Part) -> None:
        part.process = subprocess.Popen(  # noqa: S603 - argv built here, never from input
            list(part.spec.argv), env=dict(self.env), process_group=0, preexec_fn=_die_with_parent
        )
        part.started_at = time.monotonic()
        part.restart_at = None
        log.info("started %s (pid %d)", part.spec.name, part.process.pid)

    def pids(self) -> dict[str, int]:
        return {part.spec.name: part.process.pid for part in self.parts if part.process is not None}

    def watch_once(self, now: float | None = None) -> None:
        """Restart the parts that exited (after their backoff)."""
        now = time.monotonic() if now is None else now
        for part in self.parts:
            process = part.process
            if part.restart_at is not None:
                if now >= part.restart_at and not self.stopping.is_set():
                    part.restarts += 1
                    self._spawn(part)
                continue
            if process is None or process.poll() is None:
                continue
            if now - part.started_at > HEALTHY_AFTER_SECONDS:
                part.backoff = 1.0
            log.error(
                "%s (pid %d) exited with %s; restarting in %.0f s",
                part.spec.name,
                process.pid,
                process.returncode,
                part.backoff,
            )
            part.restart_at = now + part.backoff
            part.backoff = min(MAX_BACKOFF_SECONDS, part.backoff * 2)

    def run(self) -> int:
        """Watch until ``stopping`` is set, then stop every part; returns the exit status."""
        while not self.stopping.wait(self.poll_seconds):
            self.watch_once()
        return self.stop()

    def stop(self) -> int:
        self.stopping.set()
        running = [p for p in self.parts if p.process is not None and p.process.poll() is None]
        for part in running:
            assert part.process is not None
            log.info("stopping %s (pid %d)", part.spec.name, part.process.pid)
            part.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        status = 0
        for part in running:
            assert part.process is not None
            try:
                code = part.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("%s (pid %d) did not stop in time; killing it", part.spec.name, part.process.pid)
                part.process.kill()
                code = part.process.wait()
            if code not in (0, -signal.SIGTERM):
                log.warning("%s exited with %s while stopping", part.spec.name, code)
                status = 1
        return status


def install_stop_signals(supervisor: Supervisor) -> None:
    """SIGTERM and SIGINT stop the supervisor gracefully (only the main thread may do this)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.stopping.set())


def fresh_directory(path: Path) -> Path:
    """An empty directory at ``path`` (what a previous run left there is removed)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path.resolve()


def child_environment(base: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    env.update(overrides)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env

