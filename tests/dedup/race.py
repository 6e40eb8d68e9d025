"""The race harness: workers that each build their own Hub on one database, started at one instant.

Used by ``test_race_postgres.py`` (processes) and ``test_race_sqlite.py`` (threads). A worker builds
a Hub as ``ctihub worker`` does with ``CTIHUB_SANDBOX=1`` (its own engine, its own ``Sandbox`` over the
shared ``sandbox_*`` tables, the real Salesforce/Zendesk adapter), waits at a barrier, then links one
inbox row at a time until every row is settled.

Nothing waits for time to pass: every worker reads one shared clock (real time plus a shared offset).
When nothing is due and nothing is in flight but retries are scheduled (events that found their
case being created), the clock jumps to the earliest retry instead of sleeping.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from hub.services.link import activity_key
from hub.store import inbox as inbox_store
from hub.store.tables import inbox

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = ROOT / "mappings"
FAMILY_INTENTS = {"account_access": ("password_reset", "account_update"), "billing": ("billing",)}
# (source, channel, the burst's phone number as that channel writes it)
CHANNELS = (
    ("web-chat", "chat", "(415) {a}-{b}"),
    ("twilio-sms", "sms", "+1 415-{a}-{b}"),
    ("ivr", "self_service", "415.{a}.{b}"),
    ("email-gw", "email", "+1 (415) {a} {b}"),
    ("msg-app", "messaging", "1-415-{a}-{b}"),
)


class SharedClock:
    """Real time plus an offset every worker shares; ``jump_to`` moves everyone forward."""

    def __init__(self, offset: Any) -> None:
        self.offset = offset  # multiprocessing.Value("d"), or ThreadOffset

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset.value)

    def jump_to(self, moment: datetime) -> None:
        with self.offset.get_lock():
            needed = (moment - datetime.now(UTC)).total_seconds() + 0.001
            if needed > self.offset.value:
                self.offset.value = needed


class ThreadOffset:
    """The thread variant of ``multiprocessing.Value("d")``."""

    def __init__(self) -> None:
        self.value = 0.0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


@dataclass(frozen=True)
class Event:
    source: str
    event_id: str
    group: tuple[str, str]  # the (customer, intent family) whose one case the event must land on
    payload: dict[str, Any]

    @property
    def key(self) -> str:
        return activity_key(self.source, self.event_id)


def bursts(count: int, *, per_burst: int = 4, start: datetime) -> list[Event]:
    """``count`` bursts of ``per_burst`` events: one new customer (one phone, written differently by
    each channel; an email too on one of them), one intent family (two intents of it when it has
    two), different sources and channels, the same ``occurred_at``. An unrelated customer's event
    follows each burst."""
    events: list[Event] = []
    for n in range(count):
        family = "account_access" if n % 2 else "billing"
        intents = FAMILY_INTENTS[family]
        at = (start + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        a, b = f"{200 + n // 10000:03d}", f"{n % 10000:04d}"
        for i in range(per_burst):
            source, channel, phone = CHANNELS[i % len(CHANNELS)]
            customer: dict[str, Any] = {"phone": phone.format(a=a, b=b)}
            if i == 1:
                customer["email"] = f"burst{n}@example.com"
            payload = {
                "event_id": f"b{n}-{i}",
                "source": source,
                "occurred_at": at,
                "channel": channel,
                "customer": customer,
                "intent": intents[i % len(intents)],
                "outcome": "failed",
                "summary": f"burst {n} event {i}",
            }
            events.append(Event(source, f"b{n}-{i}", (f"burst{n}", family), payload))
        lone = {
            "event_id": f"u{n}",
            "source": "web-chat",
            "occurred_at": at,
            "channel": "chat",
            "customer": {"email": f"lone{n}@example.org"},
            "intent": "order_status",
            "outcome": "abandoned",
            "summary": f"unrelated {n}",
        }
        events.append(Event("web-chat", f"u{n}", (f"lone{n}", "order_status"), lone))
    return events


def insert_all(engine: Engine, events: Iterable[Event], now: datetime) -> None:
    """Every event into the inbox in one transaction: all due at the same instant."""
    with engine.begin() as connection:
        for event in events:
            inbox_store.add_event(
                connection,
                source=event.source,
                event_id=event.event_id,
                payload=json.dumps(event.payload),
                now=now,
            )


def unsettled(engine: Engine) -> tuple[int, int, datetime | None]:
    """(rows pending or in flight, rows waiting for a retry, the earliest retry)."""
    with engine.connect() as connection:
        counts = dict(connection.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status)).all())
        earliest = connection.execute(
            select(func.min(inbox.c.next_attempt_at)).where(inbox.c.status == "failed")
        ).scalar()
    busy = counts.get("pending", 0) + counts.get("processing", 0)
    return busy, counts.get("failed", 0), earliest


def work_until_settled(hub: Any, clock: SharedClock, pause: Callable[[], None], batch_size: int = 1) -> int:
    """Link rows until every row is linked or dead; returns how many rows it claimed. One row at a time
    sends consecutive rows of a burst to different workers at the same moment; a larger batch runs
    the production batch path (waves, bulk writes) in each of them."""
    worker = hub.new_worker()
    worker.batch_size = batch_size
    claims = idle = 0
    while True:
        claimed = worker.run_once()
        claims += claimed
        if claimed:
            idle = 0
            continue
        busy, waiting, earliest = unsettled(hub.engine)
        if busy == 0 and waiting == 0:
            return claims
        if busy == 0 and earliest is not None:
            clock.jump_to(earliest)  # nothing in flight: the retries are due now
            continue
        idle += 1
        if idle > 1_000_000:
            raise RuntimeError("the inbox never settled")
        pause()  # the remaining rows are in another worker's hands: give it the CPU


class CountingCRM:
    """The real adapter, counting the linker's calls (the figures of the proof)."""

    def __init__(self, crm: Any) -> None:
        self.crm = crm
        self.name = crm.name
        self.calls: Counter[str] = Counter()

    def get_case(self, case_id: str) -> Any:
        self.calls["get_case"] += 1
        return self.crm.get_case(case_id)

    def create_case(self, case: Any, activity: Any, *, retrying: bool) -> Any:
        self.calls["create_case"] += 1
        try:
            result = self.crm.create_case(case, activity, retrying=retrying)
        except Exception as exc:
            self.calls[f"failed:{getattr(exc, 'crm_code', None) or type(exc).__name__}"] += 1
            raise
        self.calls["created" if result.case.created else "create_found_existing"] += 1
        return result

    def write_batch(self, writes: Any) -> Any:
        self.calls["write_batch"] += 1
        self.calls["create_case"] += sum(1 for w in writes if w.case is not None)
        self.calls["append_activity"] += sum(1 for w in writes if w.case is None)
        return self.crm.write_batch(writes)

    def append_activity(self, case_id: str, activity: Any, *, retrying: bool) -> Any:
        self.calls["append_activity"] += 1
        try:
            return self.crm.append_activity(case_id, activity, retrying=retrying)
        except Exception as exc:
            self.calls[f"failed:{getattr(exc, 'crm_code', None) or type(exc).__name__}"] += 1
            raise


def build_worker_hub(url: str, crm: str, clock: SharedClock) -> Any:
    from hub.bootstrap import build_hub
    from hub.settings import Settings
    from hub.store.db import make_engine

    settings = Settings(
        database_url=url,
        crm=crm,
        sandbox=True,
        mappings_dir=MAPPINGS,
        webhook_secret="race",
        api_token="race",
    )
    hub = build_hub(settings, clock=clock, engine=make_engine(url, pool_size=2, max_overflow=2))
    hub.linker.crm = CountingCRM(hub.linker.crm)
    return hub


def process_main(
    url: str, crm: str, offset: Any, barrier: Any, results: Any, index: int, batch_size: int = 1
) -> None:
    """One worker process (spawned): build a Hub, wait for the others, link until settled."""
    try:
        clock = SharedClock(offset)
        hub = build_worker_hub(url, crm, clock)
        barrier.wait(timeout=120)
        started = time.monotonic()
        claims = work_until_settled(hub, clock, os.sched_yield, batch_size)
        elapsed = time.monotonic() - started
        results.put((index, "ok", {"claims": claims, **hub.linker.crm.calls}, elapsed))
        hub.close()
    except BaseException:
        results.put((index, "error", traceback.format_exc(), 0.0))


def run_processes(
    url: str, crm: str, processes: int, batch_size: int = 1
) -> list[tuple[int, str, Any, float]]:
    """Spawn ``processes`` workers and collect (index, "ok"|"error", calls|traceback, seconds)."""
    context = multiprocessing.get_context("spawn")
    offset = context.Value("d", 0.0)
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=process_main, args=(url, crm, offset, barrier, results, n, batch_size), daemon=True
        )
        for n in range(processes)
    ]
    root = str(ROOT)
    added = root not in sys.path
    if added:  # spawned children import this module by name, with the parent's sys.path
        sys.path.insert(0, root)
    try:
        for worker in workers:
            worker.start()
    finally:
        if added:
            sys.path.remove(root)
    answers: list[tuple[int, str, Any, float]] = []
    deadline = time.monotonic() + 600
    while len(answers) < processes:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker processes did not finish in 10 minutes")
        try:
            answers.append(results.get(timeout=1))
        except queue.Empty:
            dead = [w for w in workers if not w.is_alive() and w.exitcode != 0]
            if dead:
                raise RuntimeError(f"a worker process died (exit code {dead[0].exitcode})") from None
    for worker in workers:
        worker.join(timeout=60)
    return sorted(answers)
