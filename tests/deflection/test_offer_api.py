"""``POST /v1/deflection/offer``: the rules applied to what the hub knows, every decision recorded."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from hub.bootstrap import build_hub
from hub.store.deflection_tables import deflection_decisions
from hub.web import create_app
from tests.conftest import MAPPINGS
from tests.deflection.conftest import E164, PHONE, SATURDAY, Offers, grant_sms, link_all
from tests.e2e.conftest import TOKEN, settings


def channels(answer) -> list[str]:
    return [o["channel"] for o in answer["offers"]]


def withheld(answer) -> dict[str, str]:
    return {w["channel"]: w["reason"] for w in answer["withheld"]}


def decisions(hub) -> list:
    with hub.engine.connect() as connection:
        return connection.execute(select(deflection_decisions).order_by(deflection_decisions.c.id)).all()


# --- the boundary ---------------------------------------------------------------------------------------


def test_the_offer_needs_the_api_token(offers):
    assert offers(token=None).status_code == 401
    response = offers(token="wrong")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_every_problem_in_the_body_is_listed_with_its_json_path(offers):
    response = offers(
        {
            "intent": "refund_please",
            "agents_available": -1,
            "preference": "fax",
            "attempts": [{"channel": "chat", "outcome": "bored", "at": "2026-11-23T10:00:00"}],
            "extra": 1,
        }
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    paths = [d["path"] for d in error["details"]]
    assert paths == sorted(paths)
    assert set(paths) == {
        "$.agents_available",
        "$.attempts[0].at",
        "$.attempts[0].outcome",
        "$.estimated_wait_seconds",
        "$.extra",
        "$.intent",
        "$.preference",
    }
    by_path = {d["path"]: d["message"] for d in error["details"]}
    assert by_path["$.estimated_wait_seconds"] == "is required"
    assert "unknown intent 'refund_please'" in by_path["$.intent"]
    assert "no UTC offset" in by_path["$.attempts[0].at"]


def test_a_body_that_is_not_json_is_400_and_the_wrong_media_type_415(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = client.post(
        "/v1/deflection/offer", data=b"{", headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed_json"
    assert client.post("/v1/deflection/offer", data=b"{}", headers=auth).status_code == 415


# --- the rules, end to end ---------------------------------------------------------------------------------


def test_a_busy_queue_gets_digital_offers_first_each_with_a_reason_and_the_context_token(offers):
    answer = offers.ok(intent="billing")
    assert answer["mode"] == "deflect"
    assert channels(answer) == ["chat", "voice"]  # billing lists no self-service; no SMS consent
    assert withheld(answer) == {
        "self_service": "not eligible: the intent taxonomy does not list self-service for 'billing'",
        "sms": "no SMS consent on record for this number; SMS is offered only with consent",
    }
    chat, voice = answer["offers"]
    assert chat["rank"] == 1 and chat["expected_response"] == "about 2 minutes"
    assert "voice queue under pressure (estimated wait about 7 minutes" in chat["reason"]
    assert voice["reason"].startswith("always offered, never a locked door")
    assert {o["context_token"] for o in answer["offers"]} == {answer["context_token"]}
    assert answer["customer_key"] is None and answer["episode_id"] is None  # a caller the hub never saw


def test_an_idle_agent_or_a_short_wait_means_voice_first(offers):
    assert channels(offers.ok(agents_available=2))[0] == "voice"
    answer = offers.ok(estimated_wait_seconds=60)
    assert answer["mode"] == "voice_first"
    assert channels(answer) == ["voice", "self_service", "chat"]


def test_negative_sentiment_puts_voice_first_with_context(offers):
    answer = offers.ok(sentiment="negative")
    assert answer["mode"] == "escalate"
    assert channels(answer)[0] == "voice"
    assert "the agent receives the context token" in answer["offers"][0]["reason"]


def test_self_service_that_failed_twice_in_the_hubs_episode_puts_chat_first(hub, post, offers):
    for number in (1, 2):
        post(
            event_id=f"ivr-{number}",
            source="ivr",
            channel="self_service",
            intent="password_reset",
            outcome="failed",
            customer={"phone": PHONE},
        )
    link_all(hub)
    # The caller claims nothing failed; the hub's own episode says otherwise, and wins.
    answer = offers.ok(attempts=[{"channel": "self_service", "outcome": "resolved"}])
    assert answer["mode"] == "chat_first"
    assert channels(answer) == ["chat", "voice"]
    assert withheld(answer)["self_service"] == (
        "self-service already failed 2 times in this episode; not offered again"
    )
    assert answer["episode_id"] is not None and answer["customer_key"].startswith("cus_")


def test_an_account_update_shares_the_password_reset_episode_through_its_family(hub, post, offers):
    post(
        event_id="c1", channel="chat", intent="password_reset", outcome="abandoned", customer={"phone": PHONE}
    )
    link_all(hub)
    answer = offers.ok(intent="account_update")
    assert answer["mode"] == "escalate"
    assert answer["offers"][0]["reason"].startswith("chat failed earlier in this episode")


def test_a_closed_episode_does_not_count(hub, post, offers, clock):
    post(event_id="c1", channel="chat", intent="password_reset", outcome="failed", customer={"phone": PHONE})
    link_all(hub)
    clock.advance(days=7)  # past the 72-hour window; Monday again, open
    answer = offers.ok()
    assert answer["episode_id"] is None
    assert answer["mode"] == "deflect"


def test_a_new_callers_reported_attempts_are_used_when_the_hub_knows_no_episode(offers, hub):
    answer = offers.ok(attempts=[{"channel": "chat", "outcome": "failed"}])
    assert answer["mode"] == "escalate"
    [row] = decisions(hub)
    assert json.loads(row.inputs)["attempts_from"] == "caller"


def test_after_hours_the_async_channels_promise_a_concrete_time_in_the_schedules_zone(offers, clock):
    clock.set(SATURDAY)
    answer = offers.ok(intent="delivery_update")
    assert answer["mode"] == "after_hours"
    assert channels(answer) == ["self_service", "chat", "voice"]
    expected = {o["channel"]: (o["expected_response"], o["expected_by"]) for o in answer["offers"]}
    assert expected["self_service"] == ("available now, around the clock", None)
    assert expected["chat"] == ("by Monday 30 November 09:30 EST", "2026-11-30T09:30:00-05:00")
    assert expected["voice"] == ("lines open Monday 30 November 09:00 EST", "2026-11-30T09:00:00-05:00")
    assert "schedule new-york" in answer["summary"]


def test_the_thanksgiving_holiday_of_sla_yaml_closes_the_lines(offers, clock):
    clock.set(SATURDAY - timedelta(days=2))  # Thursday 26 November, 10:00 in New York
    answer = offers.ok()
    assert answer["mode"] == "after_hours"
    assert answer["offers"][-1]["expected_response"] == "lines open Monday 30 November 09:00 EST"


def test_without_a_schedule_the_hub_is_always_open(tmp_path, sqlite_engine, clock, fake_crm):
    for source in MAPPINGS.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "deflection.yaml").write_text("queue: {wait_threshold_seconds: 60}\n")
    hub = build_hub(
        replace(settings(), mappings_dir=tmp_path), clock=clock, crm=fake_crm, engine=sqlite_engine
    )
    clock.set(SATURDAY)
    answer = Offers(create_app(hub=hub).test_client()).ok()
    assert answer["mode"] == "deflect"


def test_sms_is_offered_with_a_standing_consent_from_the_ledger(hub, offers):
    grant_sms(hub)
    answer = offers.ok()
    assert channels(answer) == ["self_service", "chat", "sms", "voice"]
    assert "standing SMS consent on record" in answer["offers"][2]["reason"]


def test_revoked_sms_consent_withholds_sms_with_the_reason(hub, offers, clock):
    grant_sms(hub, at=clock.now() - timedelta(days=2))
    grant_sms(hub, False, at=clock.now() - timedelta(days=1))
    answer = offers.ok(preference="sms")
    assert "sms" not in channels(answer)
    assert withheld(answer)["sms"] == "SMS consent was revoked; no texts until the customer opts in again"


def test_consent_given_in_an_interaction_reaches_the_offer(hub, post, offers):
    post(event_id="c1", channel="chat", outcome="resolved", consent={"sms": True}, customer={"phone": PHONE})
    link_all(hub)
    assert "sms" in channels(offers.ok())


def test_an_unparseable_phone_gets_no_sms_and_no_history(offers, hub):
    grant_sms(hub)
    answer = offers.ok(phone="not a number")
    assert "sms" not in channels(answer)
    assert answer["customer_key"] is None


# --- recording --------------------------------------------------------------------------------------------


def test_every_decision_is_recorded_with_its_inputs_offers_and_token_id(hub, post, offers, clock):
    post(event_id="c1", channel="chat", intent="password_reset", outcome="failed", customer={"phone": PHONE})
    link_all(hub)
    answer = offers.ok(metadata={"ivr_call_id": "CA123"})
    [row] = decisions(hub)
    assert row.jti == answer["decision_id"]
    assert row.decided_at == clock.now()
    assert (row.intent, row.mode) == ("password_reset", "escalate")
    assert (row.customer_key, row.episode_id) == (answer["customer_key"], answer["episode_id"])
    assert row.token_expires_at == clock.now() + timedelta(minutes=15)
    inputs = json.loads(row.inputs)
    assert inputs["phone"] == "+1***00" and inputs["phone_valid"] is True
    assert inputs["attempts_from"] == "hub"
    assert inputs["attempts"][0]["channel"] == "chat"
    assert inputs["sms_consent"] == "none"
    assert inputs["business_hours"] == {"schedule": "new-york", "open": True, "next_open": None}
    assert inputs["metadata"] == {"ivr_call_id": "CA123"}
    stored = json.loads(row.offers)
    assert [o["channel"] for o in stored["offers"]] == channels(answer)
    assert stored["summary"] == answer["summary"]
    assert E164 not in row.inputs + row.offers and "555-0100" not in row.inputs
    assert answer["context_token"] not in row.offers  # the bearer credential itself is not stored


def test_two_offers_are_two_decisions(hub, offers):
    first, second = offers.ok(), offers.ok()
    assert first["decision_id"] != second["decision_id"]
    assert len(decisions(hub)) == 2


def test_a_rejected_request_records_nothing(hub, offers):
    offers({"intent": "billing"})
    assert decisions(hub) == []
