"""``GET /v1/episodes/<id>``: the episode, its links and its SLA clocks, through the link worker."""

from __future__ import annotations

import pytest

from hub.bootstrap import build_hub
from hub.services.sla import SlaService
from hub.store import sla as store
from hub.web import create_app
from tests.e2e.conftest import TOKEN, Poster, settings
from tests.fakes import FakeCRM


@pytest.fixture
def fake_crm() -> FakeCRM:
    return FakeCRM()


@pytest.fixture
def hub(sqlite_engine, clock, fake_crm):
    return build_hub(settings(), clock=clock, crm=fake_crm, engine=sqlite_engine)


@pytest.fixture
def client(hub):
    app = create_app(hub=hub)
    app.config["TESTING"] = True
    return app.test_client()


@pytest.fixture
def post(client, clock) -> Poster:
    return Poster(client, clock)


def get_episode(client, episode_id, token=TOKEN):
    return client.get(f"/v1/episodes/{episode_id}", headers={"Authorization": f"Bearer {token}"})


def linked_episode(post, hub, **changes) -> str:
    assert post(**changes).status_code == 202
    assert hub.new_worker().drain() == 1
    status = post.status(changes.get("source", "web-chat"), changes.get("event_id", "evt-1")).json
    assert status["status"] == "linked"
    return status["episode_id"]


def test_the_episode_with_its_links_and_clocks(post, hub, client, fake_crm):
    # 09:55 New York on Monday 2026-11-23, priority high: the first policy applies.
    episode_id = linked_episode(post, hub, priority="high", metadata={"tier": "gold"})
    post(event_id="sms-1", source="twilio-sms", channel="sms", occurred_at="2026-11-23T14:58:00Z")
    hub.new_worker().drain()
    response = get_episode(client, episode_id)
    assert response.status_code == 200
    body = response.json
    [case] = fake_crm.cases.values()
    assert body["id"] == episode_id
    assert body["intent"] == "billing" and body["intent_family"] == "billing"
    assert body["status"] == "open"
    assert body["opened_at"] == "2026-11-23T14:55:00Z"
    assert body["closed_reason"] is None
    assert body["links"]["cases"] == [
        {"crm": "zendesk", "object": "ticket", "id": case["id"], "created": True}
    ]
    assert [(e["source"], e["event_id"], e["case_id"], e["object"]) for e in body["links"]["events"]] == [
        ("web-chat", "evt-1", case["id"], "comment"),
        ("twilio-sms", "sms-1", case["id"], "comment"),
    ]
    # The SMS has no priority, so it is normal: the chat policy is not for SMS, "Everyone else" applies
    # from that event on (Zendesk: a changed policy applies from the next event).
    assert body["sla_policy"] == "Everyone else"
    assert body["sla"] == [
        {
            "metric": "first_reply_time",
            "target_minutes": 480,
            "business_hours": True,
            "due_at": "2026-11-24T14:55:00Z",  # 425 minutes on Monday, 55 on Tuesday
            "status": "active",
            "breached_at": None,
        },
        {
            "metric": "requester_wait_time",
            "target_minutes": 2400,
            "business_hours": True,
            "due_at": "2026-12-02T14:55:00Z",  # five business days; closed Thanksgiving Thursday and Friday
            "status": "active",
            "breached_at": None,
        },
        {
            "metric": "agent_work_time",
            "target_minutes": 960,
            "business_hours": True,
            "due_at": "2026-11-25T14:55:00Z",
            "status": "active",
            "breached_at": None,
        },
        {
            "metric": "total_resolution_time",
            "target_minutes": 20160,
            "business_hours": False,
            "due_at": "2026-12-07T14:55:00Z",
            "status": "active",
            "breached_at": None,
        },
    ]


def test_the_link_worker_records_the_contact_with_what_policies_match_on(post, hub):
    episode_id = linked_episode(post, hub, priority="urgent", metadata={"tier": "gold"})
    with hub.engine.connect() as connection:
        [event] = store.episode_events(connection, episode_id)
    assert (event.kind, event.at.isoformat()) == ("customer_message", "2026-11-23T14:55:00+00:00")
    assert event.attributes == {
        "channel": "chat",
        "intent": "billing",
        "priority": "urgent",
        "crm": "zendesk",
        "tier": "gold",
    }


def test_the_status_is_live_without_waiting_for_the_tick(post, hub, client, clock):
    episode_id = linked_episode(post, hub, priority="urgent")  # first reply: 30 calendar minutes
    clock.set(clock.now().replace(hour=15, minute=26))
    [frt] = [c for c in get_episode(client, episode_id).json["sla"] if c["metric"] == "first_reply_time"]
    assert frt == {
        "metric": "first_reply_time",
        "target_minutes": 30,
        "business_hours": False,
        "due_at": "2026-11-23T15:25:00Z",
        "status": "breached",
        "breached_at": "2026-11-23T15:25:00Z",
    }


def test_the_outcome_status_names_the_episode(post, hub, client):
    episode_id = linked_episode(post, hub)
    assert post.status("web-chat", "evt-1").json["episode_id"] == episode_id


def test_an_unknown_episode_is_a_json_404_and_the_token_is_required(client, post, hub):
    missing = get_episode(client, "ep_nope")
    assert missing.status_code == 404
    assert missing.json == {"error": {"code": "not_found", "message": "no episode 'ep_nope'", "details": []}}
    episode_id = linked_episode(post, hub)
    assert get_episode(client, episode_id, token="wrong").status_code == 401
    assert client.get(f"/v1/episodes/{episode_id}").status_code == 401


def test_an_episode_without_sla_history_has_an_empty_sla_list(hub, client, post):
    episode_id = linked_episode(post, hub)
    with hub.engine.begin() as connection:
        connection.execute(store.sla_events.delete())
    body = get_episode(client, episode_id).json
    assert (body["sla"], body["sla_policy"]) == ([], None)


def test_the_service_builds_from_the_hub(hub):
    service = SlaService.for_hub(hub)
    assert service.config is hub.mappings.sla and service.crm is hub.crm and service.clock is hub.clock
