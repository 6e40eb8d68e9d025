"""Real processes for the serving tests: start the hub's commands, wait on conditions (never on time)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.conftest import MAPPINGS

ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE = 120.0  # a loaded 2-core machine boots gunicorn workers slowly


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hub_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTIHUB_")}
    env.update(CTIHUB_MAPPINGS=str(MAPPINGS), PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    env.update(settings)
    return env


def wait_for(condition: Callable[[], Any], *, deadline: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something truthy; fail naming ``what`` after ``deadline``."""
    end = time.monotonic() + deadline
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}")
        time.sleep(interval)


def status_of(port: int, path: str, headers: Mapping[str, str] | None = None) -> int | None:
    with contextlib.suppress(OSError, http.client.HTTPException):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path, headers=dict(headers or {}))
            return connection.getresponse().status
        finally:
            connection.close()
    return None


def refuses_connections(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) != 0


@contextlib.contextmanager
def started(argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose output goes to ``log``; killed (group and all) if the test leaves it running."""
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)


def ctihub(*args: str) -> list[str]:
    return [sys.executable, "-m", "hub.cli", *args]


def json_lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def gunicorn_workers(supervisor_pid: int) -> list[int]:
    masters = [p for p in children(supervisor_pid) if "gunicorn" in cmdline(p)]
    return [worker for master in masters for worker in children(master)]


def socket_count(pid: int) -> int:
    """How many sockets ``pid`` has open (an accepted connection adds one)."""
    count = 0
    with contextlib.suppress(OSError):
        for fd in (Path("/proc") / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                count += os.readlink(fd).startswith("socket:")
    return count
