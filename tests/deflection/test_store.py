"""The deflection store on SQLite and PostgreSQL: read-only lookups, episode history, the decision log."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select, update

from hub.domain.deflection import Attempt
from hub.domain.identity import PHONE, Identifier
from hub.ports import LinkResult, RecordRef
from hub.store import customers, episodes, inbox, links
from hub.store import deflection as store
from hub.store.tables import customers as customers_table
from hub.store.tables import inbox as inbox_table
from tests.conftest import T0
from tests.deflection.conftest import E164


def add_customer(connection) -> str:
    return customers.resolve_customer(
        connection, [Identifier(PHONE, E164, "(415) 555-0100")], name=None, fallback_key="cus_x", now=T0
    )


def add_episode(connection, key: str, *, family="account_access", episode_id="ep_1", at=T0):
    episode, _ = episodes.claim_episode(
        connection,
        customer_key=key,
        family=family,
        intent="password_reset",
        occurred_at=at,
        window=timedelta(hours=72),
        new_id=episode_id,
        now=at,
    )
    return episode


def add_linked_event(connection, episode_id: str, event_id: str, minutes: int, **payload) -> int:
    body = {
        "event_id": event_id,
        "source": "ivr",
        "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "channel": "self_service",
        "outcome": "failed",
        "intent": "password_reset",
        "customer": {"phone": "(415) 555-0100"},
        **payload,
    }
    inbox.add_event(connection, source="ivr", event_id=event_id, payload=json.dumps(body), now=T0)
    row_id = connection.execute(
        select(inbox_table.c.id).where(inbox_table.c.event_id == event_id)
    ).scalar_one()
    connection.execute(
        update(inbox_table)
        .where(inbox_table.c.id == row_id)
        .values(status="linked", episode_id=episode_id, disposition="SS_FAILED", linked_at=T0)
    )
    return row_id


def test_the_customer_lookup_never_creates_anyone(engine):
    with engine.begin() as connection:
        assert store.customer_key_by_identifier(connection, PHONE, E164) is None
        assert connection.execute(select(func.count()).select_from(customers_table)).scalar() == 0
        key = add_customer(connection)
        assert store.customer_key_by_identifier(connection, PHONE, E164) == key
        assert store.customer_key_by_identifier(connection, PHONE, "+14155550199") is None


def test_only_an_open_episode_of_the_same_family_within_its_window_counts(engine):
    with engine.begin() as connection:
        key = add_customer(connection)
        episode = add_episode(connection, key)
        assert store.open_episode(connection, key, "account_access", T0).id == episode.id
        assert store.open_episode(connection, key, "billing", T0) is None
        assert store.open_episode(connection, key, "account_access", T0 + timedelta(hours=73)) is None
        episodes.close_elapsed(connection, T0 + timedelta(hours=73))
        assert store.open_episode(connection, key, "account_access", T0 + timedelta(hours=1)) is None


def test_the_episodes_outcomes_come_oldest_first_with_their_links(engine):
    with engine.begin() as connection:
        key = add_customer(connection)
        add_episode(connection, key)
        later = add_linked_event(
            connection, "ep_1", "b", 10, channel="chat", outcome="abandoned", summary="Left."
        )
        add_linked_event(connection, "ep_1", "a", 1, summary="Link expired.")
        add_linked_event(connection, "ep_other", "z", 2)
        links.record_event_links(
            connection,
            later,
            LinkResult(
                RecordRef("zendesk", "ticket", "7", True), RecordRef("zendesk", "comment", "c9", True)
            ),
            T0,
        )
        links.record_episode_case(connection, "ep_1", RecordRef("zendesk", "ticket", "7", True), T0)
        outcomes = store.episode_outcomes(connection, "ep_1")
        assert [(o.event_id, o.channel, o.outcome, o.summary) for o in outcomes] == [
            ("a", "self_service", "failed", "Link expired."),
            ("b", "chat", "abandoned", "Left."),
        ]
        assert outcomes[0].disposition == "SS_FAILED"
        assert outcomes[0].occurred_at == T0 + timedelta(minutes=1)
        assert outcomes[1].links == (
            {
                "crm": "zendesk",
                "case": {"object": "ticket", "id": "7"},
                "activity": {"object": "comment", "id": "c9"},
            },
        )
        assert store.episode_attempts(connection, "ep_1") == [
            Attempt("self_service", "failed", T0 + timedelta(minutes=1)),
            Attempt("chat", "abandoned", T0 + timedelta(minutes=10)),
        ]
        assert store.episode_case_links(connection, "ep_1") == [
            {"crm": "zendesk", "object": "ticket", "id": "7"}
        ]
        assert store.episode_outcomes(connection, "ep_none") == []


def test_a_decision_round_trips_with_aware_times_and_json(engine):
    record = store.DecisionRecord(
        jti="dfl_abc",
        decided_at=T0,
        intent="billing",
        customer_key=None,
        episode_id=None,
        mode="deflect",
        inputs={"estimated_wait_seconds": 420, "attempts": []},
        offers={"offers": [{"rank": 1, "channel": "chat"}], "summary": "busy"},
        token_expires_at=T0 + timedelta(minutes=15),
    )
    with engine.begin() as connection:
        store.record_decision(connection, record)
    with engine.connect() as connection:
        assert store.get_decision(connection, "dfl_abc") == record
        assert store.get_decision(connection, "dfl_missing") is None


def test_outcomes_that_cite_a_decision_are_found_by_its_id(engine):
    with engine.begin() as connection:
        add_linked_event(
            connection,
            "ep_1",
            "accepted",
            20,
            channel="chat",
            outcome="resolved",
            metadata={"deflection_id": "dfl_123"},
        )
        add_linked_event(connection, "ep_1", "mentions", 21, summary="customer read out dfl_123 on the phone")
        add_linked_event(connection, "ep_1", "other", 22, metadata={"deflection_id": "dfl_1234"})
        cited = store.outcomes_citing(connection, "dfl_123")
    assert [(c["event_id"], c["channel"], c["outcome"], c["status"]) for c in cited] == [
        ("accepted", "chat", "resolved", "linked")
    ]


def test_acceptance_end_to_end_an_outcome_posted_with_the_decision_id(hub, post, offers):
    answer = offers.ok()
    post(
        event_id="chat-9",
        channel="chat",
        outcome="resolved",
        intent="password_reset",
        customer={"phone": "(415) 555-0100"},
        metadata={"deflection_id": answer["decision_id"]},
    )
    with hub.engine.connect() as connection:
        [cited] = store.outcomes_citing(connection, answer["decision_id"])
    assert (cited["event_id"], cited["status"]) == ("chat-9", "pending")
