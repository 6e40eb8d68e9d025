"""Salesforce outbound messages about Contacts, Leads and Person Accounts: their do-not-contact flags go
to the consent ledger, once per notification, as blocks (never as consent). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.services.recovery_metrics import recovery_metrics
from hub.store import consent
from hub.store.tables import consent_ledger
from tests.conftest import T0
from tests.webhooks.conftest import SALESFORCE_TOKEN, deliveries
from tests.webhooks.test_salesforce_endpoint import ACK, envelope
from tests.webhooks.test_salesforce_endpoint import post as post_unauthenticated
from webhooks import salesforce_outbound

CONTACT = "0035g00000QrStUAAV"
LEAD = "00Q5g00000LeadAAAA"
TOKEN = SALESFORCE_TOKEN


@pytest.fixture
def crm_name() -> str:
    return "salesforce"


def post(client, body: bytes):
    return post_unauthenticated(client, body, query=f"?token={TOKEN}")


def person(
    notification_id: str,
    fields: dict[str, str],
    *,
    sobject: str = "Contact",
    record_id: str = CONTACT,
    modified: str | None = "2026-11-23T14:58:00.000Z",
) -> str:
    written = "".join(f"<sf:{name}>{value}</sf:{name}>" for name, value in fields.items())
    stamp = f"<sf:LastModifiedDate>{modified}</sf:LastModifiedDate>" if modified else ""
    return f"""
   <Notification>
    <Id>{notification_id}</Id>
    <sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{record_id}</sf:Id>{written}{stamp}
    </sObject>
   </Notification>"""


def ledger(hub) -> list[tuple]:
    with hub.engine.connect() as connection:
        rows = connection.execute(select(consent_ledger).order_by(consent_ledger.c.id)).all()
    return [(r.channel, r.address, r.granted, r.source) for r in rows]


def standing(hub, channel: str, address: str):
    with hub.engine.connect() as connection:
        return consent.standing_consent(connection, channel, address)


def test_do_not_call_blocks_every_phone_of_the_contact_once(client, hub):
    fields = {"Phone": "(415) 555-0100", "MobilePhone": "+1 415 555 0199", "DoNotCall": "true"}
    body = envelope(person("04l5g00000Aaaa1AAA", fields))
    for _ in range(2):  # Salesforce redelivers until acknowledged
        response = post(client, body)
        assert response.status_code == 200 and response.data == ACK
    assert ledger(hub) == [
        ("voice", "+14155550100", False, "crm:salesforce"),
        ("voice", "+14155550199", False, "crm:salesforce"),
    ]
    [delivery] = deliveries(hub.engine)
    assert (delivery.kind, delivery.status) == ("Contact", "processed")
    assert delivery.detail == f"Contact {CONTACT}: voice blocked by DoNotCall for 2 address(es)"
    assert "415" not in delivery.detail


def test_a_cleared_flag_lifts_the_block_but_is_no_consent(client, hub):
    fields = {"Email": "Jo@Example.com", "HasOptedOutOfEmail": "true"}
    post(client, envelope(person("04l5g00000Aaaa1AAA", fields)))
    assert standing(hub, "email", "jo@example.com").granted is False
    cleared = {**fields, "HasOptedOutOfEmail": "false"}
    post(client, envelope(person("04l5g00000Aaaa2AAA", cleared, modified="2026-11-23T15:30:00.000Z")))
    assert standing(hub, "email", "jo@example.com") is None  # unblocked, and still nobody said yes
    assert [r[2] for r in ledger(hub)] == [False, True]


def test_an_older_state_delivered_late_does_not_win(client, hub):
    newer = {"Phone": "+14155550100", "DoNotCall": "false"}
    older = {"Phone": "+14155550100", "DoNotCall": "true"}
    post(client, envelope(person("04l5g00000Aaaa2AAA", newer, modified="2026-11-23T15:30:00.000Z")))
    post(client, envelope(person("04l5g00000Aaaa1AAA", older, modified="2026-11-23T14:00:00.000Z")))
    assert standing(hub, "voice", "+14155550100") is None  # the later "cleared" stands


def test_leads_and_person_accounts_carry_the_same_flags(client, hub):
    lead = person("04l5g00000Aaaa1AAA", {"Phone": "+14155550101", "DoNotCall": "true"}, sobject="Lead")
    account = person(
        "04l5g00000Aaaa2AAA",
        {"PersonMobilePhone": "+14155550102", "PersonEmail": "p@example.com", "PersonDoNotCall": "true",
         "PersonHasOptedOutOfEmail": "false"},
        sobject="Account",
        record_id="0015g00000Person1AA",
    )  # fmt: skip
    post(client, envelope(lead, account))
    assert sorted(ledger(hub)) == [
        ("email", "p@example.com", True, "crm:salesforce"),
        ("voice", "+14155550101", False, "crm:salesforce"),
        ("voice", "+14155550102", False, "crm:salesforce"),
    ]


def test_a_message_without_flags_or_addresses_changes_nothing_and_says_what_to_add(client, hub):
    post(client, envelope(person("04l5g00000Aaaa1AAA", {"Phone": "+14155550100"})))
    post(client, envelope(person("04l5g00000Aaaa2AAA", {"DoNotCall": "true"})))
    assert ledger(hub) == []
    details = [d.detail for d in deliveries(hub.engine)]
    assert all(d.endswith("add DoNotCall / HasOptedOutOfEmail and Phone / MobilePhone / Email to the "
                          "outbound message's fields") for d in details)  # fmt: skip
    assert {d.status for d in deliveries(hub.engine)} == {"ignored"}


def test_an_unparseable_phone_is_skipped_and_the_rest_recorded(client, hub):
    fields = {"Phone": "ask reception", "MobilePhone": "+14155550100", "DoNotCall": "true"}
    post(client, envelope(person("04l5g00000Aaaa1AAA", fields)))
    assert ledger(hub) == [("voice", "+14155550100", False, "crm:salesforce")]


def test_the_flags_of_a_notification():
    message = salesforce_outbound.parse_message(
        envelope(
            person(
                "04l5g00000Aaaa1AAA",
                {"Phone": "1", "DoNotCall": "false", "PersonDoNotCall": "true", "PersonHomePhone": "2"},
                sobject="Account",
            )
        )
    )
    [flag] = message.notifications[0].consent_flags()
    assert (flag.channel, flag.field, flag.set, flag.addresses) == (
        "voice",
        "PersonDoNotCall",
        True,
        ("1", "2"),
    )


def test_a_cleared_flag_on_another_record_does_not_lift_the_block(client, hub):
    phone = {"Phone": "+14155550100"}
    post(client, envelope(person("04l5g00000Aaaa1AAA", {**phone, "DoNotCall": "true"}, sobject="Lead",
                                 record_id=LEAD)))  # fmt: skip
    later = "2026-11-23T14:59:00.000Z"
    post(client, envelope(person("04l5g00000Aaaa2AAA", {**phone, "DoNotCall": "false"}, modified=later)))
    blocked = standing(hub, "voice", "+14155550100")
    assert (blocked.granted, blocked.crm_records) == (False, (LEAD,))  # the Contact's clear is its own
    post(client, envelope(person("04l5g00000Aaaa3AAA", {**phone, "DoNotCall": "false"}, sobject="Lead",
                                 record_id=LEAD, modified=later)))  # fmt: skip
    assert standing(hub, "voice", "+14155550100") is None


def test_a_future_date_counts_as_when_the_message_was_received(client, hub, clock):
    phone = {"Phone": "+14155550100"}
    post(client, envelope(person("04l5g00000Aaaa1AAA", {**phone, "DoNotCall": "true"})))
    forged = "2099-01-01T00:00:00.000Z"  # would outrank every real decision to come
    post(client, envelope(person("04l5g00000Aaaa2AAA", {**phone, "DoNotCall": "false"}, modified=forged)))
    with hub.engine.connect() as connection:
        dates = connection.execute(select(consent_ledger.c.decided_at).order_by(consent_ledger.c.id))
        assert list(dates.scalars())[-1] == T0  # received at T0
    clock.advance(hours=1)
    modified = (T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    post(client, envelope(person("04l5g00000Aaaa3AAA", {**phone, "DoNotCall": "true"}, modified=modified)))
    assert standing(hub, "voice", "+14155550100").granted is False


@pytest.mark.parametrize("environment", [{"CTIHUB_SALESFORCE_OUTBOUND_TOKEN": ""}])
def test_without_the_token_no_flag_is_read_at_all(client, hub):
    """An org id is no secret: without the token nothing is accepted, so nothing is set or lifted."""
    fields = {"Phone": "+14155550100", "Email": "jo@example.com", "DoNotCall": "false"}
    response = post_unauthenticated(client, envelope(person("04l5g00000Aaaa1AAA", fields)), query="")
    assert response.status_code == 503
    assert b"CTIHUB_SALESFORCE_OUTBOUND_TOKEN" in response.data
    assert deliveries(hub.engine) == [] and ledger(hub) == []
    assert recovery_metrics(hub.engine)["crm_flags"] == {"lifts_not_applied": 0}


def test_a_delivery_processed_without_a_token_never_lifts_a_block(client, hub):
    """Defence in depth for deliveries stored before the token was required (a failed one is
    processed again by ``retry_failed``): without the token a cleared flag is kept, not applied."""
    from hub.services.channel_events import SALESFORCE_OUTBOUND, ChannelEvents, ChannelSettings

    fields = {"Phone": "+14155550100", "DoNotCall": "true"}
    post(client, envelope(person("04l5g00000Aaaa1AAA", fields)))
    events = ChannelEvents.for_hub(hub)
    untokened = ChannelEvents(
        engine=events.engine, clock=events.clock, validator=events.validator, settings=ChannelSettings()
    )
    _, items = salesforce_outbound.SOURCE.parse(
        envelope(person("04l5g00000Aaaa2AAA", {**fields, "DoNotCall": "false"}))
    )
    [receipt] = untokened.receive(SALESFORCE_OUTBOUND, {}, items).items
    assert receipt.status == "ignored" and "not applied" in (receipt.detail or "")
    assert standing(hub, "voice", "+14155550100").granted is False
    assert recovery_metrics(hub.engine)["crm_flags"] == {"lifts_not_applied": 1}
