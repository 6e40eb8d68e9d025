"""The panel's data, assembled from one CRM record: trail, customer, SLA, recovery, parallel cases."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from hub.services.panel_format import mask_email, mask_phone
from hub.services.sla import SlaService
from hub.store.dedup_tables import ambiguous_matches, dedup_links
from tests.panel.conftest import TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def test_masks_keep_the_country_code_the_last_four_digits_and_the_first_letter():
    assert mask_phone("+14155550100") == "+1 ••• ••• 0100"
    assert mask_phone("+447700900123") == "+44 ••• ••• 0123"
    assert mask_email("jane.doe@example.com") == "j•••@example.com"
    assert mask_email("not-an-email") == "•••"


def test_the_trail_of_one_problem_across_three_channels_in_time_order(world):
    case_id = world.three_channels()
    body = world.client().get(world.path(case_id)).json
    assert body["found"] is True
    trail = body["trail"]
    assert [(t["channel"], t["outcome"]) for t in trail] == [
        ("self_service", "failed"),
        ("chat", "abandoned"),
        ("sms", "no_response"),
    ]
    assert [t["disposition"]["code"] for t in trail] == ["SS_FAILED", "CHAT_ABANDONED", "SMS_NO_RESPONSE"]
    assert trail[0]["disposition"]["label"] == "Self-service failed"
    assert trail[0]["summary"] == "Could not verify the charge in the IVR."
    assert trail[1]["transcript"]["lines"][0] == {"from": "customer", "text": "I was charged twice"}
    assert trail[2]["source"] == "twilio-sms"
    # times in the agent's zone (America/New_York): T0 is 15:00Z = 10:00 EST
    assert trail[2]["at"]["local"].endswith("09:50 EST")
    assert body["time_zone"] == "America/New_York"


def test_the_customer_is_masked_with_a_confidence_and_never_shows_raw_identifiers(world):
    case_id = world.three_channels()
    answer = world.client().get(world.path(case_id))
    customer = answer.json["customer"]
    assert customer["name"] == "Jane Doe"
    assert customer["phones"] == ["+1 ••• ••• 0100"]
    assert customer["emails"] == ["j•••@example.com"]
    assert customer["confidence"] == "medium"
    assert customer["ambiguity"] == []
    text = answer.get_data(as_text=True)
    assert "555" not in text and "jane.doe" not in text.lower()


def test_an_ambiguous_match_the_hub_recorded_is_a_warning(world):
    case_id = world.three_channels()
    with world.hub.engine.begin() as connection:
        key = world.client().get(world.path(case_id)).json  # noqa: F841 (the record exists)
        from sqlalchemy import select

        from hub.store.tables import episodes

        customer_key = connection.execute(select(episodes.c.customer_key)).scalar()
        connection.execute(
            insert(ambiguous_matches).values(
                event_ref="web-chat:x",
                reason="conflicting_customers",
                identifiers="[]",
                candidates='["cus_a", "cus_b"]',
                assigned_key=customer_key,
                at=world.clock.now(),
            )
        )
    customer = world.client().get(world.path(case_id)).json["customer"]
    assert customer["confidence"] == "low"
    [warning] = customer["ambiguity"]
    assert warning["candidates"] == 2 and "more than one customer" in warning["text"]


def test_a_record_the_hub_does_not_know_is_a_calm_answer_not_an_error(world):
    answer = world.client().get(world.path("999999"))
    assert answer.status_code == 200
    assert answer.json["found"] is False
    assert answer.json["message"].startswith("No hub activity for this ticket yet")
    assert "customer" not in answer.json and "trail" not in answer.json


def test_one_record_shows_only_what_it_leads_to(world):
    first = world.three_channels()
    world.post(
        event_id="other-1",
        customer={"email": "someone.else@example.org", "name": "Bo Other"},
        intent="order_status",
        summary="Where is my order?",
    )
    world.drain()
    other = world.case_id()
    assert other != first
    mine = world.client().get(world.path(first)).json
    theirs = world.client().get(world.path(other)).json
    assert mine["customer"]["name"] == "Jane Doe" and theirs["customer"]["name"] == "Bo Other"
    assert "Where is my order?" not in str(mine)
    assert [e["id"] for e in theirs["episodes"]] == [theirs["episode"]["id"]]


def test_the_sla_clocks_are_those_sla_explain_computes(world):
    case_id = world.three_channels()
    body = world.client().get(world.path(case_id)).json
    episode_id = body["episode"]["id"]
    derived = SlaService.for_hub(world.hub).episode(episode_id, world.clock.now())
    assert [c["metric"] for c in body["sla"]] == [c.metric for c in derived.current]
    assert body["sla"], "the shipped SLA policies apply to a billing episode"
    for shown, clock in zip(body["sla"], derived.current, strict=True):
        assert shown["status"] == clock.status
        assert shown["target_minutes"] == clock.target_minutes
        assert shown["due_at"]["iso"] == clock.due_at.isoformat().replace("+00:00", "Z")
        assert shown["remaining_minutes"] == round(clock.target_minutes - clock.elapsed_minutes, 2)
    # long after the due time the clock is breached, and says so
    world.clock.advance(days=5)
    late = world.client().get(world.path(case_id)).json["sla"]
    assert any(c["breached"] and c["remaining"].startswith("overdue by") for c in late)


def test_parallel_cases_linked_by_dedup_are_listed_with_a_link(world):
    case_id = world.three_channels()
    with world.hub.engine.begin() as connection:
        connection.execute(
            insert(dedup_links).values(
                crm="zendesk",
                duplicate_id="777",
                master_id=case_id,
                plan_id="dd_1",
                linked_at=world.clock.now(),
            )
        )
    [parallel] = world.client().get(world.path(case_id)).json["parallel"]
    assert parallel["id"] == "777" and "duplicate" in parallel["why"]


def test_a_case_of_the_same_problem_in_another_episode_is_a_parallel_case(world):
    case_id = world.three_channels()
    world.clock.advance(days=5)  # past the episode window: the next contact opens a new episode
    world.post(event_id="chat-2", occurred_at=world.clock.now().isoformat())
    world.drain()
    newer = world.case_id()
    assert newer != case_id
    body = world.client().get(world.path(newer)).json
    assert [p["id"] for p in body["parallel"]] == [case_id]
    assert [e["current"] for e in body["episodes"]] == [True, False]


def test_the_api_token_reads_the_panel_too(world):
    case_id = world.three_channels()
    client = world.app.test_client()
    assert client.get(world.path(case_id)).status_code == 401
    assert client.get(world.path(case_id), headers=BEARER).json["found"] is True


def test_a_panel_url_that_names_no_record_is_404(world):
    client = world.client()
    assert client.get("/v1/panel/zendesk/cases/1").status_code == 404
    assert client.get("/v1/panel/zendesk/tickets/1;drop").status_code == 404


def test_the_version_changes_when_an_event_is_linked_and_is_304_meanwhile(world):
    case_id = world.three_channels()
    client = world.client()
    first = client.get(world.path(case_id) + "/version")
    etag = first.headers["ETag"]
    assert client.get(world.path(case_id) + "/version", headers={"If-None-Match": etag}).status_code == 304
    world.post(
        event_id="sms-2",
        source="twilio-sms",
        channel="sms",
        outcome="resolved",
        occurred_at=(world.clock.now() - timedelta(minutes=1)).isoformat(),
    )
    world.drain()
    later = client.get(world.path(case_id) + "/version", headers={"If-None-Match": etag})
    assert later.status_code == 200 and later.headers["ETag"] != etag


def test_the_deflection_offer_that_sent_the_customer_is_shown_on_the_contact(world):
    import json as _json

    from hub.store.deflection_tables import deflection_decisions

    with world.hub.engine.begin() as connection:
        connection.execute(
            insert(deflection_decisions).values(
                jti="jti-offer-1",
                decided_at=world.clock.now() - timedelta(minutes=50),
                intent="billing",
                mode="deflect",
                inputs="{}",
                offers=_json.dumps({"summary": "SMS first", "offers": [{"rank": 1, "channel": "sms"}]}),
                token_expires_at=world.clock.now(),
            )
        )
    world.post(
        event_id="sms-offered",
        source="twilio-sms",
        channel="sms",
        outcome="abandoned",
        metadata={"deflection_id": "jti-offer-1"},
    )
    world.post(event_id="chat-plain", outcome="abandoned")
    world.drain()
    trail = world.client().get(world.path(world.case_id())).json["trail"]
    offered = {t["channel"]: t["offer"] for t in trail}
    assert offered["sms"]["mode"] == "deflect" and offered["sms"]["channels"] == ["sms"]
    assert offered["chat"] is None
