"""``POST /webhooks/sunshine`` on SQLite and PostgreSQL: a customer's message becomes a linked activity."""

from __future__ import annotations

import copy
import json

import pytest

from hub.store import inbox
from tests.webhooks.conftest import SUNSHINE_KEY, deliveries
from tests.webhooks.test_parsing import SUNSHINE_MESSAGE

MESSAGE_ID = "5f74c7d84a146f3abd72af1d"


def post(client, payload, *, key=SUNSHINE_KEY, content_type="application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": content_type}
    if key is not None:
        headers["X-API-Key"] = key
    return client.post("/webhooks/sunshine", data=body, headers=headers)


def inbox_payload(hub, event_id=MESSAGE_ID):
    with hub.engine.connect() as connection:
        row = connection.execute(inbox.inbox.select().where(inbox.inbox.c.event_id == event_id)).one()
    return json.loads(row.payload)


def test_a_customer_message_becomes_an_inbox_event_that_the_worker_links(client, hub, fake_crm):
    response = post(client, SUNSHINE_MESSAGE)
    assert response.status_code == 200, response.json
    assert response.json["events"] == [
        {
            "id": "5f74a0d52b5315fc007e798a",
            "kind": "conversation:message",
            "status": "accepted",
            "result": "processed",
            "detail": f"inbox event sunshine:{MESSAGE_ID} (intent general_inquiry)",
        }
    ]
    payload = inbox_payload(hub)
    assert payload["source"] == "sunshine"
    assert (payload["channel"], payload["outcome"], payload["intent"]) == (
        "messaging",
        "in_progress",
        "general_inquiry",
    )
    assert payload["customer"] == {
        "external_ids": {"messaging": "26508c10541a4b0ff472e5e2", "sunshine_external_id": "912382197"},
        "name": "Steve Rogers",
    }
    # The recorded message is from 2020: older than CTIHUB_MAX_EVENT_AGE_DAYS, so it is dated when
    # the hub received it (test_the_message_time_is_kept_inside_the_event_window covers the rest).
    assert payload["occurred_at"] == "2026-11-23T15:00:00+00:00"
    assert hub.wake_worker.is_set()

    assert hub.new_worker().drain() == 1
    [case] = fake_crm.cases.values()
    [activity] = fake_crm.activities_on(case["id"])
    assert "hello" in activity.body
    with hub.engine.connect() as connection:
        status = inbox.event_status(connection, "sunshine", MESSAGE_ID)
    assert status["status"] == "linked"
    assert status["links"][0]["id"] == case["id"]


def test_the_message_time_is_kept_inside_the_event_window(client, hub, clock):
    payload = copy.deepcopy(SUNSHINE_MESSAGE)
    message = payload["events"][0]["payload"]["message"]
    message["received"] = "2026-11-23T14:58:30.500Z"  # 90 s before the hub's clock
    post(client, payload)
    assert inbox_payload(hub)["occurred_at"] == "2026-11-23T14:58:30.500000+00:00"

    later = copy.deepcopy(SUNSHINE_MESSAGE)
    later["events"][0]["id"] = "evt-future"
    later["events"][0]["payload"]["message"]["id"] = "msg-future"
    later["events"][0]["payload"]["message"]["received"] = "2027-01-01T00:00:00Z"  # a clock far ahead
    post(client, later)
    assert inbox_payload(hub, "msg-future")["occurred_at"] == clock.now().isoformat()


def test_the_message_metadata_may_name_the_intent(client, hub):
    payload = copy.deepcopy(SUNSHINE_MESSAGE)
    payload["events"][0]["payload"]["message"]["metadata"] = {"intent": "billing", "plan": "gold"}
    post(client, payload)
    stored = inbox_payload(hub)
    assert stored["intent"] == "billing"
    assert stored["metadata"]["plan"] == "gold"


def test_an_unknown_metadata_intent_falls_back_to_the_default_and_is_kept(client, hub):
    payload = copy.deepcopy(SUNSHINE_MESSAGE)
    payload["events"][0]["payload"]["message"]["metadata"] = {"intent": "refund_dispute"}
    post(client, payload)
    stored = inbox_payload(hub)
    assert (stored["intent"], stored["metadata"]["sunshine_unknown_intent"]) == (
        "general_inquiry",
        "refund_dispute",
    )


@pytest.mark.parametrize("environment", [{"CTIHUB_SUNSHINE_DEFAULT_INTENT": "technical_support"}])
def test_the_default_intent_is_configurable(client, hub, environment):
    post(client, SUNSHINE_MESSAGE)
    assert inbox_payload(hub)["intent"] == "technical_support"


def test_a_redelivered_event_and_a_message_seen_under_another_event_add_nothing(client, hub):
    post(client, SUNSHINE_MESSAGE)
    again = post(client, SUNSHINE_MESSAGE)
    assert again.json["events"][0]["status"] == "duplicate"
    other = copy.deepcopy(SUNSHINE_MESSAGE)
    other["events"][0]["id"] = "another-event-id"
    assert (
        post(client, other).json["events"][0]["detail"]
        == f"inbox event sunshine:{MESSAGE_ID} was already there"
    )
    with hub.engine.connect() as connection:
        assert inbox.counts_by_status(connection) == {"pending": 1}
    assert len(deliveries(hub.engine)) == 2


def test_business_messages_and_other_events_are_stored_and_ignored(client, hub):
    payload = copy.deepcopy(SUNSHINE_MESSAGE)
    payload["events"][0]["payload"]["message"]["author"] = {"type": "business", "displayName": "Bot"}
    payload["events"].append(
        {"id": "typing-1", "type": "conversation:typing", "createdAt": "2020-09-30T18:00:57Z"}
    )
    response = post(client, payload)
    assert [e["result"] for e in response.json["events"]] == ["ignored", "ignored"]
    with hub.engine.connect() as connection:
        assert inbox.counts_by_status(connection) == {}
    stored = deliveries(hub.engine)
    assert "X-API-Key" not in stored[0].headers and SUNSHINE_KEY not in stored[0].headers


def test_a_wrong_or_missing_api_key_is_401(client, hub):
    assert post(client, SUNSHINE_MESSAGE, key="wrong").status_code == 401
    assert post(client, SUNSHINE_MESSAGE, key=None).status_code == 401
    assert post(client, SUNSHINE_MESSAGE, key="ñ").status_code == 401
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("environment", [{"CTIHUB_SUNSHINE_API_KEY": ""}])
def test_an_unconfigured_key_answers_503(client, environment):
    response = post(client, SUNSHINE_MESSAGE)
    assert response.status_code == 503
    assert "CTIHUB_SUNSHINE_API_KEY" in response.json["error"]["message"]


@pytest.mark.parametrize("environment", [{"CTIHUB_SUNSHINE_DEFAULT_INTENT": "nope"}])
def test_a_bad_default_intent_keeps_the_message_as_failed_and_sunshine_retries(client, hub, environment):
    response = post(client, SUNSHINE_MESSAGE)
    assert response.status_code == 500  # Sunshine retries 5xx for 15 minutes
    [delivery] = deliveries(hub.engine)
    assert delivery.status == "failed"
    assert "CTIHUB_SUNSHINE_DEFAULT_INTENT names 'nope'" in delivery.detail
    named = copy.deepcopy(SUNSHINE_MESSAGE)
    named["events"][0]["id"] = "e-with-intent"
    named["events"][0]["payload"]["message"]["id"] = "m-with-intent"
    named["events"][0]["payload"]["message"]["metadata"] = {"intent": "billing"}
    assert post(client, named).status_code == 200  # a message naming a known intent needs no default


def test_wrong_content_type_oversize_and_malformed_bodies(client):
    assert post(client, SUNSHINE_MESSAGE, content_type="application/x-www-form-urlencoded").status_code == 415
    assert post(client, b"[" + b" " * (1024 * 1024) + b"]").status_code == 413
    assert post(client, b"{nope").status_code == 400
    assert post(client, {"events": "none"}).status_code == 422  # JSON, but not a webhook payload
