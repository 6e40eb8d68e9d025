"""The rollup over random event histories and random tick times.

Events (random customers, intent families, channels, outcomes, who handled them, episodes, and a
random delay between happening and being linked), deflection offers and SLA breaches arrive in
random order; the scheduler ticks at random moments in between. Whatever the draw:

- after every tick, the rollup's sums equal an independent reading of the definitions over the
  facts linked so far (``oracle``: plain Python over the events, no SQL, no shared code), pending
  counted as of the tick;
- after the last tick, every table of the rollup equals a recomputation from scratch at that time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select
from sqlalchemy.pool import StaticPool

from hub.mappings import load_mappings
from hub.services.clock import FixedClock
from hub.services.deflection_rollup import DeflectionRollup
from hub.store import metrics as store
from hub.store.db import make_engine
from hub.store.deflection_tables import deflection_decisions
from hub.store.metrics_tables import COUNTS, metric_daily, metric_inquiries, metric_offers
from hub.store.schema import metadata
from hub.store.sla_tables import sla_actions
from hub.store.tables import customers, episodes, inbox
from tests.conftest import MAPPINGS

T0 = datetime(2026, 10, 1, tzinfo=UTC)
R = timedelta(hours=72)
CATALOG = load_mappings(MAPPINGS).catalog
INTENTS = {"billing": "billing", "password_reset": "account_access", "account_update": "account_access"}


@dataclass(frozen=True)
class Event:
    id: int
    customer: str
    intent: str
    episode: str
    occurred_at: datetime
    linked_at: datetime
    channel: str
    outcome: str
    handled_by: str | None
    inbound: bool

    @property
    def family(self) -> str:
        return INTENTS[self.intent]


@st.composite
def histories(draw: Any) -> tuple[list[Event], list[tuple[datetime, str, str]], list[datetime]]:
    count = draw(st.integers(1, 14))
    events = []
    for n in range(count):
        customer = draw(st.sampled_from(["c1", "c2", "c3"]))
        intent = draw(st.sampled_from(sorted(INTENTS)))
        occurred = T0 + timedelta(hours=draw(st.integers(0, 240)))
        events.append(
            Event(
                id=n + 1,
                customer=customer,
                intent=intent,
                episode=f"ep-{customer}-{INTENTS[intent]}-{draw(st.integers(0, 2))}",
                occurred_at=occurred,
                linked_at=occurred + timedelta(hours=draw(st.sampled_from([0, 0, 1, 30, 100]))),
                channel=draw(st.sampled_from(["self_service", "chat", "voice", "sms"])),
                outcome=draw(
                    st.sampled_from(["resolved", "failed", "abandoned", "escalated", "in_progress"])
                ),
                handled_by=draw(st.sampled_from([None, None, "bot", "agent"])),
                inbound=draw(st.sampled_from([True, True, True, False])),
            )
        )
    breaches = [
        (T0 + timedelta(hours=draw(st.integers(0, 400))), e.id, e.episode)
        for e in draw(st.lists(st.sampled_from(events), max_size=2, unique_by=lambda e: e.id))
    ]
    ticks = sorted(
        T0 + timedelta(hours=h) for h in draw(st.lists(st.integers(0, 450), min_size=1, max_size=6))
    )
    return events, breaches, ticks


def oracle(events: list[Event], now: datetime) -> dict[tuple[str, str, str], dict[str, int]]:
    """The definitions of docs/metrics.md read straight off the events linked by ``now``."""
    seen = [e for e in events if e.linked_at <= now]
    episodes_: dict[str, list[Event]] = {}
    for e in sorted(seen, key=lambda e: (e.occurred_at, e.id)):
        episodes_.setdefault(e.episode, []).append(e)

    def automated(e: Event) -> bool:
        return e.handled_by == "bot" if e.handled_by else e.channel == "self_service"

    def agent(e: Event) -> bool:
        return (
            e.outcome == "escalated"
            or e.handled_by == "agent"
            or (e.handled_by is None and e.channel == "voice")
        )

    sums: dict[tuple[str, str, str], dict[str, int]] = {}
    for own in episodes_.values():
        first = own[0]
        resolution = next((e for e in own if automated(e) and e.outcome == "resolved"), None)
        came_back = None
        if resolution is not None:
            later = [
                e.occurred_at
                for e in seen
                if e.customer == first.customer
                and e.family == first.family
                and e.inbound
                and e.id != resolution.id
                and resolution.occurred_at < e.occurred_at <= resolution.occurred_at + R
            ]
            came_back = min(later) if later else None
        settles = first.occurred_at + R
        if resolution is not None:
            settles = max(settles, came_back or resolution.occurred_at + R)
        settled = settles <= now
        row = sums.setdefault(
            (first.occurred_at.date().isoformat(), first.channel, first.intent),
            dict.fromkeys(
                (
                    "inquiries",
                    "automated",
                    "automated_resolutions",
                    "contained",
                    "pending",
                    "settled",
                    "held",
                    "resolutions_settled",
                    "recontacted",
                    "contacts",
                ),
                0,
            ),
        )
        row["inquiries"] += 1
        row["automated"] += any(automated(e) for e in own)
        row["automated_resolutions"] += resolution is not None
        row["contained"] += any(automated(e) for e in own) and not any(agent(e) for e in own)
        row["pending"] += not settled
        row["settled"] += settled
        row["held"] += settled and resolution is not None and came_back is None
        row["resolutions_settled"] += settled and resolution is not None
        row["recontacted"] += settled and came_back is not None
        row["contacts"] += len(own)
    return sums


def rollup_sums(engine: Any) -> dict[tuple[str, str, str], dict[str, int]]:
    found: dict[tuple[str, str, str], dict[str, int]] = {}
    with engine.connect() as connection:
        for row in connection.execute(select(metric_daily)):
            if row.inquiries == 0:
                continue
            target = found.setdefault((row.day, row.channel, row.intent), {})
            for name in (
                "inquiries",
                "automated",
                "automated_resolutions",
                "contained",
                "pending",
                "settled",
                "held",
                "resolutions_settled",
                "recontacted",
                "contacts",
            ):
                target[name] = target.get(name, 0) + row._mapping[name]
    return found


def snapshot(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as connection:
        return {
            table.name: sorted(tuple(row) for row in connection.execute(select(table)))
            for table in (metric_inquiries, metric_offers, metric_daily)
        }


def insert_event(connection: Any, e: Event) -> None:
    if connection.execute(select(customers.c.key).where(customers.c.key == e.customer)).first() is None:
        connection.execute(insert(customers).values(key=e.customer, created_at=T0))
    if connection.execute(select(episodes.c.id).where(episodes.c.id == e.episode)).first() is None:
        connection.execute(
            insert(episodes).values(
                id=e.episode,
                customer_key=e.customer,
                intent_family=e.family,
                intent=e.intent,
                status="closed",
                opened_at=e.occurred_at,
                last_event_at=e.occurred_at,
                closes_at=e.occurred_at + R,
            )
        )
    payload = {
        "event_id": f"e{e.id}",
        "occurred_at": e.occurred_at.isoformat(),
        "channel": e.channel,
        "customer": {"phone": "+14155550100"},
        "intent": e.intent,
        "outcome": e.outcome,
        "direction": "inbound" if e.inbound else "outbound",
        **({"handled_by": e.handled_by} if e.handled_by else {}),
    }
    connection.execute(
        insert(inbox).values(
            id=e.id,
            source="p",
            event_id=f"e{e.id}",
            received_at=e.linked_at,
            payload=json.dumps(payload),
            status="linked",
            attempts=1,
            next_attempt_at=e.linked_at,
            customer_key=e.customer,
            episode_id=e.episode,
            linked_at=e.linked_at,
        )
    )


@pytest.fixture(scope="module")
def memory_engine() -> Iterator[Engine]:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(histories(), st.data())
def test_incremental_ticks_equal_the_definitions_and_a_recomputation(memory_engine, history, data) -> None:
    events, breaches, ticks = history
    engine = memory_engine
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    clock = FixedClock(T0)
    rollup = DeflectionRollup(engine=engine, catalog=CATALOG, clock=clock, window_hours=72.0)
    offers = data.draw(
        st.lists(st.tuples(st.integers(0, 200), st.sampled_from(["c1", "c2", None])), max_size=2)
    )
    arrivals: list[tuple[datetime, int, Any]] = [(e.linked_at, 0, e) for e in events]
    arrivals += [(at, 1, (at, number, episode)) for at, number, episode in breaches]
    arrivals += [
        (T0 + timedelta(hours=h), 2, (n, T0 + timedelta(hours=h), who)) for n, (h, who) in enumerate(offers)
    ]
    arrivals += [(at, 3, None) for at in ticks]
    for at, kind, item in sorted(arrivals, key=lambda a: (a[0], a[1])):
        clock.set(at)
        with engine.begin() as connection:
            if kind == 0:
                insert_event(connection, item)
            elif kind == 1:
                connection.execute(
                    insert(sla_actions).values(
                        episode_id=item[2],
                        metric="first_reply_time",
                        instance=item[1],
                        kind="breach",
                        key=f"k{item[1]}",
                        created_at=item[0],
                    )
                )
            elif kind == 2:
                number, decided, who = item
                connection.execute(
                    insert(deflection_decisions).values(
                        jti=f"j{number}",
                        decided_at=decided,
                        intent="billing",
                        customer_key=who,
                        mode="deflect",
                        inputs="{}",
                        offers=json.dumps({"offers": [{"channel": "chat"}, {"channel": "voice"}]}),
                        token_expires_at=decided,
                    )
                )
        if kind == 3:
            rollup.tick()
            assert rollup_sums(engine) == oracle(events, at)
    clock.set(max(a[0] for a in arrivals) + timedelta(hours=1))
    rollup.tick()
    assert rollup_sums(engine) == oracle(events, clock.now())
    incremental = snapshot(engine)
    with engine.begin() as connection:
        store.reset(connection, 72.0)
    rollup.tick()
    assert snapshot(engine) == incremental
    assert set(COUNTS) <= {c.name for c in metric_daily.c}
