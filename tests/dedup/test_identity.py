"""Identity safety: only strong identifiers join; ambiguity is recorded and never merged."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.bootstrap import build_hub
from hub.domain.identity import external, normalize_email
from hub.services.identity import normalize_phone
from hub.settings import Settings
from hub.store import customers, dedup
from hub.store.tables import customer_identifiers, inbox
from tests.conftest import MAPPINGS, T0
from tests.fakes import FakeCRM

PHONE = "+14155550100"


@pytest.fixture
def crm() -> FakeCRM:
    return FakeCRM()


@pytest.fixture
def hub(sqlite_engine, clock, crm):
    settings = Settings(mappings_dir=MAPPINGS, crm="zendesk", webhook_secret="s", api_token="t")
    return build_hub(settings, clock=clock, crm=crm, engine=sqlite_engine)


class Events:
    def __init__(self, hub) -> None:
        self.hub = hub
        self.count = 0

    def __call__(self, customer: dict, **changes) -> str:
        self.count += 1
        event = {
            "event_id": f"e{self.count}",
            "source": "web-chat",
            "occurred_at": "2026-11-23T14:00:00Z",
            "channel": "chat",
            "customer": customer,
            "intent": "billing",
            "outcome": "failed",
            **changes,
        }
        self.hub.ingest.accept(json.dumps(event).encode())
        self.hub.new_worker().drain()
        with self.hub.engine.connect() as connection:
            row = connection.execute(select(inbox).where(inbox.c.event_id == event["event_id"])).one()
        assert row.status == "linked"
        return row.customer_key


@pytest.fixture
def send(hub) -> Events:
    return Events(hub)


def ambiguous(hub) -> list[dict]:
    with hub.engine.connect() as connection:
        return dedup.ambiguous(connection)


def owners(hub) -> dict[tuple[str, str], str]:
    with hub.engine.connect() as connection:
        rows = connection.execute(select(customer_identifiers)).all()
    return {(r.kind, r.value): r.customer_key for r in rows}


def test_a_phone_and_an_email_of_two_customers_never_merge_the_event_gets_its_own(send, hub, crm):
    by_phone = send({"phone": "(415) 555-0100"})
    by_email = send({"email": "jane@example.com"})
    before = owners(hub)
    both = send({"phone": PHONE, "email": "Jane@Example.com"})
    assert both not in (by_phone, by_email)
    assert len(crm.cases) == 3  # neither customer's case got the stranger's activity
    assert owners(hub) == before  # no identifier changed owner, none was learned
    [match] = ambiguous(hub)
    assert match["reason"] == "conflicting_customers"
    assert sorted(match["candidates"]) == sorted([by_phone, by_email])
    assert match["assigned_key"] == both and match["event_ref"] == "web-chat:e3"
    assert {(i["kind"], i["value"]) for i in match["identifiers"]} == {
        ("phone", PHONE),
        ("email", "jane@example.com"),
    }
    # The same pair again is the same (ambiguous) customer: one case for it, not one per event.
    assert send({"phone": PHONE, "email": "jane@example.com"}, channel="sms", source="twilio-sms") == both
    assert len(crm.cases) == 3 and len(ambiguous(hub)) == 2


def test_a_platform_id_is_an_assertion_of_identity_the_phone_conflict_is_still_recorded(send, hub, crm):
    by_phone = send({"phone": PHONE})
    by_crm = send({"external_ids": {"zendesk_user": "77"}})
    assert send({"phone": PHONE, "external_ids": {"zendesk_user": "77"}}) == by_crm
    assert len(crm.cases) == 2
    [match] = ambiguous(hub)
    assert (match["reason"], match["assigned_key"]) == ("conflicting_customers", by_crm)
    assert sorted(match["candidates"]) == sorted([by_phone, by_crm])
    assert send({"phone": PHONE}) == by_phone  # the phone still belongs to its first customer


def test_two_platform_ids_of_two_customers_are_ambiguous(send, hub):
    a = send({"external_ids": {"zendesk_user": "1"}})
    b = send({"external_ids": {"salesforce_contact": "003000000000001"}})
    both = send({"external_ids": {"zendesk_user": "1", "salesforce_contact": "003000000000001"}})
    assert both not in (a, b)
    assert ambiguous(hub)[0]["candidates"] == sorted([a, b])


def test_a_shared_phone_joins_no_one(send, hub, crm):
    jane = send({"phone": PHONE, "email": "jane@example.com"})
    with hub.engine.begin() as connection:
        assert customers.mark_shared(
            connection,
            normalize_phone(PHONE, "US"),
            ["salesforce:003A", "salesforce:003B"],
            source="t",
            now=T0,
        )
    alone = send({"phone": "415-555-0100"})
    assert alone != jane
    [match] = ambiguous(hub)
    assert (match["reason"], match["candidates"]) == (
        "shared_identifier",
        ["salesforce:003A", "salesforce:003B"],
    )
    assert len(crm.cases) == 2
    # With an identifier that is not shared, that one decides: Jane, and nothing is ambiguous.
    assert send({"phone": PHONE, "email": "jane@example.com"}) == jane
    assert len(ambiguous(hub)) == 1


def test_a_name_never_joins_and_a_namesake_is_recorded_for_an_agent(send, hub, crm):
    known = send({"email": "jane@example.com", "name": "Jane Doe"})
    first = send({"name": "Jane Doe"})
    second = send({"name": "jane doe", "phone": "call me maybe"})  # unparseable: weak
    assert len({known, first, second}) == 3
    assert len(crm.cases) == 3
    matches = ambiguous(hub)
    assert [m["reason"] for m in matches] == ["name_only", "name_only"]
    assert all(m["candidates"] == [known] for m in matches)  # only customers known by a strong id


def test_an_event_replayed_records_its_ambiguity_once(send, hub):
    send({"phone": PHONE})
    send({"email": "jane@example.com"})
    send({"phone": PHONE, "email": "jane@example.com"})
    with hub.engine.begin() as connection:
        connection.execute(
            inbox.update().where(inbox.c.event_id == "e3").values(status="pending", attempts=1)
        )
    hub.new_worker().drain()
    assert len(ambiguous(hub)) == 1


def test_resolution_rules_on_both_databases(engine):
    phone, email = normalize_phone(PHONE, "US"), normalize_email("a@b.co")
    with engine.begin() as connection:
        a = customers.resolve_identity(connection, [phone], name=None, fallback_key="x", now=T0)
        b = customers.resolve_identity(connection, [email], name=None, fallback_key="y", now=T0)
        both = customers.resolve_identity(connection, [phone, email], name=None, fallback_key="z", now=T0)
        again = customers.resolve_identity(connection, [email, phone], name=None, fallback_key="w", now=T0)
        crm_id = customers.resolve_identity(
            connection, [phone, external("zendesk_user", "9")], name=None, fallback_key="v", now=T0
        )
    assert not a.ambiguous and not b.ambiguous
    assert both.ambiguous and both.key == again.key == customers.ambiguous_key_for([phone, email])
    assert both.key not in (a.key, b.key, "z")
    assert not crm_id.ambiguous and crm_id.key == a.key  # an unknown CRM id is learned for the phone's owner
