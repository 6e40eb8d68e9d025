"""The race proof's small sibling on the embedded default: threads, each with its own Hub and
engine on one SQLite file (WAL, BEGIN IMMEDIATE), the sandbox CRM in the same file."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.store import migrate
from hub.store.db import make_engine

from .race import SharedClock, ThreadOffset, build_worker_hub, bursts, insert_all, work_until_settled
from .test_race_postgres import START, check_one_case_per_group, reset

THREADS = 4
BURSTS = 25


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
def test_simultaneous_bursts_through_worker_threads_give_one_case_each(crm: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    sandbox = reset(engine)
    events = bursts(BURSTS, per_burst=4, start=START)
    insert_all(engine, events, datetime.now(UTC))
    clock = SharedClock(ThreadOffset())
    hubs = [build_worker_hub(url, crm, clock) for _ in range(THREADS)]
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(hub) -> None:
        try:
            start.wait()
            work_until_settled(hub, clock, os.sched_yield)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(hub,)) for hub in hubs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors[0]
    check_one_case_per_group(engine, sandbox, crm, events)
    for hub in hubs:
        hub.close()
    engine.dispose()
