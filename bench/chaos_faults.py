"""Chaos (b): a seeded share of CRM calls fail at random while outcomes are linked, on both CRMs.

Usage: .venv/bin/python bench/chaos_faults.py [--crm zendesk|salesforce|both] [--outcomes 2000]
       [--rate 0.3] [--seed 7] [--offered 50] [--database-url URL] [--check]

The hub is built as ``ctihub serve --sandbox`` builds it (every ``CTIHUB_*`` setting applies), on a
fresh database, and its sandbox CRM answers ``--rate`` of the calls (both CRMs, every endpoint)
with a fault (``adapters.sandbox.chaos``): 429 with Retry-After 1-5 s, 500, 503, a timeout before
the call was served, a timeout after the write was committed. Outcomes of the demo's seeded mix
(repeat customers, several channels) are accepted at ``--offered`` per second and linked by a
worker. Faults stop 60 s after the last outcome was accepted; the run ends when every outcome is
settled (linked or dead).

Time is simulated: the hub's clock, the adapters' clocks, every wait inside a CRM call (Retry-After,
backoff, job polls) and the worker's schedule run on one clock that the driver advances, so a run
that would take an hour takes a few minutes and Retry-After undercuts are counted exactly (the
sandbox checks each call against the CRM's last Retry-After on the same clock).

One line of figures per CRM (``faults=F/C``: F faults among the C calls made while faults were on;
targets in brackets):

    chaos-faults crm=zendesk outcomes=2000 calls=... faults=F/C lost=0 [0] duplicate_cases=0 [0]
    duplicate_activities=0 [0] retry_after_undercut=0 [0] dead_transient=0 [0]
    linked_after_faults_s=... [<600] wall_s=...

``lost``: accepted outcomes not linked at the end, or linked but whose activity the CRM does not
hold. ``duplicate_*``: records beyond one per key (tickets by external_id / Cases by episode key;
comments by marker / Tasks by event key). ``dead_transient``: dead-lettered outcomes (every fault
here is transient). ``--check`` exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from adapters.sandbox.chaos import Chaos  # noqa: E402
from hub.demo.seed import seeded_day  # noqa: E402
from hub.settings import Settings  # noqa: E402

FAULT_TAIL_SECONDS = 60.0  # faults go on this long after the last outcome was accepted
TARGET_LINKED_AFTER = 600.0
MARKER = re.compile(r"— CTI Hub · (ev_[0-9a-f]{32})")


class SimClock:
    """The one clock of a run: the hub's ``now()``, the adapters' epoch seconds, and their sleep."""

    def __init__(self) -> None:
        self.start = datetime.now(UTC).replace(microsecond=0)
        self.elapsed = 0.0

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def epoch(self) -> float:
        return self.start.timestamp() + self.elapsed

    def sleep(self, seconds: float) -> None:
        self.elapsed += max(seconds, 0.0)


@dataclass
class Figures:
    crm: str
    outcomes: int
    calls: int
    calls_during_faults: int
    faults: int
    lost: int
    duplicate_cases: int
    duplicate_activities: int
    retry_after_undercut: int
    dead_transient: int
    linked_after_faults_s: float
    wall_s: float
    faults_by_kind: dict[str, int]

    def line(self) -> str:
        return (
            f"chaos-faults crm={self.crm} outcomes={self.outcomes} calls={self.calls}"
            f" faults={self.faults}/{self.calls_during_faults}"
            f" lost={self.lost} duplicate_cases={self.duplicate_cases}"
            f" duplicate_activities={self.duplicate_activities}"
            f" retry_after_undercut={self.retry_after_undercut} dead_transient={self.dead_transient}"
            f" linked_after_faults_s={self.linked_after_faults_s:.0f} wall_s={self.wall_s:.0f}"
        )

    def missed(self) -> list[str]:
        zero = ("lost", "duplicate_cases", "duplicate_activities", "retry_after_undercut", "dead_transient")
        misses = [f"{name}={getattr(self, name)}" for name in zero if getattr(self, name)]
        if not self.linked_after_faults_s < TARGET_LINKED_AFTER:
            misses.append(f"linked_after_faults_s={self.linked_after_faults_s:.0f}")
        return misses


def run(
    crm: str, *, outcomes: int, rate: float, seed: int, offered: float, database_url: str | None
) -> Figures:
    from adapters.zendesk.batch import JobPolicy
    from hub.bootstrap import build_hub
    from hub.services.link import activity_key
    from hub.store import inbox, migrate
    from hub.store.db import make_engine
    from hub.store.tables import inbox as inbox_table

    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"chaos-{crm}-"))
    url = database_url or f"sqlite:///{workdir / 'hub.db'}"
    overrides = {
        "database_url": url,
        "sandbox": True,
        "crm": crm,
        "webhook_secret": secrets.token_hex(16),
        "api_token": secrets.token_hex(16),
    }
    if not Settings.from_env().environment.get("CTIHUB_MAPPINGS"):
        overrides["mappings_dir"] = ROOT / "mappings"
    settings = Settings.from_env(**overrides)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    clock = SimClock()
    hub = build_hub(settings, engine=engine, clock=clock)
    adapter = hub.crm
    adapter.clock = clock.epoch  # type: ignore[attr-defined]
    adapter.retry = adapter.retry.with_sleep(clock.sleep, random.Random(seed))  # type: ignore[attr-defined]
    if hasattr(adapter, "job_policy"):
        adapter.job_policy = JobPolicy(sleep=clock.sleep, monotonic=clock.epoch)
    sandbox = hub.sandbox
    chaos = Chaos(rate=rate, seed=seed, clock=clock.epoch)
    sandbox.chaos = chaos
    worker = hub.new_worker()
    worker.rng = random.Random(seed)

    events = seeded_day(seed, outcomes, end=clock.now(), run=f"chaos-{crm}-{seed}")
    accepted = 0
    faults_stop: float | None = None
    settled_at: float | None = None
    while settled_at is None and clock.elapsed < 24 * 3600:
        while accepted < outcomes and accepted / offered <= clock.elapsed:
            hub.ingest.accept(json.dumps(events[accepted]).encode())
            accepted += 1
        while worker.run_once():
            pass
        if (
            faults_stop is None
            and accepted == outcomes
            and clock.elapsed >= outcomes / offered + FAULT_TAIL_SECONDS
        ):
            chaos.enabled = False
            faults_stop = clock.elapsed
        if faults_stop is not None:
            with engine.connect() as connection:
                counts = inbox.counts_by_status(connection)
            if counts.get("linked", 0) + counts.get("dead", 0) == outcomes:
                settled_at = clock.elapsed
                break
        clock.sleep(1.0)

    with engine.connect() as connection:
        rows = connection.execute(
            select(inbox_table.c.source, inbox_table.c.event_id, inbox_table.c.status)
        ).all()
    status = Counter(row.status for row in rows)
    case_key, activity_key_field = hub.linker.mapping.case.key_field, hub.linker.mapping.activity.key_field
    if crm == "zendesk":
        cases = Counter(str(t.get("external_id")) for t in sandbox.records("zendesk", "ticket"))
        activities = Counter(
            m for c in sandbox.records("zendesk", "comment") for m in MARKER.findall(c.get("body") or "")
        )
    else:
        cases = Counter(str(c.get(case_key)) for c in sandbox.records("salesforce", "Case"))
        activities = Counter(str(t.get(activity_key_field)) for t in sandbox.records("salesforce", "Task"))
    linked_keys = [activity_key(r.source, r.event_id) for r in rows if r.status == "linked"]
    lost = (outcomes - len(rows)) + (len(rows) - status["linked"] - status["dead"])
    lost += sum(1 for key in linked_keys if key not in activities)
    sandbox.chaos = None
    hub.close()
    return Figures(
        crm=crm,
        outcomes=outcomes,
        calls=sum(chaos.calls.values()),
        calls_during_faults=sum(chaos.calls_while_enabled.values()),
        faults=chaos.faults,
        lost=lost,
        duplicate_cases=sum(n - 1 for n in cases.values() if n > 1),
        duplicate_activities=sum(n - 1 for n in activities.values() if n > 1),
        retry_after_undercut=chaos.undercuts,
        dead_transient=status["dead"],
        linked_after_faults_s=(settled_at - faults_stop)
        if settled_at is not None and faults_stop is not None
        else float("inf"),
        wall_s=time.perf_counter() - started,
        faults_by_kind={kind: n for (_, kind), n in sorted(chaos.injected.items())},
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crm", choices=["zendesk", "salesforce", "both"], default="both")
    parser.add_argument("--outcomes", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.3, help="share of CRM calls that fail (0.3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--offered", type=float, default=50.0, help="outcomes accepted per second")
    parser.add_argument("--database-url", help="default: a fresh SQLite file per CRM")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    crms = ["zendesk", "salesforce"] if args.crm == "both" else [args.crm]
    missed = False
    for crm in crms:
        figures = run(
            crm,
            outcomes=args.outcomes,
            rate=args.rate,
            seed=args.seed,
            offered=args.offered,
            database_url=args.database_url,
        )
        print(figures.line(), flush=True)
        print(f"  faults by kind: {figures.faults_by_kind}", flush=True)
        if figures.missed():
            missed = True
            print(f"  MISSED: {', '.join(figures.missed())}", flush=True)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
