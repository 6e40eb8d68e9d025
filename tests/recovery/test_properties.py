"""The recovery engine over random schedules, numbers from many zones, DST, consent changes and caps.

Events go through the real link path and the real engine (SQLite in memory), with a clock that jumps
to every instant where something happens. Whatever the draw:

- zero attempts outside the window in any candidate zone (checked by an independent reading of the
  rule table), and none for a number whose zone is unknown;
- zero attempts after an opt-out: the standing consent at the touch was a grant;
- zero beyond a cap: per episode, per customer in every rolling 24 h and 7 days;
- zero made early: no attempt before its planned instant;
- zero lost plans: every failure has its plan, every plan ends (done, cancelled, exhausted), a done
  plan made or decided every step, and nothing is left pending or claimed.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.pool import StaticPool

from hub.domain.consent import ConsentDecision, standing
from hub.domain.recovery import WINDOWED_CHANNELS, CapRule, Policy, Step
from hub.services.clock import FixedClock
from hub.services.contact_location import contact_location
from hub.store import inbox
from hub.store import recovery as store
from hub.store.db import make_engine
from hub.store.recovery_tables import recovery_attempts, recovery_plans
from hub.store.schema import metadata
from hub.store.tables import consent_ledger
from tests.recovery.conftest import Harness
from tests.unit.test_recovery_properties import inside

PHONES = [
    "+12125550100", "+13055550100", "+18504320000", "+19155550100", "+12085550100", "+19075550100",
    "+17095550100", "+18085550100", "+14155550100", "+16025550100", "+18005550100", "+33142685300",
    "+447911123456", "+12075550100", "+14125550100", "+14165550100",
]  # fmt: skip
STARTS = [
    datetime(2026, 3, 6, 12, 0, tzinfo=UTC),  # US spring forward on the 8th
    datetime(2026, 10, 30, 12, 0, tzinfo=UTC),  # US fall back on Nov 1 (EU Oct 25 just before)
    datetime(2026, 3, 27, 18, 0, tzinfo=UTC),  # EU spring forward on the 29th
    datetime(2026, 11, 20, 23, 0, tzinfo=UTC),
]
KINDS = [  # (channel, outcome): failures plan, the rest are the customer coming back
    ("self_service", "failed"), ("self_service", "abandoned"), ("chat", "abandoned"), ("sms", "no_response"),
    ("chat", "in_progress"), ("chat", "resolved"),
]  # fmt: skip


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    phones = draw(st.lists(st.sampled_from(PHONES), min_size=1, max_size=3, unique=True))
    customers = [
        {
            "phone": phone,
            "postal_state": draw(st.sampled_from([None, None, "FL", "CA", "TX"])),
            "consent": draw(
                st.fixed_dictionaries({}, optional={"sms": st.booleans(), "voice": st.booleans()})
            ),
        }
        for phone in phones
    ]
    events = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(phones) - 1),
                st.integers(0, 48 * 60),
                st.sampled_from(KINDS),
                st.sampled_from(["billing", "order_status"]),
            ),
            min_size=1,
            max_size=5,
        )
    )
    changes = draw(
        st.lists(
            st.tuples(
                st.integers(0, len(phones) - 1),
                st.integers(0, 72 * 60),
                st.sampled_from(["sms", "voice"]),
                st.booleans(),
            ),
            max_size=4,
        )
    )
    delays = sorted(draw(st.lists(st.integers(0, 1500), min_size=1, max_size=3)))
    steps = tuple(Step(draw(st.sampled_from(["sms", "callback"])), timedelta(minutes=d)) for d in delays)
    return {
        "start": draw(st.sampled_from(STARTS)) + timedelta(minutes=draw(st.integers(0, 24 * 60))),
        "customers": customers,
        "events": events,
        "changes": changes,
        "steps": steps,
        "per_episode": draw(st.integers(1, 3)),
        "per_day": draw(st.integers(1, 3)),
        "per_week": draw(st.integers(2, 5)),
        "gap": draw(st.integers(0, 90)),
    }


@pytest.fixture(scope="module")
def memory_engine():
    engine = make_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def _reset(engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


def run(engine, mappings, base_config, scenario) -> Harness:
    start = scenario["start"]
    clock = FixedClock(start)
    policy = Policy("random", ("failed", "abandoned", "no_response"), scenario["steps"])
    config = replace(
        base_config,
        policies=(policy,),
        max_attempts_per_episode=scenario["per_episode"],
        min_gap=timedelta(minutes=scenario["gap"]),
        customer_caps=(
            CapRule(scenario["per_day"], timedelta(hours=24)),
            CapRule(scenario["per_week"], timedelta(days=7)),
            *(c for c in base_config.customer_caps if c.jurisdiction != "*"),
        ),
    )
    harness = Harness(engine, clock, mappings, config)
    todo: list[tuple[datetime, int, Any]] = []
    for n, (who, minutes, kind, intent) in enumerate(scenario["events"]):
        todo.append((start + timedelta(minutes=minutes), 1, (n, who, kind, intent)))
    for who, minutes, channel, granted in scenario["changes"]:
        todo.append((start + timedelta(minutes=minutes), 0, (who, channel, granted)))
    todo.sort(key=lambda item: (item[0], item[1]))
    end = start + timedelta(days=6)
    now = start
    while True:
        clock.set(now)
        while todo and todo[0][0] <= now:
            _, kind, payload = todo.pop(0)
            if kind == 0:
                who, channel, granted = payload
                harness.consent(channel, scenario["customers"][who]["phone"], granted)
            else:
                n, who, (channel, outcome), intent = payload
                customer = scenario["customers"][who]
                event = harness.event(
                    event_id=f"e{n}",
                    channel=channel,
                    outcome=outcome,
                    intent=intent,
                    customer={
                        k: v
                        for k, v in (("phone", customer["phone"]), ("postal_state", customer["postal_state"]))
                        if v
                    },
                    consent=customer["consent"],
                )
                with engine.begin() as connection:
                    inbox.add_event(
                        connection,
                        source="ivr",
                        event_id=event["event_id"],
                        payload=json.dumps(event),
                        now=now,
                    )
                harness.worker.drain()
        harness.tick()
        with engine.connect() as connection:
            due = connection.execute(
                select(func.min(recovery_attempts.c.due_at)).where(recovery_attempts.c.status == "pending")
            ).scalar()
        later = [t for t in ([todo[0][0]] if todo else []) + ([due] if due else []) if t > now]
        if not later or min(later) > end:
            break
        now = min(later)
    clock.set(end)
    harness.tick()
    return harness


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenarios())
def test_no_attempt_outside_a_window_after_an_opt_out_beyond_a_cap_and_no_lost_plan(
    memory_engine, shipped_mappings, shipped_recovery, scenario
):
    _reset(memory_engine)
    harness = run(memory_engine, shipped_mappings, shipped_recovery, scenario)
    with memory_engine.connect() as connection:
        attempts = store.all_attempts(connection)
        plans = {row.id: row for row in connection.execute(select(recovery_plans)).all()}
        ledger = [
            ConsentDecision(r.channel, r.address, r.granted, r.decided_at, r.source)
            for r in connection.execute(select(consent_ledger)).all()
        ]
    touches = [a for a in attempts if a["touched_at"] is not None and a["status"] in ("sent", "failed")]
    by_customer: dict[str, list[datetime]] = {}
    by_episode: dict[str, int] = {}
    for attempt in touches:
        plan = plans[attempt["plan_id"]]
        at = attempt["touched_at"]
        location = contact_location(plan.phone, plan.postal_state)
        if attempt["channel"] in WINDOWED_CHANNELS:
            assert inside(at, location), (attempt, location)
        decision = standing(
            d
            for d in ledger
            if d.channel == attempt["channel"] and d.address == attempt["address"] and d.decided_at <= at
        )
        assert decision is not None and decision.granted, attempt
        assert at >= attempt["planned_for"]
        by_customer.setdefault(attempt["customer_key"], []).append(at)
        by_episode[attempt["episode_id"]] = by_episode.get(attempt["episode_id"], 0) + 1
    assert all(count <= scenario["per_episode"] for count in by_episode.values())
    for times in by_customer.values():
        for t in times:
            assert sum(1 for u in times if t - timedelta(hours=24) < u <= t) <= scenario["per_day"]
            assert sum(1 for u in times if t - timedelta(days=7) < u <= t) <= scenario["per_week"]

    # zero lost plans
    failures = {
        f"e{n}"
        for n, (_, _, (_, outcome), _) in enumerate(scenario["events"])
        if outcome != "in_progress" and outcome != "resolved"
    }
    assert {plan.event_id for plan in plans.values()} == failures
    assert {plan.status for plan in plans.values()} <= {"done", "cancelled", "exhausted"}
    assert not [a for a in attempts if a["status"] in ("pending", "claimed")]
    for plan in plans.values():
        made = [a for a in attempts if a["plan_id"] == plan.id]
        if plan.status == "done":
            assert len(made) == len(scenario["steps"])
        assert len({a["step"] for a in made}) == len(made)
    assert len(harness.sender.sent) == len([a for a in touches if a["action"] == "sms"])
