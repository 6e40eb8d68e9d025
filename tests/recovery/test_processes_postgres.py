"""Several scheduler processes on one PostgreSQL database: every due attempt runs exactly once.

Four spawned processes, each with its own engine and RecoveryService, start at one barrier and tick
the same due attempts (SMS and callback tasks) until nothing is left, claiming with ``FOR UPDATE SKIP
LOCKED`` and a lease. Before they start, a "dead" scheduler claimed four SMS attempts (its lease has
expired by the children's clock) and had already sent two of them: those two must be found, not sent
again; the other two must be sent once.
"""

from __future__ import annotations

import multiprocessing
import queue
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

from hub.services.clock import FixedClock
from hub.services.recovery import TickReport
from tests.conftest import PROJECT_ROOT, T0, _truncate
from tests.recovery.conftest import Harness
from tests.recovery.procs import CREATE_SENDS, SENDS_TABLE, process_main, service_for

PROCESSES = 4
CUSTOMERS = 40  # half fail in self-service (an SMS at +10 min), half abandon a chat (a callback at +2 h)

pytestmark = pytest.mark.postgres


def run_processes(url: str, now) -> list[tuple]:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=process_main, args=(url, now.isoformat(), barrier, results, n), daemon=True)
        for n in range(PROCESSES)
    ]
    root = str(PROJECT_ROOT)
    added = root not in sys.path
    if added:  # spawned children import tests.recovery.procs by name, with the parent's sys.path
        sys.path.insert(0, root)
    try:
        for worker in workers:
            worker.start()
    finally:
        if added:
            sys.path.remove(root)
    answers = []
    deadline = time.monotonic() + 300
    while len(answers) < PROCESSES:
        if time.monotonic() > deadline:
            raise RuntimeError("the scheduler processes did not finish in 5 minutes")
        try:
            answers.append(results.get(timeout=1))
        except queue.Empty:
            dead = [w for w in workers if not w.is_alive() and w.exitcode != 0]
            if dead:
                raise RuntimeError(f"a scheduler process died (exit code {dead[0].exitcode})") from None
    for worker in workers:
        worker.join(timeout=60)
    return answers


def test_every_due_attempt_runs_exactly_once_across_processes(
    postgres_url, postgres_engine, shipped_mappings, shipped_recovery
):
    engine = postgres_engine
    _truncate(engine)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {SENDS_TABLE}"))
        connection.execute(text(CREATE_SENDS))
    clock = FixedClock(T0)
    harness = Harness(engine, clock, shipped_mappings, shipped_recovery)
    for n in range(CUSTOMERS):
        kind = (
            {"channel": "self_service", "outcome": "failed"}
            if n % 2
            else {"channel": "chat", "outcome": "abandoned"}
        )
        harness.link(customer={"phone": f"+1212555{n:04d}"}, **kind)
    assert harness.tick().planned == CUSTOMERS

    # A scheduler claims four SMS attempts, sends two, and dies.
    dead_at = T0 + timedelta(hours=2)
    dead, _ = service_for(engine, dead_at, "dead", batch=4)
    work = dead._claim(dead_at, TickReport())
    assert [w.attempt.action for w in work] == ["sms"] * 4
    for item in work[:2]:
        dead.sender.send(dead._message(item.attempt, item.plan, dead_at))

    due = [a for a in harness.attempts() if a["due_at"] <= dead_at]
    assert len(due) == CUSTOMERS
    answers = run_processes(postgres_url, dead_at + timedelta(seconds=121))
    errors = [a[2] for a in answers if a[1] != "ok"]
    assert errors == []

    attempts = {a["key"]: a for a in harness.attempts()}
    made = [attempts[a["key"]] for a in due]
    assert {a["status"] for a in made} == {"sent"}
    with engine.connect() as connection:
        sends = Counter(connection.execute(text("SELECT key FROM recovery_test_sends")).scalars())
    sms_keys = {a["key"] for a in made if a["action"] == "sms"}
    assert set(sends) == sms_keys and max(sends.values()) == 1  # every SMS exactly once
    tasks = Counter(key for answer in answers for key in answer[3])
    callback_keys = {a["key"] for a in made if a["action"] == "callback"}
    assert set(tasks) == callback_keys and max(tasks.values()) == 1  # every callback task exactly once
    assert sum(answer[2] for answer in answers) >= CUSTOMERS
    print(f"\n{PROCESSES} processes: claims per process {[a[2] for a in sorted(answers)]}")
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {SENDS_TABLE}"))
