"""Chaos (a): kill -9 worker and web processes at random while a replay of outcomes is linked, on
PostgreSQL, into the sandbox CRM (which keeps its records in the same database, so they survive).

Usage: .venv/bin/python bench/chaos_kill.py [--crm zendesk|salesforce|both] [--events 5000]
       [--kills 50] [--workers 3] [--webs 2] [--seed 7] [--postgres URL] [--check]

Per CRM: a fresh database on the PostgreSQL server (``--postgres``, the admin URL; dropped at the
end), migrated; then ``--workers`` ``ctihub worker`` processes and ``--webs`` ``ctihub serve``
processes (each also runs a worker thread and the scheduler), all with ``CTIHUB_SANDBOX=true``.
Posting threads send the demo's seeded mix, signed, to a random web process; an event counts as
acknowledged once a 202 or 200 came back (a refused connection or a killed request is posted again,
to another process, with the same event id). Meanwhile a killer sends SIGKILL to a random process
that has run at least ``--min-age`` seconds (8; a process killed before it could work proves
nothing; a web process only once it has answered /healthz; no kill while no web process is up)
every 0.5-3 s, and starts a new one in its place, until ``--kills`` kills have been made and the
replay is over. Then the run waits (at most 10 minutes) for every acknowledged event to be linked.

One line of figures per CRM (targets in brackets):

    chaos-kill crm=zendesk events=5000 kills=... acknowledged=5000 lost=0 [0] duplicate_cases=0 [0]
    duplicate_activities=0 [0] dead=0 [0] linked_after_kills_s=... [<600] wall_s=...

``lost``: acknowledged events that are not in the inbox, not linked at the end, or linked though
the CRM holds no activity for them. ``duplicate_*``: CRM records beyond one per key (ticket
external_id / Case episode key; comment marker / Task event key). The figures need no CRM faults,
so Retry-After cannot be undercut here (``chaos_faults.py`` measures that).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from hub.demo.seed import seeded_day  # noqa: E402
from webhooks.generic import HEADER, sign  # noqa: E402

DEFAULT_POSTGRES = os.environ.get(
    "CTIHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MARKER = re.compile(r"— CTI Hub · (ev_[0-9a-f]{32})")
TARGET_LINKED_AFTER = 600.0
CTIHUB = str(Path(sys.executable).with_name("ctihub"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    kind: str  # "worker" | "web"
    popen: subprocess.Popen[bytes]
    port: int | None = None
    started: float = field(default_factory=time.monotonic)
    ready: bool = False  # a web process once answered /healthz

    def check_ready(self) -> bool:
        if not self.ready and self.port is not None:
            with contextlib.suppress(requests.RequestException):
                self.ready = requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).ok
        return self.ready


@dataclass
class Fleet:
    """The hub's processes; a killed one is replaced at once by a new one of the same kind."""

    env: dict[str, str]
    logdir: Path
    procs: list[Proc] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    kills: Counter[str] = field(default_factory=Counter)

    def start(self, kind: str) -> Proc:
        port = free_port() if kind == "web" else None
        args = [CTIHUB, "worker"] if kind == "worker" else [CTIHUB, "serve", "--port", str(port)]
        log = open(self.logdir / f"{kind}.log", "ab")  # noqa: SIM115  (kept open by the child)
        proc = Proc(kind, subprocess.Popen(args, env=self.env, stdout=log, stderr=log, cwd=self.logdir), port)
        with self.lock:
            self.procs.append(proc)
        return proc

    def ports(self) -> list[int]:
        with self.lock:
            return [p.port for p in self.procs if p.port is not None and p.popen.poll() is None]

    def ready_webs(self) -> int:
        with self.lock:
            webs = [p for p in self.procs if p.kind == "web" and p.popen.poll() is None]
        return sum(p.check_ready() for p in webs)

    def kill_one(self, rng: random.Random, min_age: float) -> bool:
        """SIGKILL a random process that has run at least ``min_age`` seconds (one that never got
        to work proves nothing), and start another of its kind."""
        with self.lock:
            now = time.monotonic()
            candidates = [p for p in self.procs if p.popen.poll() is None and now - p.started >= min_age]
        alive = [p for p in candidates if p.kind == "worker" or p.check_ready()]
        if not alive:
            return False
        with self.lock:
            victim = rng.choice(alive)
            if victim not in self.procs:
                return False
            self.procs.remove(victim)
        os.kill(victim.popen.pid, signal.SIGKILL)
        victim.popen.wait()
        self.kills[victim.kind] += 1
        self.start(victim.kind)
        return True

    def stop(self) -> None:
        with self.lock:
            procs, self.procs = self.procs, []
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in procs:
            try:
                proc.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()


@dataclass
class Figures:
    crm: str
    events: int
    kills: dict[str, int]
    acknowledged: int
    lost: int
    duplicate_cases: int
    duplicate_activities: int
    dead: int
    linked_after_kills_s: float
    wall_s: float

    def line(self) -> str:
        kills = sum(self.kills.values())
        return (
            f"chaos-kill crm={self.crm} events={self.events} kills={kills}"
            f" (workers {self.kills.get('worker', 0)}, web {self.kills.get('web', 0)})"
            f" acknowledged={self.acknowledged} lost={self.lost} duplicate_cases={self.duplicate_cases}"
            f" duplicate_activities={self.duplicate_activities} dead={self.dead}"
            f" linked_after_kills_s={self.linked_after_kills_s:.0f} wall_s={self.wall_s:.0f}"
        )

    def missed(self, kills: int) -> list[str]:
        misses = [
            f"{n}={getattr(self, n)}"
            for n in ("lost", "duplicate_cases", "duplicate_activities", "dead")
            if getattr(self, n)
        ]
        if sum(self.kills.values()) < kills:
            misses.append(f"kills={sum(self.kills.values())} < {kills}")
        if not self.linked_after_kills_s < TARGET_LINKED_AFTER:
            misses.append(f"linked_after_kills_s={self.linked_after_kills_s:.0f}")
        if self.acknowledged < self.events:
            misses.append(f"acknowledged={self.acknowledged} < {self.events}")
        return misses


def wait_ready(fleet: Fleet, limit: float = 120.0) -> None:
    """Until every web process answers /healthz (a loaded machine takes seconds to start one)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        ready = 0
        for port in fleet.ports():
            with contextlib.suppress(requests.RequestException):
                ready += requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
        if fleet.ports() and ready == len(fleet.ports()):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the web processes did not start within {limit:.0f} s (see their logs)")


def post_all(
    fleet: Fleet, events: list[dict], secret: str, threads: int, deadline: float, acknowledged: set[str]
) -> set[str]:
    lock = threading.Lock()
    local = threading.local()

    def post(event: dict) -> None:
        body = json.dumps(event).encode()
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        while time.monotonic() < deadline:
            ports = fleet.ports()
            if not ports:
                time.sleep(0.2)
                continue
            port = random.choice(ports)
            headers = {"Content-Type": "application/json", HEADER: sign(secret, body, int(time.time()))}
            try:
                answer = session.post(
                    f"http://127.0.0.1:{port}/v1/outcomes", data=body, headers=headers, timeout=10
                )
            except requests.RequestException:
                time.sleep(0.05)
                continue
            if answer.status_code in (200, 202):
                with lock:
                    acknowledged.add(event["event_id"])
                return
            if answer.status_code < 500:
                raise RuntimeError(
                    f"event {event['event_id']} refused: {answer.status_code} {answer.text[:200]}"
                )
            time.sleep(0.1)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, events))
    return acknowledged


def run(crm: str, args: argparse.Namespace) -> Figures:
    from adapters.sandbox import Sandbox
    from hub.services.link import activity_key
    from hub.store import migrate
    from hub.store.db import make_engine
    from hub.store.tables import inbox

    started = time.perf_counter()
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"ctihub_chaos_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    logdir = Path(args.logdir or tempfile.mkdtemp(prefix=f"{name}-"))
    logdir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    fleet: Fleet | None = None
    try:
        migrate.upgrade(engine)
        sandbox = Sandbox(engine)
        sandbox.ensure_schema()
        secret = secrets.token_hex(32)
        env = {
            **os.environ,
            "CTIHUB_DATABASE_URL": url,
            "CTIHUB_SANDBOX": "true",
            "CTIHUB_CRM": crm,
            "CTIHUB_WEBHOOK_SECRET": secret,
            "CTIHUB_API_TOKEN": secrets.token_hex(32),
            "CTIHUB_MAPPINGS": str(ROOT / "mappings"),
            "CTIHUB_LINK_BATCH_WINDOW_SECONDS": "0.5",
            **({"CTIHUB_WORKER_LEASE_SECONDS": str(args.lease)} if args.lease else {}),
            "PYTHONUNBUFFERED": "1",
        }
        fleet = Fleet(env, logdir)
        for _ in range(args.webs):
            fleet.start("web")
        for _ in range(args.workers):
            fleet.start("worker")
        rng = random.Random(args.seed)
        events = seeded_day(
            args.seed, args.events, end=datetime.now(UTC), run=f"kill-{crm}-{uuid.uuid4().hex[:6]}"
        )
        replay_done = threading.Event()
        acknowledged: set[str] = set()
        progress: set[str] = set()

        def replay() -> None:
            try:
                acknowledged.update(
                    post_all(fleet, events, secret, args.posters, time.monotonic() + 1800, progress)
                )
            finally:
                replay_done.set()

        poster = threading.Thread(target=replay, daemon=True)
        wait_ready(fleet)
        poster.start()
        last_report = time.monotonic()
        while not replay_done.is_set() or sum(fleet.kills.values()) < args.kills:
            time.sleep(rng.uniform(args.min_interval, args.max_interval))
            if fleet.ready_webs() == 0:  # a web process is starting: let the replay go on meanwhile
                continue
            fleet.kill_one(rng, args.min_age)
            if args.verbose and time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                print(f"  {sum(fleet.kills.values())} kills, {len(progress)} acknowledged", flush=True)
        poster.join()
        kills_stopped = time.monotonic()
        linked_after = float("inf")
        while time.monotonic() - kills_stopped < TARGET_LINKED_AFTER + 60:
            with engine.connect() as connection:
                statuses = Counter(connection.execute(select(inbox.c.status)).scalars())
            if statuses.get("linked", 0) + statuses.get("dead", 0) >= len(acknowledged):
                linked_after = time.monotonic() - kills_stopped
                break
            time.sleep(1.0)
        fleet.stop()
        with engine.connect() as connection:
            rows = connection.execute(select(inbox.c.source, inbox.c.event_id, inbox.c.status)).all()
        by_id = {row.event_id: row for row in rows}
        if crm == "zendesk":
            cases = Counter(str(t.get("external_id")) for t in sandbox.records("zendesk", "ticket"))
            activities = Counter(
                m for c in sandbox.records("zendesk", "comment") for m in MARKER.findall(c.get("body") or "")
            )
        else:
            cases = Counter(str(c.get("CTI_Hub_Key__c")) for c in sandbox.records("salesforce", "Case"))
            activities = Counter(
                str(t.get("CTI_Hub_Event_Key__c")) for t in sandbox.records("salesforce", "Task")
            )
        lost = 0
        for event_id in acknowledged:
            row = by_id.get(event_id)
            if (
                row is None
                or row.status != "linked"
                or activity_key(row.source, row.event_id) not in activities
            ):
                lost += 1
        return Figures(
            crm=crm,
            events=args.events,
            kills=dict(fleet.kills),
            acknowledged=len(acknowledged),
            lost=lost,
            duplicate_cases=sum(n - 1 for n in cases.values() if n > 1),
            duplicate_activities=sum(n - 1 for n in activities.values() if n > 1),
            dead=sum(1 for row in rows if row.status == "dead"),
            linked_after_kills_s=linked_after,
            wall_s=time.perf_counter() - started,
        )
    finally:
        if fleet is not None:
            fleet.stop()
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crm", choices=["zendesk", "salesforce", "both"], default="both")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=50, help="at least this many SIGKILLs")
    parser.add_argument("--workers", type=int, default=3, help="ctihub worker processes")
    parser.add_argument("--webs", type=int, default=2, help="ctihub serve processes")
    parser.add_argument("--posters", type=int, default=8, help="posting threads")
    parser.add_argument(
        "--lease",
        type=float,
        help="worker lease, s (default the hub's 120): a killed worker's rows come back after it; keep"
        " it well above a batch's duration, or a live writer is taken over and may write twice",
    )
    parser.add_argument("--min-age", type=float, default=8.0, help="only kill processes up this long (s)")
    parser.add_argument("--min-interval", type=float, default=0.5, help="seconds between kills, at least")
    parser.add_argument("--max-interval", type=float, default=3.0, help="seconds between kills, at most")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="admin URL of the PostgreSQL server")
    parser.add_argument("--logdir", help="where the processes' logs go (default /tmp/<database>)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("-v", "--verbose", action="store_true", help="progress every 10 s")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the fleet, drop the database
    missed = False
    for crm in ["zendesk", "salesforce"] if args.crm == "both" else [args.crm]:
        figures = run(crm, args)
        print(figures.line(), flush=True)
        if figures.missed(args.kills):
            missed = True
            print(f"  MISSED: {', '.join(figures.missed(args.kills))}", flush=True)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
