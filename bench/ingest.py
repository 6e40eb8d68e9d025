"""Ingestion benchmark: durable ``POST /v1/outcomes`` at fixed offered rates, behind gunicorn.

Usage: .venv/bin/python bench/ingest.py --backend both

For each backend (a fresh SQLite file or a fresh PostgreSQL database ``bench_<random>``, dropped at
the end) and each gunicorn configuration (``--workers`` x ``--worker-class`` [x ``--threads``]), the
script migrates the database (``ctihub db upgrade``), starts gunicorn, warms it up, then offers each
rate in ``--rates`` for ``--seconds``. No hub worker runs: this measures ingestion only.

The load is open-loop: request k is due at ``t0 + k / rate`` whatever happened to the earlier ones,
and its latency is measured from that scheduled time, not from when a connection was free to send
it, so a server that falls behind shows up in the latency (no coordinated omission). The client is
``--clients`` single-threaded epoll loops (processes) over ``--connections`` keep-alive raw-socket
HTTP/1.1 connections in total; the requests (bodies, signatures, headers) are built before the
timed run, so the client only sends and reads.
The client shares the machine with the server: its own CPU use is printed next to the server's and
the database's so a reader can judge who was the bottleneck ("busy" is the whole machine, in percent
of one core; "other" is what none of those used: other programs, the kernel's network work; it
is approximate, as /proc/stat samples idle time by ticks, and can go below 0 at light load;
"steal" is CPU time a hypervisor gave to other virtual machines; "calib" is the CPU milliseconds a
fixed Python loop took just before the run: the vCPUs of a shared host get slower and faster, and
runs are only comparable at similar values).
"lag p99" is how late the client started sending (all connections busy, or the client starved of
CPU).

After every run the inbox row count is compared with the number of 202 answers: every acknowledged
event must be in the database (durability is the point of the endpoint). Requests the client gave
up on (timeouts) may have been stored without an answer, so ">" is fine up to their number.

Options (defaults): ``--backend both --rates 250,500,1000,1500 --seconds 10 --workers 2,3
--worker-class sync`` (``gthread`` takes ``--threads 4``) ``--json results.json``; see ``--help``.
The target reported against is >= 1,000 events/s accepted with p99 < 50 ms and no errors.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import platform
import secrets
import selectors
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # works before `pip install -e .` too
    sys.path.insert(0, str(ROOT))
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

BIN = Path(sys.executable).parent
PATH = "/v1/outcomes"
TARGET_RATE = 1000.0  # events/s accepted ...
TARGET_P99_MS = 50.0  # ... with p99 acknowledgment latency under this
NOISY_OTHER_CPU = 15.0  # percent of a core used by other programs during a run: flag the row
CLK_TCK = os.sysconf("SC_CLK_TCK")
SUMMARY = (
    "Customer asked where order 10023 is. The bot looked the order up, confirmed it shipped on "
    "Monday with the regional carrier and shared the tracking link. The customer asked whether the "
    "delivery could be moved to the neighbour's address because nobody is home on Thursday; the bot "
    "explained that address changes after dispatch go through the carrier and gave the carrier's "
    "self-service link. The customer confirmed this answered the question and closed the chat. No "
    "refund or replacement was requested; sentiment stayed neutral to positive throughout the chat."
)
TRANSCRIPT = [
    {"at": "2026-11-23T09:58:00Z", "from": "customer", "text": "Hi, where is my order 10023?"},
    {"at": "2026-11-23T09:58:05Z", "from": "bot", "text": "It shipped Monday; here is the tracking link."},
    {"at": "2026-11-23T09:59:10Z", "from": "customer", "text": "Can it go to my neighbour instead?"},
    {"at": "2026-11-23T09:59:20Z", "from": "bot", "text": "After dispatch the carrier handles that."},
    {"at": "2026-11-23T10:00:00Z", "from": "customer", "text": "OK, thanks, that answers it."},
]


# --------------------------------------------------------------------------------------------
# Request bodies


def event_body(event_id: str, k: int) -> bytes:
    """One valid contract-v1 event of about 1.3 KB (summary ~500 bytes, five transcript lines)."""
    event = {
        "event_id": event_id,
        "source": "bench",
        # now: the hub rejects events older than CTIHUB_MAX_EVENT_AGE_DAYS (30 days by default)
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": "chat",
        "customer": {"phone": f"+1415555{k % 10000:04d}", "email": f"user{k % 10000}@example.com"},
        "intent": "order_status",
        "outcome": "resolved",
        "summary": SUMMARY,
        "transcript": TRANSCRIPT,
    }
    return json.dumps(event, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# Load generator (runs in child processes)


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    secret: str
    rate: float
    seconds: float
    tag: str  # makes event ids unique across runs
    clients: int
    connections: int
    timeout: float
    drain: float  # after t0 + seconds + drain, requests not yet sent are given up ("unsent")

    @property
    def total(self) -> int:
        return max(1, round(self.rate * self.seconds))


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)  # s, from scheduled time to response/failure
    lags: list[float] = field(default_factory=list)  # s, from scheduled time to start of sending
    statuses: Counter[str] = field(default_factory=Counter)
    last_done: float = 0.0
    reconnects: int = 0
    cpu_seconds: float = 0.0


def build_request(host: str, port: int, body: bytes, signature: str) -> bytes:
    """The raw HTTP/1.1 request, built once so that sending it is a single ``send``."""
    from webhooks.generic import HEADER

    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{HEADER}: {signature}\r\n\r\n"
    )
    return head.encode() + body


class _ClosedEarly(ConnectionError):
    """The server closed the connection before answering (e.g. an idle keep-alive timed out)."""


def parse_response(buffer: bytes) -> tuple[int, bool] | None:
    """(status, server closes the connection) once ``buffer`` holds a whole response, else None."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = buffer[:end].split(b"\r\n")
    status = int(lines[0].split(None, 2)[1])
    length, chunked, close = 0, False, lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = value == b"close"
    body = buffer[end + 4 :]
    complete = body.endswith(b"0\r\n\r\n") if chunked else len(body) >= length
    return (status, close) if complete else None


@dataclass(eq=False)
class _Connection:
    """One client connection; ``index`` is the request in flight on it, if any."""

    sock: socket.socket | None = None
    buffer: bytes = b""
    index: int = -1
    started: float = 0.0
    served: int = 0
    retried: bool = False


class OpenLoopClient:
    """A single-threaded, epoll-driven open-loop sender over ``connections`` keep-alive connections.

    Request i is due at ``t0 + offsets[i]``. Due requests wait in a queue while every connection is
    busy; their latency still counts from the due time. One thread and raw sockets keep the client's
    CPU per request small (it shares the machine with the server).
    """

    def __init__(self, spec: LoadSpec, offsets: list[float], requests: list[bytes], connections: int):
        self.spec, self.offsets, self.requests = spec, offsets, requests
        self.selector = selectors.DefaultSelector()
        self.idle = [_Connection() for _ in range(connections)]
        self.busy: set[_Connection] = set()
        self.result = ClientResult()
        self.t0 = 0.0
        self.address = (socket.gethostbyname(spec.host), spec.port)

    def run(self, t0: float) -> ClientResult:
        self.t0 = t0
        spec, offsets, result = self.spec, self.offsets, self.result
        total = len(offsets)
        deadline = t0 + spec.seconds + spec.drain
        pending: deque[int] = deque()
        next_index, next_timeout_check = 0, t0 + 1.0
        cpu0 = time.process_time()
        while next_index < total or pending or self.busy:
            now = time.monotonic()
            while next_index < total and t0 + offsets[next_index] <= now:
                pending.append(next_index)
                next_index += 1
            if now > deadline:
                result.statuses["unsent"] += len(pending) + total - next_index
                pending.clear()
                next_index = total
                for connection in list(self.busy):
                    self._finish(connection, "timeout", now)
                break
            while pending and self.idle:
                self._start(self.idle.pop(), pending.popleft(), now)
            if now >= next_timeout_check:
                next_timeout_check = now + 0.5
                for connection in [c for c in self.busy if now - c.started > spec.timeout]:
                    self._finish(connection, "timeout", now)
            if next_index < total and not (pending and not self.idle):
                wait = max(0.0, t0 + offsets[next_index] - now)
            else:
                wait = 0.1
            for key, _ in self.selector.select(wait):
                self._readable(key.data)
        result.cpu_seconds = time.process_time() - cpu0
        for connection in self.idle + list(self.busy):
            self._close(connection)
        self.selector.close()
        return result

    def _connect(self, connection: _Connection) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(self.spec.timeout)
            sock.connect(self.address)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        connection.sock, connection.buffer, connection.served = sock, b"", 0
        self.selector.register(sock, selectors.EVENT_READ, connection)
        return sock

    def _close(self, connection: _Connection) -> None:
        if connection.sock is not None:
            self.selector.unregister(connection.sock)
            connection.sock.close()
            connection.sock = None

    def _send(self, connection: _Connection) -> None:
        sock = connection.sock or self._connect(connection)
        request = self.requests[connection.index]
        if sock.send(request) != len(request):  # never seen on loopback; finish it blocking
            raise OSError("partial send")

    def _start(self, connection: _Connection, index: int, now: float) -> None:
        self.result.lags.append(now - (self.t0 + self.offsets[index]))
        connection.index, connection.started, connection.retried = index, now, False
        connection.buffer = b""
        self.busy.add(connection)
        try:
            self._send_or_retry(connection)
        except OSError as exc:
            self._finish(connection, type(exc).__name__, time.monotonic())

    def _send_or_retry(self, connection: _Connection) -> None:
        try:
            self._send(connection)
        except (BrokenPipeError, ConnectionResetError):
            if not connection.served:
                raise
            self._retry(connection)

    def _retry(self, connection: _Connection) -> None:
        """A reused keep-alive connection was closed under us: resend once on a fresh one, as HTTP
        clients do (the event id makes it safe; a repeat that was stored would answer 200)."""
        self._close(connection)
        connection.retried = True
        self.result.reconnects += 1
        self._send(connection)

    def _readable(self, connection: _Connection) -> None:
        now = time.monotonic()
        sock = connection.sock
        if sock is None:
            return
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            data, error = b"", type(exc).__name__
        else:
            error = "RemoteDisconnected"
        if connection.index < 0:  # an idle connection: the server closed it
            self._close(connection)
            return
        if not data:
            if not connection.buffer and connection.served and not connection.retried:
                try:
                    self._retry(connection)
                    return
                except OSError as exc:
                    error = type(exc).__name__
            self._close(connection)
            self._finish(connection, error, now)
            return
        connection.buffer += data
        parsed = parse_response(connection.buffer)
        if parsed is None:
            return
        status, close = parsed
        connection.served += 1
        if close:
            self._close(connection)
        self._finish(connection, str(status), now)

    def _finish(self, connection: _Connection, status: str, now: float) -> None:
        if not status.isdigit():  # a failure, not an HTTP answer: drop the connection
            self._close(connection)
        self.result.latencies.append(now - (self.t0 + self.offsets[connection.index]))
        self.result.statuses[status] += 1
        self.result.last_done = max(self.result.last_done, now)
        connection.index = -1
        connection.buffer = b""
        self.busy.discard(connection)
        self.idle.append(connection)


def _client_process(index: int, spec: LoadSpec, pipe: Connection) -> None:
    from webhooks.generic import sign

    timestamp = int(time.time())
    offsets, requests = [], []
    for k in range(index, spec.total, spec.clients):
        body = event_body(f"{spec.tag}-{k}", k)
        offsets.append(k / spec.rate)
        requests.append(build_request(spec.host, spec.port, body, sign(spec.secret, body, timestamp)))
    # Connections open lazily, on their first request: a gunicorn sync worker that accepted an idle
    # pre-opened connection would block reading it while requests on other connections wait.
    client = OpenLoopClient(spec, offsets, requests, max(1, spec.connections // spec.clients))
    pipe.send("ready")
    t0: float = pipe.recv()
    pipe.send(client.run(t0))
    pipe.close()


# --------------------------------------------------------------------------------------------
# CPU accounting from /proc (Linux)


def _process_table() -> dict[int, tuple[int, str, float]]:
    """pid -> (ppid, comm, CPU seconds used so far)."""
    table: dict[int, tuple[int, str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / CLK_TCK)
    return table


def _machine_ticks() -> tuple[int, int, int, int]:
    """(total, idle, iowait, steal) jiffies over all cores."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(values[:8]), values[3], values[4], values[7]


@dataclass
class CpuSample:
    at: float
    table: dict[int, tuple[int, str, float]]
    machine: tuple[int, int, int, int]

    @classmethod
    def take(cls) -> CpuSample:
        return cls(time.monotonic(), _process_table(), _machine_ticks())


def _descendants(table: dict[int, tuple[int, str, float]], root: int) -> set[int]:
    found = {root}
    grew = True
    while grew:
        grew = False
        for pid, (ppid, _, _) in table.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found


def _cpu_of(start: CpuSample, end: CpuSample, pids: set[int]) -> float:
    """CPU seconds used between the samples by ``pids`` (processes seen at the end)."""
    used = 0.0
    for pid in pids:
        if pid in end.table:
            before = start.table.get(pid)
            same = before is not None and before[1] == end.table[pid][1]
            used += end.table[pid][2] - (before[2] if same and before else 0.0)
    return used


def calibrate_cpu() -> float:
    """Milliseconds of CPU a fixed pure-Python loop takes now (best of 3): on a shared or virtual
    machine the CPU's speed drifts (other tenants), and this lets a reader compare runs."""
    best = math.inf
    for _ in range(3):
        start = time.process_time()
        sum(range(1_000_000))
        best = min(best, time.process_time() - start)
    return 1000 * best


def wait_until_quiet(limit: float, threshold: float = 25.0) -> None:
    """Wait (up to ``limit`` s) until the machine has been nearly idle for 1 s: other programs
    (tests run by others, builds) would otherwise take CPU from the server and the client."""
    deadline = time.monotonic() + limit
    busy = 0.0
    while True:
        start = _machine_ticks()
        time.sleep(1.0)
        end = _machine_ticks()
        total = end[0] - start[0] or 1
        busy = 100 * (os.cpu_count() or 1) * (total - (end[1] - start[1]) - (end[2] - start[2])) / total
        if busy < threshold or time.monotonic() > deadline:
            break
    if busy >= threshold:
        print(f"  warning: the machine is busy ({busy:.0f}% of a core) without the benchmark")


# --------------------------------------------------------------------------------------------
# One timed run


@dataclass
class RunResult:
    backend: str
    server: str
    offered: float
    seconds: float
    sent: int
    accepted: int  # 202s
    accepted_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    lag_p99_ms: float
    errors: dict[str, int]
    reconnects: int
    inbox_delta: int
    durable: bool
    cpu_client: float  # percent of one core
    cpu_server: float
    cpu_db: float
    machine_busy: float  # percent of one core, all cores together (max 100 * cores)
    machine_iowait: float
    machine_steal: float  # percent of a core the hypervisor gave to other machines
    calibration_ms: float  # CPU time of a fixed loop just before the run (lower = faster CPU)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def other_cpu(self) -> float:
        """CPU the machine spent on something else than client, server and database."""
        return self.machine_busy - self.cpu_client - self.cpu_server - self.cpu_db

    @property
    def meets_target(self) -> bool:
        """At an offered rate of at least the target, every request was accepted (the server kept up
        with the schedule; ``accepted_per_s`` also counts the last answer's latency, so it reads a
        hair under the offered rate even then), p99 under the target and no error."""
        kept_up = self.offered >= TARGET_RATE and self.accepted == self.offered * self.seconds
        return kept_up and self.p99_ms < TARGET_P99_MS and not self.errors


def _percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def offer_load(spec: LoadSpec, server_pid: int) -> tuple[ClientResult, float, dict[str, float]]:
    """Run the open-loop load; returns the merged client result, t0 and CPU use (percent of a core)."""
    context = multiprocessing.get_context("fork")
    pipes, processes = [], []
    for index in range(spec.clients):
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_client_process, args=(index, spec, child_end), daemon=True)
        process.start()
        pipes.append(parent_end)
        processes.append(process)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise RuntimeError("a client process failed to start")
    t0 = time.monotonic() + 0.2
    for pipe in pipes:
        pipe.send(t0)
    time.sleep(max(0.0, t0 - time.monotonic()))
    start = CpuSample.take()
    merged = ClientResult()
    for pipe in pipes:
        part: ClientResult = pipe.recv()
        merged.latencies.extend(part.latencies)
        merged.lags.extend(part.lags)
        merged.statuses.update(part.statuses)
        merged.last_done = max(merged.last_done, part.last_done)
        merged.reconnects += part.reconnects
        merged.cpu_seconds += part.cpu_seconds
    end = CpuSample.take()
    for process in processes:
        process.join(timeout=10)
    wall = max(end.at - start.at, 1e-9)
    server = _descendants(end.table, server_pid) | _descendants(start.table, server_pid)
    database = {pid for pid, (_, comm, _) in end.table.items() if comm.startswith("postgres")}
    total = end.machine[0] - start.machine[0] or 1
    idle = end.machine[1] - start.machine[1]
    iowait = end.machine[2] - start.machine[2]
    steal = end.machine[3] - start.machine[3]
    cores = os.cpu_count() or 1
    cpu = {
        "client": 100 * merged.cpu_seconds / wall,
        "server": 100 * _cpu_of(start, end, server) / wall,
        "db": 100 * _cpu_of(start, end, database) / wall,
        "busy": 100 * cores * (total - idle - iowait - steal) / total,
        "steal": 100 * cores * steal / total,
        "iowait": 100 * cores * iowait / total,
    }
    return merged, t0, cpu


# --------------------------------------------------------------------------------------------
# Databases and the server


def _strip_driver(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextlib.contextmanager
def fresh_database(backend: str, admin_url: str, keep: bool) -> Iterator[str]:
    """A new empty database URL for ``backend``; removed afterwards unless ``keep``."""
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="ctihub-bench-")
        try:
            yield f"sqlite:///{directory}/bench.db"
        finally:
            if keep:
                print(f"  kept {directory}/bench.db")
            else:
                shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg

    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(_strip_driver(admin_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        if keep:
            print(f"  kept database {name}")
        else:
            with psycopg.connect(_strip_driver(admin_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_environment(database_url: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTIHUB_")}
    env.update(
        CTIHUB_DATABASE_URL=database_url,
        CTIHUB_WEBHOOK_SECRET=secret,
        CTIHUB_API_TOKEN=secrets.token_urlsafe(24),
        CTIHUB_CRM="zendesk",
        CTIHUB_SANDBOX="true",
        CTIHUB_MAPPINGS=str(ROOT / "mappings"),
    )
    return env


def inbox_count(database_url: str) -> int:
    """``SELECT count(*) FROM inbox`` over a fresh connection (what a restarted process would see)."""
    if database_url.startswith("sqlite:///"):
        import sqlite3

        with contextlib.closing(sqlite3.connect(database_url[len("sqlite:///") :], timeout=30)) as db:
            return int(db.execute("SELECT count(*) FROM inbox").fetchone()[0])
    import psycopg

    with psycopg.connect(_strip_driver(database_url)) as db:
        row = db.execute("SELECT count(*) FROM inbox").fetchone()
        return int(row[0]) if row else 0


def durability_settings(database_url: str) -> str:
    """What a commit means on this backend, as the hub configures it."""
    if database_url.startswith("sqlite:///"):
        from sqlalchemy import text

        from hub.store.db import make_engine

        engine = make_engine(database_url)
        try:
            with engine.connect() as connection:
                mode = connection.execute(text("PRAGMA journal_mode")).scalar()
                sync = connection.execute(text("PRAGMA synchronous")).scalar()
        finally:
            engine.dispose()
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        return f"journal_mode={mode} synchronous={names.get(sync, sync)} (as set by hub.store.db)"
    import psycopg

    with psycopg.connect(_strip_driver(database_url)) as db:
        values = [
            f"{name}={db.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit", "wal_sync_method")
        ]
        version = db.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    return f"PostgreSQL {version}: " + " ".join(values)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ServerConfig:
    workers: int
    worker_class: str
    threads: int
    app: str = "hub.web:create_app()"

    @property
    def label(self) -> str:
        if self.worker_class == "gthread":
            return f"gthread {self.workers}x{self.threads}"
        return f"{self.worker_class} x{self.workers}"

    def command(self, port: int) -> list[str]:
        command = [str(BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{port}"]
        command += ["--worker-class", self.worker_class]
        if self.worker_class == "gthread":
            command += ["--threads", str(self.threads)]
        command += ["--backlog", "4096", "--log-level", "warning", self.app]
        return command


@contextlib.contextmanager
def running_server(config: ServerConfig, env: dict[str, str], port: int, log_path: Path) -> Iterator[int]:
    """Start gunicorn and wait until /readyz answers 200 from it; yields the master's pid."""
    command = config.command(port)
    print(f"  $ {shlex.join(command)}")
    with log_path.open("ab") as log:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {server.returncode}; log: {_tail(log_path)}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/readyz")
                if probe.getresponse().status == 200:
                    probe.close()
                    break
                probe.close()
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not become ready in 60 s; log: {_tail(log_path)}")
            time.sleep(0.2)
        time.sleep(1.0)  # let every worker finish booting, not just the first
        yield server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


# --------------------------------------------------------------------------------------------
# The benchmark


def timed_run(
    backend: str,
    config: ServerConfig,
    database_url: str,
    server_pid: int,
    port: int,
    secret: str,
    rate: float,
    args: argparse.Namespace,
) -> RunResult:
    spec = LoadSpec(
        host="127.0.0.1",
        port=port,
        secret=secret,
        rate=rate,
        seconds=args.seconds,
        tag=f"bench-{secrets.token_hex(6)}",
        clients=args.clients,
        connections=args.connections,
        timeout=args.timeout,
        drain=args.drain,
    )
    calibration = calibrate_cpu()
    before = inbox_count(database_url)
    client, t0, cpu = offer_load(spec, server_pid)
    delta = inbox_count(database_url) - before
    latencies = sorted(client.latencies)
    lags = sorted(client.lags)
    accepted = client.statuses.get("202", 0)
    unanswered = sum(
        n for status, n in client.statuses.items() if not status.isdigit() and status != "unsent"
    )
    elapsed = max(client.last_done - t0, spec.total / rate)
    return RunResult(
        backend=backend,
        server=config.label,
        offered=rate,
        seconds=args.seconds,
        sent=len(latencies),
        accepted=accepted,
        accepted_per_s=accepted / elapsed,
        p50_ms=1000 * _percentile(latencies, 0.50),
        p99_ms=1000 * _percentile(latencies, 0.99),
        max_ms=1000 * (latencies[-1] if latencies else math.nan),
        lag_p99_ms=1000 * _percentile(lags, 0.99),
        errors={status: n for status, n in sorted(client.statuses.items()) if status != "202"},
        reconnects=client.reconnects,
        inbox_delta=delta,
        # Every 202 must be a row. Requests the client gave up on (timeouts, resets) may or may
        # not have been stored: they may add rows, but no more than their number.
        durable=accepted <= delta <= accepted + unanswered,
        cpu_client=cpu["client"],
        cpu_server=cpu["server"],
        cpu_db=cpu["db"],
        machine_busy=cpu["busy"],
        machine_iowait=cpu["iowait"],
        machine_steal=cpu["steal"],
        calibration_ms=calibration,
    )


COLUMNS = [
    ("backend", 8),
    ("server", 13),
    ("offered/s", 9),
    ("accepted/s", 10),
    ("p50 ms", 7),
    ("p99 ms", 8),
    ("max ms", 8),
    ("errors", 16),
    ("inbox=202s", 16),
    ("lag p99", 8),
    ("cpu cli%", 8),
    ("cpu srv%", 8),
    ("cpu db%", 7),
    ("busy%", 6),
    ("other%", 6),
    ("steal%", 6),
    ("calib", 5),
    ("target", 6),
]


def _row(result: RunResult) -> list[str]:
    errors = ",".join(f"{k}:{v}" for k, v in result.errors.items()) or "0"
    relation = "=" if result.inbox_delta == result.accepted else (">" if result.durable else "!=")
    durable = f"{result.inbox_delta}{relation}{result.accepted} {'ok' if result.durable else 'BAD'}"
    target = "-" if result.offered < TARGET_RATE else ("MET" if result.meets_target else "no")
    if result.other_cpu > NOISY_OTHER_CPU:
        target += "*"
    return [
        result.backend,
        result.server,
        f"{result.offered:.0f}",
        f"{result.accepted_per_s:.0f}",
        f"{result.p50_ms:.1f}",
        f"{result.p99_ms:.1f}",
        f"{result.max_ms:.0f}",
        errors,
        durable,
        f"{result.lag_p99_ms:.1f}",
        f"{result.cpu_client:.0f}",
        f"{result.cpu_server:.0f}",
        f"{result.cpu_db:.0f}" if result.backend == "postgres" else "-",
        f"{result.machine_busy:.0f}",
        f"{result.other_cpu:.0f}",
        f"{result.machine_steal:.0f}",
        f"{result.calibration_ms:.1f}",
        target,
    ]


def format_table(results: list[RunResult]) -> str:
    widths = [
        max(width, len(name), *(len(_row(r)[i]) for r in results)) for i, (name, width) in enumerate(COLUMNS)
    ]
    lines = ["  ".join(name.rjust(w) for (name, _), w in zip(COLUMNS, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(cell.rjust(w) for cell, w in zip(_row(r), widths, strict=True)) for r in results]
    return "\n".join(lines)


def _numbers(text: str, kind: type) -> list[Any]:
    return [kind(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rates", default="250,500,1000,1500", help="offered events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each timed run")
    parser.add_argument("--workers", default="2,3", help="gunicorn worker counts, comma-separated")
    parser.add_argument(
        "--worker-class", default="sync", help="gunicorn worker classes (sync, gthread), comma-separated"
    )
    parser.add_argument("--threads", default="4", help="threads per gthread worker, comma-separated")
    parser.add_argument(
        "--app",
        default="hub.web:create_app()",
        help="the WSGI app gunicorn serves (to try a variant, e.g. with PYTHONPATH set)",
    )
    parser.add_argument("--clients", type=int, default=1, help="load-generator processes")
    parser.add_argument("--connections", type=int, default=64, help="client connections in total")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of untimed load after start")
    parser.add_argument("--pause", type=float, default=1.0, help="seconds of rest between runs")
    parser.add_argument(
        "--quiet-wait", type=float, default=60.0, help="wait up to this long for an idle machine per run"
    )
    parser.add_argument(
        "--noisy-retries", type=int, default=2, help="repeat a run this often while others took CPU"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="socket timeout per request")
    parser.add_argument("--drain", type=float, default=30.0, help="give up unsent requests this late")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "CTIHUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="an existing database to connect to for CREATE/DROP DATABASE bench_<random>",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases (and server logs)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    import floor_compare  # bench/floor_compare.py (--compare-floor); imports this module

    floor_compare.add_arguments(parser)
    args = parser.parse_args(argv)
    args.rates = _numbers(args.rates, float)
    args.workers = _numbers(args.workers, int)
    args.worker_classes = [part.strip() for part in args.worker_class.split(",") if part.strip()]
    args.threads = _numbers(args.threads, int)
    return args


def server_configs(args: argparse.Namespace) -> list[ServerConfig]:
    configs = []
    for worker_class in args.worker_classes:
        for threads in args.threads if worker_class == "gthread" else [1]:
            configs += [ServerConfig(workers, worker_class, threads, args.app) for workers in args.workers]
    return configs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.compare_floor:
        import floor_compare

        if "--connections" not in (argv or sys.argv):
            args.connections = 16
        if "--workers" not in (argv or sys.argv):
            args.workers = [2]
        return floor_compare.main(args)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    print(f"command: {command}")
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.clients} client processes x {max(1, args.connections // args.clients)} connections, "
        f"{args.seconds:g} s per rate"
    )
    results: list[RunResult] = []
    logs = Path(tempfile.mkdtemp(prefix="ctihub-bench-logs-"))
    try:
        for backend in backends:
            for config in server_configs(args):
                print(f"\n[{backend}, {config.label}]")
                results += bench_config(backend, config, args, logs)
                print(format_table([r for r in results if r.backend == backend and r.server == config.label]))
    except KeyboardInterrupt:
        print("\ninterrupted; results so far:")
    finally:
        if not args.keep:
            shutil.rmtree(logs, ignore_errors=True)
    print(f"\ncommand: {command}")
    print(f"target: >= {TARGET_RATE:.0f} events/s accepted with p99 < {TARGET_P99_MS:.0f} ms and no errors")
    print("latency is measured from each request's scheduled send time (open loop); cpu% is of one core")
    print(f"* = other programs used more than {NOISY_OTHER_CPU:.0f}% of a core in the run (least noisy kept)")
    print(format_table(results))
    for backend in backends:
        met = [r for r in results if r.backend == backend and r.meets_target]
        if met:
            best = max(met, key=lambda r: (r.offered, -r.p99_ms))
            print(
                f"{backend}: best meeting the target: {best.server} at {best.offered:.0f}/s "
                f"(p99 {best.p99_ms:.1f} ms)"
            )
        else:
            print(f"{backend}: no configuration met the target")
    if args.json:
        args.json.write_text(
            json.dumps({"command": command, "results": [asdict(r) for r in results]}, indent=2)
        )
    bad = [r for r in results if not r.durable]
    if bad:
        print(f"DURABILITY CHECK FAILED in {len(bad)} run(s): inbox rows differ from 202 answers")
        return 1
    return 0


def bench_config(backend: str, config: ServerConfig, args: argparse.Namespace, logs: Path) -> list[RunResult]:
    secret = secrets.token_hex(32)
    results = []
    with fresh_database(backend, args.postgres_url, args.keep) as database_url:
        env = server_environment(database_url, secret)
        subprocess.run(
            [str(BIN / "ctihub"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        print(f"  {durability_settings(database_url)}")
        port = free_port()
        log_path = logs / f"gunicorn-{backend}-{config.label.replace(' ', '_')}.log"
        with running_server(config, env, port, log_path) as pid:
            if args.warmup > 0:
                warm = timed_run(
                    backend, config, database_url, pid, port, secret, min(args.rates), _warm(args)
                )
                print(
                    f"  warm-up: {warm.accepted} accepted, errors {warm.errors or 0}, "
                    f"inbox check {'ok' if warm.durable else 'BAD'}"
                )
            for rate in args.rates:
                attempts = []
                for _ in range(1 + args.noisy_retries):
                    time.sleep(args.pause)
                    wait_until_quiet(args.quiet_wait)
                    attempts.append(timed_run(backend, config, database_url, pid, port, secret, rate, args))
                    print("  " + "  ".join(_row(attempts[-1])))
                    if attempts[-1].other_cpu <= NOISY_OTHER_CPU:
                        break
                    print("  (other programs took CPU during that run; repeating it)")
                results.append(min(attempts, key=lambda r: r.other_cpu))
        if any(r.errors for r in results):
            print(f"  server log tail: {_tail(log_path, 10)}")
    return results


def _warm(args: argparse.Namespace) -> argparse.Namespace:
    warm = argparse.Namespace(**vars(args))
    warm.seconds = args.warmup
    return warm


if __name__ == "__main__":
    sys.exit(main())
