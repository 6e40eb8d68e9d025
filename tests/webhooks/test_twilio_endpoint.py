"""``POST /webhooks/twilio/sms`` on SQLite and PostgreSQL: keywords, consent, inbox, replays, errors."""

from __future__ import annotations

import json

import pytest

from hub.store import consent, inbox
from hub.store.tables import consent_ledger
from tests.webhooks.conftest import CUSTOMER_PHONE, PUBLIC_URL, deliveries
from webhooks import twilio_sms

EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
OPT_OUTS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]


def standing(hub, address=CUSTOMER_PHONE):
    with hub.engine.connect() as connection:
        return consent.standing_consent(connection, "sms", address)


def ledger_rows(hub):
    with hub.engine.connect() as connection:
        return connection.execute(consent_ledger.select().order_by(consent_ledger.c.id)).all()


def assert_twiml(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.data == EMPTY_TWIML
    assert response.mimetype == "text/xml"


@pytest.mark.parametrize("word", OPT_OUTS)
def test_every_opt_out_keyword_revokes_sms_consent_before_twilio_hears_back(twilio, hub, word):
    response = twilio.sms(f" {word.lower()} ", sid="SM" + "a" * 32)
    assert_twiml(response)
    decision = standing(hub)
    assert (decision.granted, decision.source) == (False, f"twilio:{word}")
    [row] = ledger_rows(hub)
    assert row.source_ref == "SM" + "a" * 32
    [delivery] = deliveries(hub.engine, "twilio-sms")
    assert (delivery.kind, delivery.status) == (f"keyword:{word}", "processed")
    with hub.engine.connect() as connection:
        assert inbox.counts_by_status(connection) == {}  # a keyword is not a conversation


@pytest.mark.parametrize("word", ["START", "YES", "UNSTOP"])
def test_opt_in_keywords_restore_consent_after_a_stop(twilio, hub, clock, word):
    assert_twiml(twilio.sms("STOP"))
    clock.advance(minutes=1)
    assert_twiml(twilio.sms(word.lower()))
    decision = standing(hub)
    assert (decision.granted, decision.source) == (True, f"twilio:{word}")
    assert [r.granted for r in ledger_rows(hub)] == [False, True]


@pytest.mark.parametrize("word", ["HELP", "INFO"])
def test_help_keywords_are_recognized_and_change_nothing(twilio, hub, word):
    assert_twiml(twilio.sms(word))
    assert ledger_rows(hub) == []
    [delivery] = deliveries(hub.engine)
    assert (delivery.kind, delivery.status) == (f"keyword:{word}", "processed")
    assert "consent unchanged" in delivery.detail
    with hub.engine.connect() as connection:
        assert inbox.counts_by_status(connection) == {}


def test_advanced_opt_out_type_decides_for_custom_keywords(twilio, hub):
    assert_twiml(twilio.post(twilio.form("ARRET", OptOutType="STOP")))
    assert standing(hub).granted is False


def test_a_redelivered_stop_records_nothing_twice(twilio, hub, clock):
    form = twilio.form("STOP", sid="SM" + "b" * 32)
    assert_twiml(twilio.post(form))
    clock.advance(seconds=5)
    assert_twiml(twilio.post(form))
    assert len(ledger_rows(hub)) == 1
    assert len(deliveries(hub.engine)) == 1


def test_a_stop_from_a_whatsapp_address_does_not_touch_sms_consent(twilio, hub):
    assert_twiml(twilio.sms("STOP", sender="whatsapp:+14155550100"))
    assert ledger_rows(hub) == []
    [delivery] = deliveries(hub.engine)
    assert delivery.status == "ignored"


def test_an_sms_becomes_an_inbox_event_that_the_worker_links(twilio, hub, fake_crm):
    sid = "SM" + "c" * 32
    assert_twiml(twilio.sms("My bill is wrong, please call me", sid=sid))
    assert hub.wake_worker.is_set()
    with hub.engine.connect() as connection:
        status = inbox.event_status(connection, "twilio-sms", sid)
    assert status["status"] == "pending"
    assert hub.new_worker().drain() == 1
    [case] = fake_crm.cases.values()
    [activity] = fake_crm.activities_on(case["id"])
    assert "My bill is wrong, please call me" in activity.body
    assert case["customer"].phone == CUSTOMER_PHONE
    with hub.engine.connect() as connection:
        assert inbox.event_status(connection, "twilio-sms", sid)["status"] == "linked"


def test_stop_please_is_not_a_keyword_but_a_message_for_the_agent(twilio, hub):
    assert_twiml(twilio.sms("STOP PLEASE"))
    assert ledger_rows(hub) == []
    with hub.engine.connect() as connection:
        assert inbox.counts_by_status(connection) == {"pending": 1}


def test_a_replayed_sms_adds_one_inbox_event(twilio, hub):
    form = twilio.form("hello", sid="SM" + "d" * 32)
    assert_twiml(twilio.post(form))
    assert_twiml(twilio.post(form))
    with hub.engine.connect() as connection:
        assert inbox.counts_by_status(connection) == {"pending": 1}


def test_the_signature_is_checked_against_the_public_url_not_the_host_the_request_reached(twilio):
    form = twilio.form("hello")
    local = twilio_sms.compute_signature("twilio-auth-token", "http://localhost/webhooks/twilio/sms", form)
    assert twilio.post(form, signature=local).status_code == 401
    assert_twiml(twilio.post(form, url=f"{PUBLIC_URL}/webhooks/twilio/sms"))


def test_the_query_string_is_part_of_the_signed_url(twilio):
    form = twilio.form("hello")
    path = "/webhooks/twilio/sms?tenant=acme&x=1"
    assert_twiml(twilio.post(form, path=path, url=f"{PUBLIC_URL}{path}"))
    other = twilio.form("hello again")
    assert twilio.post(other, path=path, url=f"{PUBLIC_URL}/webhooks/twilio/sms").status_code == 401


def test_bad_or_missing_signatures_are_401_and_store_nothing(twilio, hub):
    form = twilio.form("STOP")
    for response in (
        twilio.post(form, token="not-the-token"),
        twilio.post(form, signature=""),
        twilio.post(form, signature="RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ):
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
    tampered = [(k, "START" if k == "Body" else v) for k, v in form]
    sig = twilio_sms.compute_signature("twilio-auth-token", f"{PUBLIC_URL}/webhooks/twilio/sms", form)
    assert twilio.post(tampered, signature=sig).status_code == 401
    assert deliveries(hub.engine) == []
    assert ledger_rows(hub) == []


@pytest.mark.parametrize(
    ("environment", "missing"),
    [
        ({"CTIHUB_TWILIO_AUTH_TOKEN": ""}, "CTIHUB_TWILIO_AUTH_TOKEN"),
        ({"CTIHUB_PUBLIC_URL": ""}, "CTIHUB_PUBLIC_URL"),
        ({"CTIHUB_PUBLIC_URL": "hub.example.com"}, "CTIHUB_PUBLIC_URL"),
    ],
)
def test_an_unconfigured_source_answers_503_naming_the_setting(twilio, environment, missing):
    response = twilio.sms("STOP")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "not_configured"
    assert missing in response.json["error"]["message"]
    assert missing in [d["path"] for d in response.json["error"]["details"]]


@pytest.mark.parametrize("environment", [{"CTIHUB_TWILIO_DEFAULT_INTENT": "nonsense"}])
def test_a_bad_default_intent_never_blocks_a_stop_and_keeps_messages_for_a_retry(twilio, hub, environment):
    assert_twiml(twilio.sms("STOP"))
    assert standing(hub).granted is False
    response = twilio.sms("my order never came")
    assert response.status_code == 500
    assert "CTIHUB_TWILIO_DEFAULT_INTENT" in response.json["error"]["details"][0]["message"]
    failed = deliveries(hub.engine)[-1]
    assert (failed.kind, failed.status) == ("sms", "failed")
    assert "CTIHUB_TWILIO_DEFAULT_INTENT names 'nonsense'" in failed.detail


def test_wrong_content_type_is_415(twilio):
    response = twilio.post(twilio.form("hi"), content_type="application/json")
    assert response.status_code == 415


def test_a_body_over_one_mebibyte_is_413(twilio):
    response = twilio.post(twilio.form("x" * (1024 * 1024)))
    assert response.status_code == 413


def test_a_signed_form_without_a_message_sid_is_422(twilio, hub):
    form = [(k, v) for k, v in twilio.form("hi") if k not in ("MessageSid", "SmsMessageSid")]
    response = twilio.post(form)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_body"
    assert deliveries(hub.engine) == []


def test_a_status_callback_of_a_text_the_hub_did_not_send_is_stored_as_unmatched(twilio, hub):
    params = [("MessageSid", "SM" + "e" * 32), ("MessageStatus", "delivered"), ("To", CUSTOMER_PHONE)]
    assert_twiml(twilio.post(params))
    [delivery] = deliveries(hub.engine)
    assert (delivery.kind, delivery.status) == ("status:delivered", "unmatched")
    assert "no recovery attempt" in delivery.detail


def test_the_stored_delivery_keeps_the_raw_body_and_the_provider_headers(twilio, hub):
    form = twilio.form("hello")
    twilio.post(form)
    [delivery] = deliveries(hub.engine)
    assert delivery.body.startswith("ToCountry=US&SmsMessageSid=")
    headers = json.loads(delivery.headers)
    assert {"Content-Type", twilio_sms.HEADER} <= set(headers) <= set(twilio_sms.KEPT_HEADERS)
