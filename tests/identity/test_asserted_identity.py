"""Self-asserted identity never joins an existing customer (docs/identity.md).

The attack: a stranger opens a Sunshine conversation and sets their profile email to the victim's.
Before, the email joined the stranger to the victim's customer and bound the stranger's messaging
id to the victim for good. Now the stranger gets a customer of their own, the possible match is
recorded for an agent, and the victim's customer gains nothing. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json

from sqlalchemy import select

from hub.domain.identity import ASSERTED, CARRIER, EMAIL, PHONE, VERIFIED, Identifier, customer_key_for
from hub.store import customers, dedup
from hub.store.tables import consent_ledger, customer_identifiers, inbox
from tests.e2e.conftest import outcome
from tests.webhooks.conftest import CUSTOMER_PHONE, SUNSHINE_KEY
from tests.webhooks.test_parsing import SUNSHINE_MESSAGE
from webhooks.generic import HEADER, sign

VICTIM_EMAIL = "victim@example.com"
STRANGER_ID = "26508c10541a4b0ff472e5e2"  # the Sunshine user id in the recorded message


def sunshine(client, *, email=VICTIM_EMAIL, user_id=STRANGER_ID, message_id="msg-1", clock=None):
    payload = copy.deepcopy(SUNSHINE_MESSAGE)
    event = payload["events"][0]
    event["id"] = f"evt-{message_id}"
    message = event["payload"]["message"]
    message["id"] = message_id
    message["received"] = clock.now().isoformat() if clock else message["received"]
    message["author"]["userId"] = user_id
    message["author"]["user"] = {"id": user_id, "profile": {"email": email}} if email else {"id": user_id}
    response = client.post(
        "/webhooks/sunshine",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": SUNSHINE_KEY},
    )
    assert response.status_code == 200, response.json
    return response


def generic(client, clock, **changes):
    """A signed /v1/outcomes event, as a trusted platform sends it."""
    body = json.dumps(outcome(occurred_at=clock.now().isoformat(), **changes)).encode()
    signature = sign("test-webhook-secret-0123456789abcdef", body, int(clock.now().timestamp()))
    response = client.post(
        "/v1/outcomes", data=body, headers={HEADER: signature, "Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.get_json()


def victim(engine, clock, *identifiers: Identifier) -> str:
    with engine.begin() as connection:
        return customers.resolve_customer(
            connection, list(identifiers), name="Victim", fallback_key="unused", now=clock.now()
        )


def identifiers_of(engine, key):
    with engine.connect() as connection:
        return {(i.kind, i.value, i.proof) for i in customers.identifiers_of(connection, key)}


def customer_of(engine, event_id):
    with engine.connect() as connection:
        return connection.execute(select(inbox.c.customer_key).where(inbox.c.event_id == event_id)).scalar()


def test_a_stranger_asserting_the_victims_email_gets_a_customer_of_their_own(client, hub, clock, fake_crm):
    email = Identifier(EMAIL, VICTIM_EMAIL, VICTIM_EMAIL, proof=VERIFIED)
    victim_key = victim(hub.engine, clock, email)
    before = identifiers_of(hub.engine, victim_key)

    sunshine(client, clock=clock)
    assert hub.new_worker().drain() == 1

    stranger_key = customer_of(hub.engine, "msg-1")
    assert stranger_key != victim_key
    assert stranger_key == customer_key_for(Identifier("ext:messaging", STRANGER_ID, STRANGER_ID))
    # the victim's customer gains no identifier; the messaging id is bound to the stranger
    assert identifiers_of(hub.engine, victim_key) == before
    assert ("ext:messaging", STRANGER_ID, "platform") in identifiers_of(hub.engine, stranger_key)
    # the possible match is there for an agent, as dedup records every ambiguity
    with hub.engine.connect() as connection:
        [match] = dedup.ambiguous(connection)
    assert match["reason"] == customers.ASSERTED_MATCH
    assert match["candidates"] == [victim_key]
    assert match["assigned_key"] == stranger_key
    assert match["identifiers"] == [{"kind": EMAIL, "value": VICTIM_EMAIL}]
    # and the CRM is not told the email: Zendesk would file the ticket under the victim's user
    [case] = fake_crm.cases.values()
    assert case["customer"].email is None

    # the stranger coming back stays themself, with the match suggested again
    sunshine(client, clock=clock, message_id="msg-2")
    assert hub.new_worker().drain() == 1
    assert customer_of(hub.engine, "msg-2") == stranger_key
    assert identifiers_of(hub.engine, victim_key) == before


def test_an_email_asserted_first_never_captures_its_owner(client, hub, clock):
    """The reverse: the stranger asserts an email no one has yet; the owner proves it later."""
    sunshine(client, clock=clock, email="owner@example.com")
    assert hub.new_worker().drain() == 1
    stranger_key = customer_of(hub.engine, "msg-1")
    assert (EMAIL, "owner@example.com", ASSERTED) in identifiers_of(hub.engine, stranger_key)

    generic(client, clock, event_id="verified-1", customer={"email": "Owner@Example.com"})
    assert hub.new_worker().drain() == 1
    owner_key = customer_of(hub.engine, "verified-1")
    assert owner_key == customer_key_for(Identifier(EMAIL, "owner@example.com", ""))
    assert owner_key != stranger_key
    assert (EMAIL, "owner@example.com", VERIFIED) in identifiers_of(hub.engine, owner_key)
    assert (EMAIL, "owner@example.com", ASSERTED) not in identifiers_of(hub.engine, stranger_key)


def test_legitimate_proven_identifiers_still_join(client, hub, clock, twilio):
    key = victim(
        hub.engine,
        clock,
        Identifier(EMAIL, "jane@example.com", "", proof=VERIFIED),
        Identifier(PHONE, CUSTOMER_PHONE, "", proof=CARRIER),
    )
    # a signed platform event without proof vouches for its email (contract v1 as before)
    generic(client, clock, event_id="g-1", customer={"email": "jane@example.com"})
    # an SMS from the number: the carrier delivered it
    twilio.sms("my bill is wrong")
    # a platform event marking the phone as carrier-proven
    generic(client, clock, event_id="g-2", customer={"phone": CUSTOMER_PHONE, "proof": {"phone": "carrier"}})
    assert hub.new_worker().drain() == 3
    with hub.engine.connect() as connection:
        keys = set(connection.execute(select(inbox.c.customer_key)).scalars())
        assert dedup.ambiguous(connection) == []
    assert keys == {key}


def test_a_platform_may_mark_a_typed_email_as_asserted(client, hub, clock):
    key = victim(hub.engine, clock, Identifier(EMAIL, "jane@example.com", "", proof=VERIFIED))
    generic(
        client,
        clock,
        event_id="typed-1",
        customer={
            "email": "jane@example.com",
            "proof": {"email": "asserted"},
            "external_ids": {"chat": "v-9"},
        },
    )
    assert hub.new_worker().drain() == 1
    assert customer_of(hub.engine, "typed-1") == customer_key_for(Identifier("ext:chat", "v-9", ""))
    with hub.engine.connect() as connection:
        [match] = dedup.ambiguous(connection)
    assert match["candidates"] == [key]


def test_an_asserted_address_may_revoke_consent_but_never_grant_it(client, hub, clock):
    generic(
        client,
        clock,
        event_id="grant",
        customer={"email": "x@example.com", "proof": {"email": "asserted"}, "external_ids": {"chat": "a"}},
        consent={"email": True},
    )
    generic(
        client,
        clock,
        event_id="revoke",
        customer={"email": "x@example.com", "proof": {"email": "asserted"}, "external_ids": {"chat": "a"}},
        consent={"email": False},
    )
    assert hub.new_worker().drain() == 2
    with hub.engine.connect() as connection:
        rows = connection.execute(select(consent_ledger.c.address, consent_ledger.c.granted)).all()
    assert [tuple(r) for r in rows] == [("x@example.com", False)]


def test_a_bad_proof_value_is_422_naming_it(client, clock):
    body = json.dumps(
        outcome(
            occurred_at=clock.now().isoformat(), customer={"email": "a@b.co", "proof": {"email": "carrier"}}
        )
    ).encode()
    signature = sign("test-webhook-secret-0123456789abcdef", body, int(clock.now().timestamp()))
    response = client.post(
        "/v1/outcomes", data=body, headers={HEADER: signature, "Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert [d["path"] for d in response.get_json()["error"]["details"]] == ["$.customer.proof.email"]


def test_the_key_of_a_new_customer_does_not_depend_on_proof(engine, clock):
    """Racing workers must agree: the same phone as carrier or verified derives one key."""
    with engine.begin() as connection:
        a = customers.resolve_customer(
            connection,
            [Identifier(PHONE, "+14155550100", "", proof=CARRIER)],
            name=None,
            fallback_key="f1",
            now=clock.now(),
        )
    assert a == customer_key_for(Identifier(PHONE, "+14155550100", "", proof=VERIFIED))
    with engine.connect() as connection:
        assert connection.execute(select(customer_identifiers.c.proof)).scalars().all() == [CARRIER]
