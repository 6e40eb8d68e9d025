"""``POST /webhooks/zendesk`` on SQLite and PostgreSQL: ticket status, merges, comments, replays, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.services import channel_events
from tests.webhooks.conftest import deliveries, episode_row, open_episode, ticket_event
from tests.webhooks.test_signature_vectors import (
    ZENDESK_TEST_SECRET,
    ZENDESK_VECTOR_BODY,
    ZENDESK_VECTOR_SIGNATURE,
)
from webhooks import zendesk


def solved(ticket_id: str, **kwargs) -> dict:
    return ticket_event("status_changed", ticket_id, {"current": "SOLVED", "previous": "OPEN"}, **kwargs)


def test_a_solved_ticket_closes_its_episode(zendesk_hook, hub, clock):
    episode = open_episode(hub.engine, clock, crm="zendesk", case_id="5158")
    response = zendesk_hook.post(solved("5158", event_id="a8b9c1d2"))
    assert response.status_code == 200, response.json
    assert response.json == {
        "source": "zendesk",
        "id": "a8b9c1d2",
        "kind": "zen:event-type:ticket.status_changed",
        "status": "accepted",
        "result": "processed",
        "detail": f"episode {episode}: ticket 5158 is solved",
    }
    row = episode_row(hub.engine, episode)
    assert (row.status, row.closed_reason) == ("closed", "crm_solved")


@pytest.mark.parametrize("status", ["NEW", "OPEN", "PENDING", "HOLD"])
def test_other_status_changes_are_applied_and_leave_the_episode_open(zendesk_hook, hub, clock, status):
    episode = open_episode(hub.engine, clock, crm="zendesk", case_id="77")
    response = zendesk_hook.post(ticket_event("status_changed", "77", {"current": status, "previous": "NEW"}))
    assert response.json["result"] == "processed"
    assert episode_row(hub.engine, episode).status == "open"


def test_a_closed_ticket_closes_its_episode(zendesk_hook, hub, clock):
    episode = open_episode(hub.engine, clock, crm="zendesk", case_id="78")
    zendesk_hook.post(ticket_event("status_changed", "78", {"current": "CLOSED", "previous": "SOLVED"}))
    assert episode_row(hub.engine, episode).closed_reason == "crm_closed"


def test_a_merged_ticket_closes_its_episode_as_merged(zendesk_hook, hub, clock):
    source = open_episode(hub.engine, clock, crm="zendesk", case_id="7", phone="+14155550101")
    target = open_episode(hub.engine, clock, crm="zendesk", case_id="9", phone="+14155550102")
    response = zendesk_hook.post(ticket_event("merged", "7", {"target_ticket_id": 9}))
    assert response.json["result"] == "processed"
    assert f"(episode {target})" in response.json["detail"]
    assert (episode_row(hub.engine, source).status, episode_row(hub.engine, source).closed_reason) == (
        "closed",
        "merged",
    )
    assert episode_row(hub.engine, target).status == "open"


def test_a_merge_into_an_unknown_ticket_still_closes_the_merged_episode(zendesk_hook, hub, clock):
    source = open_episode(hub.engine, clock, crm="zendesk", case_id="7")
    response = zendesk_hook.post(ticket_event("merged", "7", {"target_ticket_id": 12345}))
    assert "not linked to an episode" in response.json["detail"]
    assert episode_row(hub.engine, source).closed_reason == "merged"


def test_agent_replies_and_notes_reach_the_episode_and_the_hubs_own_notes_do_not(
    zendesk_hook, hub, clock, monkeypatch
):
    episode = open_episode(hub.engine, clock, crm="zendesk", case_id="5")
    seen = []
    real = channel_events.apply_episode_event
    monkeypatch.setattr(
        channel_events,
        "apply_episode_event",
        lambda c, event, now: (seen.append(event), real(c, event, now=now)),
    )

    def comment(event_id, body, public, staff):
        author = {"id": 1, "is_staff": staff, "name": "A"}
        data = {"comment": {"id": 3, "body": body, "is_public": public, "author": author}}
        return zendesk_hook.post(ticket_event("comment_added", "5", data, event_id=event_id))

    assert comment("c1", "We refunded you.", True, True).json["result"] == "processed"
    assert comment("c2", "Checked the ledger.", False, True).json["result"] == "processed"
    assert comment("c3", "Thanks!", True, False).json["result"] == "processed"
    own = "Chat · Failed\n\n— CTI Hub · ev_0123"
    assert comment("c4", own, False, True).json["result"] == "ignored"
    assert [(e.kind, e.public) for e in seen] == [
        ("agent_reply", True),
        ("agent_reply", False),
        ("customer_message", True),
    ]
    assert {e.episode_id for e in seen} == {episode}
    assert seen[2].channel == "email"


def test_an_unknown_ticket_is_stored_acknowledged_and_does_nothing(zendesk_hook, hub):
    response = zendesk_hook.post(solved("99999"))
    assert response.status_code == 200
    assert response.json["result"] == "unmatched"
    [delivery] = deliveries(hub.engine, "zendesk")
    assert (delivery.status, delivery.detail) == ("unmatched", "ticket 99999 is not linked to an episode")


def test_a_replayed_event_answers_the_same_and_does_nothing_again(zendesk_hook, hub, clock, monkeypatch):
    open_episode(hub.engine, clock, crm="zendesk", case_id="5158")
    assert zendesk_hook.post(solved("5158")).json["status"] == "accepted"
    calls = []
    monkeypatch.setattr(channel_events, "apply_episode_event", lambda *a, **k: calls.append(a))
    clock.advance(seconds=30)
    again = zendesk_hook.post(solved("5158"))
    assert again.status_code == 200
    assert (again.json["status"], again.json["result"]) == ("duplicate", "processed")
    assert calls == []
    assert len(deliveries(hub.engine)) == 1


@pytest.mark.parametrize("environment", [{"CTIHUB_ZENDESK_WEBHOOK_SECRET": ZENDESK_TEST_SECRET}])
def test_the_published_vector_passes_end_to_end(zendesk_hook, clock, hub, environment):
    clock.set(datetime.fromtimestamp(1234, UTC))  # the vector's timestamp header is "1234"
    response = zendesk_hook.client.post(
        "/webhooks/zendesk",
        data=ZENDESK_VECTOR_BODY,
        headers={
            "Content-Type": "application/json",
            zendesk.TIMESTAMP_HEADER: "1234",
            zendesk.SIGNATURE_HEADER: ZENDESK_VECTOR_SIGNATURE,
        },
    )
    assert response.status_code == 200, response.json
    assert (response.json["id"], response.json["result"]) == (
        "6b9bbadf-5725-4e92-bebe-7b71011bf5f1",
        "ignored",
    )
    [delivery] = deliveries(hub.engine)
    assert delivery.body.encode() == ZENDESK_VECTOR_BODY


def test_stale_and_future_timestamps_are_rejected(zendesk_hook, clock, hub):
    now = clock.now()
    for skew in (301, -301):
        response = zendesk_hook.post(solved("1"), at=now - timedelta(seconds=skew))
        assert response.status_code == 401
        assert "300 s" in response.json["error"]["message"]
    assert zendesk_hook.post(solved("1"), at=now - timedelta(seconds=299)).status_code == 200
    assert len(deliveries(hub.engine)) == 1


def test_bad_or_missing_signatures_are_401(zendesk_hook, client, hub):
    assert zendesk_hook.post(solved("1"), secret="wrong").status_code == 401
    assert zendesk_hook.post(solved("1"), headers={zendesk.SIGNATURE_HEADER: ""}).status_code == 401
    assert zendesk_hook.post(solved("1"), timestamp="not a time").status_code == 401
    unsigned = client.post("/webhooks/zendesk", data=json.dumps(solved("1")), content_type="application/json")
    assert unsigned.status_code == 401
    assert unsigned.headers["WWW-Authenticate"].startswith("Signature")
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("environment", [{"CTIHUB_ZENDESK_WEBHOOK_SECRET": ""}])
def test_an_unconfigured_secret_answers_503(zendesk_hook, environment):
    response = zendesk_hook.post(solved("1"))
    assert response.status_code == 503
    assert response.json["error"]["details"] == [
        {"path": "CTIHUB_ZENDESK_WEBHOOK_SECRET", "message": "is not set"}
    ]


def test_wrong_content_type_oversize_and_malformed_bodies(zendesk_hook, client):
    assert client.post("/webhooks/zendesk", data="x", content_type="text/plain").status_code == 415
    assert zendesk_hook.post(b"{" + b" " * (1024 * 1024) + b"}").status_code == 413
    response = zendesk_hook.post(b"{not json")
    assert (response.status_code, response.json["error"]["code"]) == (400, "malformed_body")
    assert zendesk_hook.post({"type": "zen:event-type:ticket.merged"}).status_code == 422


def test_a_processing_failure_keeps_the_delivery_and_the_redelivery_processes_it(
    zendesk_hook, hub, clock, monkeypatch
):
    episode = open_episode(hub.engine, clock, crm="zendesk", case_id="5158")
    real = channel_events.apply_episode_event

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(channel_events, "apply_episode_event", broken)
    failed = zendesk_hook.post(solved("5158"))
    assert failed.status_code == 500
    assert failed.json["error"]["code"] == "processing_failed"
    [delivery] = deliveries(hub.engine)
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert "database hiccup" in delivery.detail
    assert episode_row(hub.engine, episode).status == "open"

    monkeypatch.setattr(channel_events, "apply_episode_event", real)
    retried = zendesk_hook.post(solved("5158"))
    assert (retried.status_code, retried.json["status"], retried.json["result"]) == (
        200,
        "duplicate",
        "processed",
    )
    [delivery] = deliveries(hub.engine)
    assert (delivery.status, delivery.attempts) == ("processed", 2)
    assert episode_row(hub.engine, episode).status == "closed"


@pytest.mark.parametrize("stamp", ["1526-03-01T00:00:00Z", "2031-01-01T00:00:00Z"])
def test_a_change_dated_outside_the_event_window_is_dated_when_received(zendesk_hook, hub, clock, stamp):
    """A provider time centuries away would make the SLA arithmetic span them: the receipt time
    stands in for it (CTIHUB_MAX_EVENT_AGE_DAYS / CTIHUB_MAX_CLOCK_SKEW_SECONDS)."""
    from sqlalchemy import select

    from hub.store.sla_tables import sla_events

    episode = open_episode(hub.engine, clock, crm="zendesk", case_id="7001")
    event = solved("7001", event_id=f"far-{stamp[:4]}")
    event["time"] = stamp
    assert zendesk_hook.post(event).status_code == 200
    with hub.engine.connect() as connection:
        dated = (
            connection.execute(
                select(sla_events.c.at).where(
                    sla_events.c.episode_id == episode, sla_events.c.kind == "status_changed"
                )
            )
            .scalars()
            .all()
        )
    assert dated == [clock.now()]
