"""The rollup's SQL recomputation (``hub.store.metrics_recompute``) against the definitions' pure
functions (``hub.domain.deflection_metrics``), row by row, on SQLite and PostgreSQL.

Random histories mix what the other property test leaves out: offers to known and unknown callers
(with or without an episode, cited or not), cases in two CRMs (some shared between episodes), dedup
links pointing at them, and SLA breaches. After a tick, every ``metric_inquiries`` and
``metric_offers`` row must be what the pure functions say, as the rollup computed them before it
moved to SQL (per pair, in Python).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from hub.domain.deflection_metrics import Contact, OfferFact, PairFacts, inquiries, offer_outcomes
from hub.mappings import load_mappings
from hub.services.clock import FixedClock
from hub.services.deflection_rollup import DeflectionRollup
from hub.store.dedup_tables import dedup_links
from hub.store.deflection_tables import deflection_decisions
from hub.store.metrics import epoch_us
from hub.store.metrics_tables import metric_inquiries, metric_offers
from hub.store.schema import metadata
from hub.store.sla_tables import sla_actions
from hub.store.tables import customers, episode_cases, episodes, inbox
from tests.conftest import MAPPINGS

T0 = datetime(2026, 10, 1, tzinfo=UTC)
R = timedelta(hours=72)
CATALOG = load_mappings(MAPPINGS).catalog
INTENTS = {"billing": "billing", "password_reset": "account_access", "account_update": "account_access"}
CHANNELS = ["self_service", "chat", "sms", "voice"]


@st.composite
def worlds(draw: Any) -> dict[str, Any]:
    jtis = [f"j{n}" for n in range(draw(st.integers(0, 3)))]
    contacts = []
    for n in range(draw(st.integers(1, 12))):
        customer = draw(st.sampled_from(["c1", "c2"]))
        intent = draw(st.sampled_from(sorted(INTENTS)))
        contacts.append(
            {
                "id": n + 1,
                "customer": customer,
                "intent": intent,
                "episode": f"ep-{customer}-{INTENTS[intent]}-{draw(st.integers(0, 1))}",
                "at": T0 + timedelta(hours=draw(st.integers(0, 160))),
                "channel": draw(st.sampled_from(CHANNELS)),
                "outcome": draw(st.sampled_from(["resolved", "failed", "abandoned", "escalated"])),
                "handled_by": draw(st.sampled_from([None, None, "bot", "agent"])),
                "inbound": draw(st.sampled_from([True, True, False])),
                "cites": draw(st.sampled_from([None, None, *jtis])) if jtis else None,
            }
        )
    episode_ids = sorted({c["episode"] for c in contacts})
    decisions = [
        {
            "id": n + 1,
            "jti": jti,
            "customer": draw(st.sampled_from(["c1", "c2", None])),
            "intent": draw(st.sampled_from(sorted(INTENTS))),
            "episode": draw(st.sampled_from([None, *episode_ids])),
            "at": T0 + timedelta(hours=draw(st.integers(0, 160))),
            "channels": draw(
                st.lists(st.sampled_from(["chat", "sms", "self_service"]), max_size=2, unique=True)
            ),
        }
        for n, jti in enumerate(jtis)
    ]
    cases = {
        (episode, crm): (draw(st.sampled_from(["k1", "k2", f"own-{episode}"])), draw(st.booleans()))
        for episode in episode_ids
        for crm in draw(st.lists(st.sampled_from(["zendesk", "salesforce"]), max_size=2, unique=True))
    }
    links = draw(
        st.lists(
            st.tuples(st.sampled_from(["zendesk", "salesforce"]), st.sampled_from(["k1", "k2"])), max_size=3
        )
    )
    breached = draw(st.lists(st.sampled_from(episode_ids), max_size=2, unique=True))
    return {
        "contacts": contacts,
        "decisions": decisions,
        "cases": cases,
        "links": links,
        "breached": breached,
    }


def store_world(connection: Any, world: dict[str, Any]) -> None:
    for key in sorted({c["customer"] for c in world["contacts"]} | {"c1", "c2"}):
        connection.execute(insert(customers).values(key=key, created_at=T0))
    for c in world["contacts"]:
        if connection.execute(select(episodes.c.id).where(episodes.c.id == c["episode"])).first() is None:
            connection.execute(
                insert(episodes).values(
                    id=c["episode"],
                    customer_key=c["customer"],
                    intent_family=INTENTS[c["intent"]],
                    intent=c["intent"],
                    status="closed",
                    opened_at=c["at"],
                    last_event_at=c["at"],
                    closes_at=c["at"] + R,
                )
            )
        payload = {
            "event_id": f"e{c['id']}",
            "occurred_at": c["at"].isoformat(),
            "channel": c["channel"],
            "customer": {"phone": "+14155550100"},
            "intent": c["intent"],
            "outcome": c["outcome"],
            "direction": "inbound" if c["inbound"] else "outbound",
            **({"handled_by": c["handled_by"]} if c["handled_by"] else {}),
            **({"metadata": {"deflection_id": c["cites"]}} if c["cites"] else {}),
        }
        connection.execute(
            insert(inbox).values(
                id=c["id"],
                source="p",
                event_id=f"e{c['id']}",
                received_at=c["at"],
                payload=json.dumps(payload),
                status="linked",
                attempts=1,
                next_attempt_at=c["at"],
                customer_key=c["customer"],
                episode_id=c["episode"],
                linked_at=c["at"],
            )
        )
    for d in world["decisions"]:
        offers = [{"channel": channel} for channel in (*d["channels"], "voice")]
        connection.execute(
            insert(deflection_decisions).values(
                id=d["id"],
                jti=d["jti"],
                decided_at=d["at"],
                intent=d["intent"],
                customer_key=d["customer"],
                episode_id=d["episode"],
                mode="deflect",
                inputs="{}",
                offers=json.dumps({"offers": offers}),
                token_expires_at=d["at"],
            )
        )
    for (episode, crm), (case_id, by_hub) in world["cases"].items():
        connection.execute(
            insert(episode_cases).values(
                episode_id=episode,
                crm=crm,
                object="case",
                case_id=case_id,
                created_by_hub=by_hub,
                linked_at=T0,
            )
        )
    for n, (crm, master) in enumerate(world["links"]):
        connection.execute(
            insert(dedup_links).values(
                crm=crm, duplicate_id=f"d{n}", master_id=master, plan_id="p", linked_at=T0
            )
        )
    for n, episode in enumerate(world["breached"]):
        connection.execute(
            insert(sla_actions).values(
                episode_id=episode,
                metric="first_reply_time",
                instance=1,
                kind="breach",
                key=f"k{n}",
                created_at=T0,
            )
        )


def expected(world: dict[str, Any]) -> tuple[dict[str, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    """What the rollup computed per pair in Python before the SQL (same rules, same order)."""
    family_of = {intent: CATALOG.intents[intent].family for intent in INTENTS}

    def contact(c: dict[str, Any]) -> Contact:
        return Contact(
            inbox_id=c["id"],
            episode_id=c["episode"],
            occurred_at=c["at"],
            channel=c["channel"],
            outcome=c["outcome"],
            intent=c["intent"],
            handled_by=c["handled_by"],
            inbound=c["inbound"],
            deflection_id=c["cites"],
        )

    def offer(d: dict[str, Any]) -> OfferFact:
        return OfferFact(
            decision_id=d["id"],
            jti=d["jti"],
            decided_at=d["at"],
            intent=d["intent"],
            episode_id=d["episode"],
            channels=tuple(d["channels"]),
        )

    pairs: dict[tuple[str, str], PairFacts] = {}
    for c in world["contacts"]:
        pairs.setdefault((c["customer"], INTENTS[c["intent"]]), PairFacts()).contacts.append(contact(c))
    for d in world["decisions"]:
        if d["customer"]:
            pairs.setdefault((d["customer"], family_of[d["intent"]]), PairFacts()).offers.append(offer(d))
    jtis = {d["jti"] for d in world["decisions"]}
    first_case = {}
    for (episode, crm), (case_id, by_hub) in sorted(world["cases"].items()):
        first_case.setdefault(episode, (crm, case_id, by_hub))
    inquiry_rows, offer_rows = {}, {}
    for (customer, family), facts in pairs.items():
        found, outcomes = inquiries(facts, R)
        citing = {c.episode_id for c in facts.contacts if c.deflection_id in jtis}
        counted: set[tuple[str, str]] = set()
        for i in sorted(found, key=lambda i: (i.first_at, i.episode_id)):
            crm, case_id, by_hub = first_case.get(i.episode_id, ("", None, False))
            duplicates = 0
            if case_id is not None and (crm, case_id) not in counted:
                counted.add((crm, case_id))
                duplicates = world["links"].count((crm, case_id))
            inquiry_rows[i.episode_id] = (
                customer,
                family,
                i.day,
                i.channel,
                i.intent,
                crm,
                i.automated,
                i.agent,
                i.resolved_at is not None,
                i.recontact_at is not None,
                epoch_us(i.settles_at),
                i.offer_taken or i.episode_id in citing,
                i.episode_id in world["breached"],
                bool(by_hub),
                duplicates,
                i.contacts,
            )
        for o in outcomes:
            offer_rows[o.decision_id] = (
                customer,
                family,
                o.day,
                o.channel,
                o.intent,
                o.taken_at is not None,
                o.failed,
                o.taken_episode,
            )
    for d in world["decisions"]:
        if not d["customer"]:
            cited = [contact(c) for c in world["contacts"] if c["cites"] == d["jti"]]
            (o,) = offer_outcomes([offer(d)], cited, R)
            offer_rows[o.decision_id] = (
                "",
                family_of[d["intent"]],
                o.day,
                o.channel,
                o.intent,
                o.taken_at is not None,
                o.failed,
                o.taken_episode,
            )
    return inquiry_rows, offer_rows


def stored(engine: Any) -> tuple[dict[str, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    with engine.connect() as connection:
        inquiry_rows = {
            row.episode_id: (
                row.customer_key,
                row.family,
                row.day,
                row.channel,
                row.intent,
                row.crm,
                row.automated,
                row.agent,
                row.resolved,
                row.recontacted,
                row.settles_us,
                row.offer_taken,
                row.sla_breached,
                row.case_created,
                row.duplicates,
                row.contacts,
            )
            for row in connection.execute(select(metric_inquiries))
        }
        offer_rows = {
            row.decision_id: (
                row.customer_key,
                row.family,
                row.day,
                row.channel,
                row.intent,
                row.taken,
                row.failed,
                row.taken_episode,
            )
            for row in connection.execute(select(metric_offers))
        }
    return inquiry_rows, offer_rows


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(world=worlds())
def test_the_sql_recomputation_equals_the_definitions_functions(engine, world) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        store_world(connection, world)
    clock = FixedClock(T0 + timedelta(days=30))
    DeflectionRollup(engine=engine, catalog=CATALOG, clock=clock, window_hours=72.0).tick()
    assert stored(engine) == expected(world)
