"""Twilio status callbacks on ``POST /webhooks/twilio/sms``: the delivery result of recovery texts,
out of order and redelivered, 21610 as an opt-out, the connect rate. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import text, update

from hub.mappings.recovery import load_recovery_config
from hub.services.recovery import RecoveryService
from hub.services.recovery.delivery import catch_up
from hub.services.recovery_metrics import recovery_metrics
from hub.store import consent, inbox
from hub.store import recovery as store
from hub.store.recovery_tables import recovery_attempts
from tests.conftest import MAPPINGS
from tests.recovery.conftest import FakeSender
from tests.webhooks.conftest import deliveries, shared_file
from webhooks import twilio_sms

NY_PHONE = "+12125550100"  # 10:00 in New York at T0
FIRST_SID = f"SM{1:032d}"  # the FakeSender's first message id
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@pytest.fixture
def recovery(hub) -> RecoveryService:
    return RecoveryService(
        engine=hub.engine,
        config=load_recovery_config(MAPPINGS),
        clock=hub.clock,
        crm=hub.crm,
        mapping=hub.mappings.crm("zendesk"),
        catalog=hub.mappings.catalog,
        sender=FakeSender(),
        owner="test-recovery",
    )


def send_text(hub, clock, recovery: RecoveryService) -> dict:
    """A failed self-service flow with SMS consent: the recovery text goes out 10 minutes later."""
    event = {
        "event_id": "ivr-1",
        "source": "ivr",
        "occurred_at": clock.now().isoformat(),
        "channel": "self_service",
        "customer": {"phone": NY_PHONE},
        "intent": "billing",
        "outcome": "failed",
        "consent": {"sms": True},
    }
    with hub.engine.begin() as connection:
        inbox.add_event(
            connection, source="ivr", event_id="ivr-1", payload=json.dumps(event), now=clock.now()
        )
    assert hub.new_worker().drain() == 1
    recovery.tick()
    clock.advance(minutes=10)
    recovery.tick()
    return sms_attempt(hub)


def sms_attempt(hub) -> dict:
    with hub.engine.connect() as connection:
        return next(a for a in store.all_attempts(connection) if a["action"] == "sms")


def status(twilio, message_status: str, *, sid: str = FIRST_SID, error: str | None = None, **extra: str):
    params = [("MessageSid", sid), ("MessageStatus", message_status), ("To", NY_PHONE), *extra.items()]
    if error:
        params.append(("ErrorCode", error))
    response = twilio.post(params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.data == EMPTY_TWIML
    return deliveries(twilio.client.application.extensions["ctihub"].engine)[-1]


def delivery_of(hub, sid: str = FIRST_SID):
    with hub.engine.connect() as connection:
        return store.sms_status(connection, sid)


def test_statuses_only_move_forward_whatever_order_they_arrive_in(hub, clock, twilio, recovery):
    attempt = send_text(hub, clock, recovery)
    assert attempt["provider_id"] == FIRST_SID
    status(twilio, "sent")
    delivered = status(twilio, "delivered")
    assert (delivered.kind, delivered.status) == ("status:delivered", "processed")
    late = status(twilio, "sending")  # out of order: arrives after "delivered"
    assert "not newer" in late.detail
    status(twilio, "delivered")  # a redelivery: stored once, changes nothing
    assert len(deliveries(hub.engine)) == 3
    assert delivery_of(hub).status == "delivered"
    trail = [t for t in store_trail(hub) if t["event"] == "delivery"]
    assert [t["reason"] for t in trail] == ["sms_sent", "sms_delivered"]


def test_an_undelivered_text_is_told_to_the_agent(hub, clock, twilio, recovery):
    send_text(hub, clock, recovery)
    status(twilio, "undelivered", error="30003")
    assert (delivery_of(hub).status, delivery_of(hub).error_code) == ("undelivered", "30003")
    recovery.write_back(clock.now())
    bodies = [a["activity"].body for a in hub.crm.activities.values()]
    [note] = [b for b in bodies if b.startswith("Recovery: SMS with a link failed")]
    assert note.splitlines()[0] == "Recovery: SMS with a link failed (the carrier could not deliver the text)"
    assert "Twilio reported the text undelivered (error 30003)" in note


def test_error_21610_is_an_sms_opt_out(hub, clock, twilio, recovery):
    send_text(hub, clock, recovery)
    stop = status(twilio, "failed", error="21610")
    assert stop.detail.endswith("SMS consent revoked (21610)")
    with hub.engine.connect() as connection:
        standing = consent.standing_consent(connection, "sms", NY_PHONE)
    assert (standing.granted, standing.source) == (False, "twilio:21610")


def test_a_second_failure_with_21610_is_not_taken_for_a_redelivery(hub, clock, twilio, recovery):
    send_text(hub, clock, recovery)
    status(twilio, "failed", error="30007")  # carrier filtering first
    stop = status(twilio, "failed", error="21610")  # then Twilio's own: the recipient opted out
    assert (stop.status, stop.detail.endswith("SMS consent revoked (21610)")) == ("processed", True)
    with hub.engine.connect() as connection:
        standing = consent.standing_consent(connection, "sms", NY_PHONE)
    assert (standing.granted, standing.source) == (False, "twilio:21610")
    status(twilio, "failed", error="21610")  # a redelivery of that one is still stored once
    assert len(deliveries(hub.engine)) == 2


def test_a_callback_faster_than_the_tick_is_kept_and_acted_on_when_the_text_is_recorded(
    hub, clock, twilio, recovery
):
    early = status(twilio, "undelivered", error="30005")
    assert early.status == "unmatched" and "no recovery attempt (yet)" in early.detail
    send_text(hub, clock, recovery)  # FakeSender's first text is FIRST_SID
    with hub.engine.connect() as connection:
        notes = [w["subject"] for w in store.writebacks(connection)]
    assert "Recovery: SMS with a link failed (the carrier could not deliver the text)" in notes


def test_the_connect_rate_reads_delivered_texts(hub, clock, twilio, recovery):
    send_text(hub, clock, recovery)
    metrics = recovery_metrics(hub.engine)
    assert (metrics["connect_rate"], metrics["connect_basis"]) == (
        0.0,
        {"delivery_status": 0, "recovered_plan": 1},
    )  # no status yet, nobody came back: the proxy says not connected
    status(twilio, "delivered")
    metrics = recovery_metrics(hub.engine)
    assert (metrics["connect_rate"], metrics["connect_basis"]["delivery_status"]) == (1.0, 1)
    assert metrics["sms_delivery"] == {"delivered": 1, "not_delivered": 0, "unknown": 0, "rate": 1.0}


def test_a_status_callback_with_a_wrong_signature_is_refused(hub, twilio):
    params = [("MessageSid", FIRST_SID), ("MessageStatus", "delivered")]
    response = twilio.post(params, token="not-the-auth-token")
    assert response.status_code == 401
    assert deliveries(hub.engine) == []


def test_twilios_own_status_callback_forms(hub, twilio):
    data = json.loads(
        shared_file("fixtures/payloads/twilio_inbound_sms_and_status_forms.courier.json").read_text()
    )
    for name in ("statusStop", "statusValid", "statusRead", "statusRateLimit"):
        params = parse_qsl(data[name]["raw_body"], keep_blank_values=True)
        assert twilio.post(params).status_code == 200
    assert [(d.kind, d.provider_id.partition(":")[2]) for d in deliveries(hub.engine)] == [
        ("status:failed", "failed:21610"),
        ("status:delivered", "delivered"),
        ("status:read", "read"),
        ("status:failed", "failed:63018"),
    ]  # statusRateLimit is a second "failed" of the same message, with another error: not a redelivery
    assert delivery_of(hub, "SMe287d7109a5a925f182f0e07fe5b223b").status == "read"
    with hub.engine.connect() as connection:
        standing = consent.standing_consent(connection, "sms", "+12028831111")
    assert standing.granted is False  # statusStop: 21610


def test_a_status_that_is_not_a_delivery_status_is_ignored(hub, twilio):
    stored = status(twilio, "receiving")
    assert stored.status == "ignored"


def test_parsing_keeps_the_error_code():
    item = twilio_sms.SOURCE.parse(b"MessageSid=SM1&MessageStatus=Undelivered&ErrorCode=30003")
    assert (item.provider_id, item.event.status_callback, item.event.error_code) == (
        "SM1:undelivered:30003",
        "undelivered",
        "30003",
    )
    assert twilio_sms.SOURCE.parse(b"MessageSid=SM1&MessageStatus=sent&ErrorCode=").provider_id == "SM1:sent"


def store_trail(hub) -> list[dict]:
    with hub.engine.connect() as connection:
        return store.trail(connection)


# --- PostgreSQL: a status callback recorded while the tick records the same text ------------------
# Each transaction would miss the other's uncommitted row, and the undelivered text's note would never
# be written; the two serialize on the MessageSid (``hub.services.recovery.delivery``).

UNDELIVERED_NOTE = "Recovery: SMS with a link failed (the carrier could not deliver the text)"


def waiting_for_a_lock(engine) -> bool:
    with engine.connect() as connection:
        query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return connection.execute(query).scalar_one() > 0


def test_a_callback_and_the_tick_recording_the_same_text_do_not_miss_each_other(hub, clock, twilio, recovery):
    if hub.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two never overlap")
    sent = send_text(hub, clock, recovery)
    this = recovery_attempts.c.id == sent["id"]
    with hub.engine.begin() as connection:  # as if the tick had sent the text but not yet recorded it
        connection.execute(update(recovery_attempts).where(this).values(provider_id=None))
        attempt = store.get_attempt(connection, sent["id"])
        plan = store.get_plan(connection, attempt.plan_id)

    tick = hub.engine.connect()
    transaction = tick.begin()
    tick.execute(update(recovery_attempts).where(this).values(provider_id=FIRST_SID))
    catch_up(tick, attempt, plan, FIRST_SID, clock.now())  # no status yet
    callback: list = []
    webhook = threading.Thread(target=lambda: callback.append(status(twilio, "undelivered", error="30003")))
    webhook.start()
    deadline = time.monotonic() + 10
    while webhook.is_alive() and not waiting_for_a_lock(hub.engine) and time.monotonic() < deadline:
        time.sleep(0.02)
    transaction.commit()
    tick.close()
    webhook.join(timeout=10)

    [stored] = callback
    assert stored.detail.endswith(f"recovery attempt {attempt.key}")  # it saw the tick's MessageSid
    with hub.engine.connect() as connection:
        notes = [w["subject"] for w in store.writebacks(connection)]
    assert notes.count(UNDELIVERED_NOTE) == 1
