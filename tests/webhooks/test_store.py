"""The delivery store and the one-transaction processing model, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hub.services import channel_events
from hub.store import consent
from hub.store import webhook_deliveries as repo
from hub.store.schema import metadata
from hub.web.channel_webhooks import EXTENSION
from tests.webhooks.conftest import CUSTOMER_PHONE, deliveries


def store(connection, clock, provider_id="SM1", **changes):
    values = dict(
        source="twilio-sms",
        provider_id=provider_id,
        kind="sms",
        received_at=clock.now(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="Body=hi",
        event={"message_sid": provider_id},
    )
    values.update(changes)
    return repo.store(connection, **values)


def test_an_item_is_stored_once_per_source_and_provider_id(engine, clock):
    with engine.begin() as connection:
        first = store(connection, clock)
        again = store(connection, clock, body="Body=changed")
        other_source = store(connection, clock, source="zendesk")
    assert (first.inserted, again.inserted, other_source.inserted) == (True, False, True)
    assert first.id == again.id != other_source.id
    with engine.connect() as connection:
        assert repo.get(connection, "twilio-sms", "SM1")["body"] == "Body=hi"


def test_finish_records_each_attempt_and_failed_rows_are_claimed_again(engine, clock):
    with engine.begin() as connection:
        a = store(connection, clock, "SM-a")
        b = store(connection, clock, "SM-b")
        repo.finish(connection, a.id, status=repo.FAILED, detail="boom", now=clock.now())
        repo.finish(connection, b.id, status=repo.PROCESSED, detail="ok", now=clock.now())
    with engine.begin() as connection:
        [claimed] = repo.claim_failed(connection, limit=10, max_attempts=10)
        assert repo.claim_failed(connection, limit=10, max_attempts=1) == []
        assert (claimed.provider_id, claimed.attempts, claimed.detail) == ("SM-a", 1, "boom")
        repo.finish(connection, claimed.id, status=repo.PROCESSED, detail="ok", now=clock.now())
    with engine.begin() as connection:
        assert repo.claim_failed(connection, limit=10, max_attempts=10) == []
        assert repo.get(connection, "twilio-sms", "SM-a")["attempts"] == 2


def test_the_migration_creates_exactly_the_table_the_metadata_describes(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if "webhook_deliveries" in repr(d)] == []


class ProcessDied(BaseException):
    """Not an Exception: nothing in the hub catches it, as nothing survives a killed process."""


def test_a_crash_before_the_commit_leaves_neither_the_delivery_nor_the_revocation(twilio, hub, monkeypatch):
    def crash(*args, **kwargs):
        raise ProcessDied

    monkeypatch.setattr(channel_events.deliveries, "finish", crash)
    with pytest.raises(ProcessDied):
        twilio.sms("STOP")
    assert deliveries(hub.engine) == []
    with hub.engine.connect() as connection:
        assert consent.standing_consent(connection, "sms", CUSTOMER_PHONE) is None


def test_a_failed_stop_is_kept_and_the_scheduler_retry_revokes_consent(twilio, hub, client, monkeypatch):
    real = channel_events.consent.record_consent

    def broken(*args, **kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr(channel_events.consent, "record_consent", broken)
    response = twilio.sms("STOP")
    assert response.status_code == 500
    [delivery] = deliveries(hub.engine)
    assert (delivery.status, delivery.kind) == ("failed", "keyword:STOP")

    monkeypatch.setattr(channel_events.consent, "record_consent", real)
    events = client.application.extensions[EXTENSION].events
    assert events.retry_failed() == 1
    assert events.retry_failed() == 0
    [delivery] = deliveries(hub.engine)
    assert (delivery.status, delivery.attempts) == ("processed", 2)
    with hub.engine.connect() as connection:
        assert consent.standing_consent(connection, "sms", CUSTOMER_PHONE).granted is False


def test_a_retried_sms_reaches_the_inbox_and_wakes_the_worker(twilio, hub, client, monkeypatch):
    real = channel_events.inbox.add_event
    monkeypatch.setattr(channel_events.inbox, "add_event", lambda *a, **k: 1 / 0)
    assert twilio.sms("hello").status_code == 500
    monkeypatch.setattr(channel_events.inbox, "add_event", real)
    hub.wake_worker.clear()
    assert client.application.extensions[EXTENSION].events.retry_failed() == 1
    assert hub.wake_worker.is_set()
    assert hub.new_worker().drain() == 1


def test_settings_problems_name_every_setting(hub):
    settings = channel_events.ChannelSettings()
    assert [p.path for p in settings.problems("twilio-sms")] == [
        "CTIHUB_TWILIO_AUTH_TOKEN",
        "CTIHUB_PUBLIC_URL",
    ]
    assert [p.path for p in settings.problems("zendesk")] == ["CTIHUB_ZENDESK_WEBHOOK_SECRET"]
    assert [p.path for p in settings.problems("sunshine")] == ["CTIHUB_SUNSHINE_API_KEY"]
    assert [p.path for p in settings.problems("salesforce-outbound")] == [
        "CTIHUB_SALESFORCE_OUTBOUND_TOKEN",
        "CTIHUB_SALESFORCE_ORG_IDS",
    ]
    short = channel_events.ChannelSettings(zendesk_webhook_secret="x" * 31, sunshine_api_key="y" * 23)
    assert [(p.path, p.message) for p in short.problems("zendesk") + short.problems("sunshine")] == [
        ("CTIHUB_ZENDESK_WEBHOOK_SECRET", "is 31 characters; use at least 32 random ones"),
        ("CTIHUB_SUNSHINE_API_KEY", "is 23 characters; use at least 24 random ones"),
    ]
    assert "token" not in repr(channel_events.ChannelSettings(twilio_auth_token="token"))


def test_a_retried_stop_keeps_the_time_it_was_sent_so_a_later_start_still_wins(
    twilio, hub, client, clock, monkeypatch
):
    real = channel_events.consent.record_consent
    calls = []

    def fail_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("ledger unavailable")
        return real(*args, **kwargs)

    monkeypatch.setattr(channel_events.consent, "record_consent", fail_first)
    assert twilio.sms("STOP").status_code == 500
    clock.advance(minutes=10)
    assert twilio.sms("START").status_code == 200
    clock.advance(minutes=10)
    assert client.application.extensions[EXTENSION].events.retry_failed() == 1
    with hub.engine.connect() as connection:
        decisions = consent.decisions_for(connection, "sms", CUSTOMER_PHONE)
        standing = consent.standing_consent(connection, "sms", CUSTOMER_PHONE)
    assert [d.granted for d in decisions] == [False, True]  # ordered by when the customer decided
    assert standing.granted is True


def test_a_delivery_that_keeps_failing_is_left_for_an_operator_after_the_cap(
    twilio, hub, client, monkeypatch
):
    monkeypatch.setattr(channel_events.inbox, "add_event", lambda *a, **k: 1 / 0)
    assert twilio.sms("hello").status_code == 500
    events = client.application.extensions[EXTENSION].events
    assert [events.retry_failed(max_attempts=3) for _ in range(4)] == [1, 1, 0, 0]
    [delivery] = deliveries(hub.engine)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert "ZeroDivisionError" in delivery.detail


def test_a_failed_item_answers_500_without_the_database_text(twilio, hub, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    def echo(*args, **kwargs):
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key (phone)=(+14155550177)"))

    monkeypatch.setattr(channel_events.inbox, "add_event", echo)
    response = twilio.sms("hello")
    assert response.status_code == 500
    [problem] = response.json["error"]["details"]
    assert problem["message"] == "IntegrityError; details are in the hub's log"
    assert "4155550177" not in response.get_data(as_text=True)
    [delivery] = deliveries(hub.engine)
    assert "(phone)=(+14155550177)" in delivery.detail  # kept for the operator, in the database
