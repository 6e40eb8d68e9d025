"""The proof: simultaneous bursts through several worker processes give one case/ticket each.

A burst is several events of one new customer and one intent family, from different sources and
channels, with the same ``occurred_at``, inserted into the inbox at once; an unrelated customer's
event follows each burst. Worker processes (spawned, each with its own Hub, engine and real
Salesforce/Zendesk adapter, the CRM being the sandbox's tables in the same PostgreSQL database)
start at one barrier and link one row at a time. The CRM's own records are then checked: one
case/ticket per (customer, family), every event's activity on it exactly once, every inbox row
linked to the case that holds its activity. The hub itself decided who creates: the number of
create calls is the number of cases (plus any takeover of a creator that failed).

    .venv/bin/pytest -q -s tests/dedup/test_race_postgres.py     # prints the figures
    CTIHUB_RACE_BURSTS=1000 ...                                   # a longer run
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from adapters.sandbox import Sandbox
from adapters.zendesk.crm import MARKER
from hub.store.dedup_tables import case_claims
from hub.store.schema import metadata
from hub.store.tables import event_links, inbox

from .race import Event, bursts, insert_all, run_processes

PROCESSES = 4
BURSTS = int(os.environ.get("CTIHUB_RACE_BURSTS", "200"))
PER_BURST = 4
START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def reset(engine: Engine) -> Sandbox:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    sandbox = Sandbox(engine)
    sandbox.ensure_schema()
    sandbox.reset()
    return sandbox


def interleaved(events: list[Event], batch_size: int) -> list[Event]:
    """``batch_size`` groups at a time, their first events, then their second ...: one group's events
    fall into consecutive batches, which the processes claim at the same moment."""
    by_group: dict[tuple, list[Event]] = defaultdict(list)
    for event in events:
        by_group[event.group].append(event)
    groups = list(by_group.values())
    ordered: list[Event] = []
    for start in range(0, len(groups), batch_size):
        chunk = groups[start : start + batch_size]
        for place in range(max(len(g) for g in chunk)):
            ordered += [g[place] for g in chunk if place < len(g)]
    return ordered


def activities_by_case(sandbox: Sandbox, crm: str) -> tuple[set[str], list[tuple[str, str]]]:
    """(case/ticket ids, [(case id, event key)] for every activity the hub wrote), from the CRM."""
    if crm == "salesforce":
        cases = {c["Id"] for c in sandbox.records("salesforce", "Case")}
        tasks = [(t["WhatId"], t["CTI_Hub_Event_Key__c"]) for t in sandbox.records("salesforce", "Task")]
        return cases, tasks
    tickets = {str(t["id"]) for t in sandbox.records("zendesk", "ticket")}
    found = []
    for comment in sandbox.records("zendesk", "comment"):  # a batched note holds several markers
        for line in comment["body"].splitlines():
            if line.strip().startswith(MARKER):
                found.append((str(comment["ticket_id"]), line.strip().removeprefix(MARKER).strip()))
    return tickets, found


def check_one_case_per_group(
    engine: Engine, sandbox: Sandbox, crm: str, events: list[Event]
) -> dict[str, int]:
    cases, activities = activities_by_case(sandbox, crm)
    group_of = {e.key: e.group for e in events}
    groups = {e.group for e in events}

    # No lost event, no duplicate activity: every event's activity exactly once, nothing else.
    counted = Counter(key for _case, key in activities)
    assert sorted(counted) == sorted(group_of), "an event has no activity, or a stranger activity exists"
    assert max(counted.values()) == 1, f"duplicate activities: {[k for k, n in counted.items() if n > 1][:5]}"

    # One case/ticket per (customer, family), holding exactly that group's events.
    groups_on_case: dict[str, set] = defaultdict(set)
    cases_of_group: dict[tuple, set] = defaultdict(set)
    for case_id, key in activities:
        groups_on_case[case_id].add(group_of[key])
        cases_of_group[group_of[key]].add(case_id)
    assert all(len(g) == 1 for g in groups_on_case.values()), "a case mixes two customers or families"
    duplicates = {g: c for g, c in cases_of_group.items() if len(c) > 1}
    assert not duplicates, (
        f"{len(duplicates)} groups got several cases, e.g. {next(iter(duplicates.items()))}"
    )
    assert len(cases) == len(groups), f"{len(cases)} cases in the CRM for {len(groups)} (customer, family)"

    # Every inbox row linked, and its link names the case that holds its activity.
    with engine.connect() as connection:
        statuses = Counter(connection.execute(select(inbox.c.status)).scalars())
        links = connection.execute(
            select(inbox.c.source, inbox.c.event_id, inbox.c.attempts, event_links.c.case_id).join(
                event_links, event_links.c.inbox_id == inbox.c.id
            )
        ).all()
        takeovers = connection.execute(
            select(func.coalesce(func.sum(case_claims.c.takeovers), 0))
        ).scalar_one()
    assert statuses == {"linked": len(events)}, statuses
    case_of_key = {key: case_id for case_id, key in activities}
    by_id = {(e.source, e.event_id): e for e in events}
    assert len(links) == len(events)
    for row in links:
        assert case_of_key[by_id[(row.source, row.event_id)].key] == row.case_id
    return {
        "cases": len(cases),
        "takeovers": takeovers,
    }


@pytest.mark.postgres
@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
@pytest.mark.parametrize("batch_size", [1, 25], ids=["one-by-one", "batches"])
def test_simultaneous_bursts_through_worker_processes_give_one_case_each(
    crm: str, batch_size: int, postgres_url: str, postgres_engine: Engine
) -> None:
    sandbox = reset(postgres_engine)
    events = bursts(BURSTS, per_burst=PER_BURST, start=START)
    if batch_size > 1:  # a burst spans several batches, so its events race across processes
        events = interleaved(events, batch_size)
    insert_all(postgres_engine, events, datetime.now(UTC))
    started = time.monotonic()
    answers = run_processes(postgres_url, crm, PROCESSES, batch_size)
    elapsed = time.monotonic() - started
    errors = [a for a in answers if a[1] != "ok"]
    assert not errors, errors[0][2]
    figures = check_one_case_per_group(postgres_engine, sandbox, crm, events)
    calls: Counter[str] = Counter()
    for answer in answers:
        calls.update(answer[2])
    # A wait for the case costs no attempt, but each one is one more claim of the row.
    figures["waited"] = calls["claims"] - len(events)
    print(
        f"\n{crm}, batches of {batch_size}: {PROCESSES} processes, {BURSTS} bursts x {PER_BURST} events "
        f"+ {BURSTS} unrelated = "
        f"{len(events)} events -> {figures['cases']} cases; create calls {calls['create_case']}, "
        f"appends {calls['append_activity']}, events that waited for their case being created "
        f"{figures['waited']}, takeovers {figures['takeovers']}, claims per process "
        f"{[a[2]['claims'] for a in answers]}; {elapsed:.1f} s (linking {max(a[3] for a in answers):.1f} s)"
    )
    assert all(a[2]["claims"] > 0 for a in answers), "a worker process never got work: nothing raced"
    assert figures["waited"] > 0, "no event ever found its case being created: nothing raced"
    assert batch_size == 1 or calls["write_batch"] > 0, "the batch path never ran"
    assert calls["create_case"] <= figures["cases"] + figures["takeovers"]
    reset(postgres_engine)
