"""``ctihub customer forget``: no trace of the person's phone, email or words in any table, on
SQLite and PostgreSQL; the do-not-contact block survives; linking goes on; a second run is a no-op."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import String, Text, inspect, select, text

from hub.domain.identity import PHONE, Identifier, customer_key_for, external
from hub.services.erasure import ErasureService, parse_identifier, report
from hub.store import consent as consent_store
from hub.store.recovery import standing_consents
from hub.store.schema import metadata
from hub.store.tables import inbox
from tests.e2e.conftest import outcome
from tests.webhooks.conftest import CUSTOMER_PHONE
from webhooks.generic import HEADER, sign

EMAIL = "Jane.Victim@Example.com"
RAW_PHONE = "(415) 555-0100"  # CUSTOMER_PHONE as the chat platform sent it
SECRET_WORDS = "my card ending 4242 was charged twice"
SUMMARY = "Customer disputes a double charge on the plan"
SMS_TEXT = "still waiting on that refund please"
OTHER_PHONE = "+14155550199"
OTHER_WORDS = "other customer wants a new plan"


def post(client, clock, **changes):
    body = json.dumps(outcome(occurred_at=clock.now().isoformat(), **changes)).encode()
    signature = sign("test-webhook-secret-0123456789abcdef", body, int(clock.now().timestamp()))
    response = client.post(
        "/v1/outcomes", data=body, headers={HEADER: signature, "Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.get_json()


def scenario(client, hub, clock, twilio):
    post(
        client,
        clock,
        event_id="chat-1",
        customer={
            "phone": RAW_PHONE,
            "email": EMAIL,
            "name": "Jane Victim",
            "external_ids": {"zendesk_user": "90001"},
        },
        summary=SUMMARY,
        transcript=[{"from": "customer", "text": SECRET_WORDS}],
        consent={"sms": True, "evidence": f"ticked the box, {EMAIL}"},
    )
    twilio.sms(SMS_TEXT)
    twilio.sms("STOP")
    post(client, clock, event_id="other-1", customer={"phone": OTHER_PHONE}, summary=OTHER_WORDS)
    assert hub.new_worker().drain() == 3


def needles() -> list[str]:
    return [
        CUSTOMER_PHONE,
        "4155550100",
        RAW_PHONE,
        EMAIL.lower(),
        EMAIL,
        SECRET_WORDS,
        SUMMARY,
        SMS_TEXT,
        "Jane Victim",
    ]


def traces(engine, words) -> list[str]:
    """Every (table.column) holding any of ``words``, over every text column of every table."""
    found = []
    with engine.connect() as connection:
        for name in inspect(connection).get_table_names():
            table = metadata.tables.get(name)
            if table is None:
                continue
            for column in table.columns:
                if not isinstance(column.type, String | Text):
                    continue
                for word in words:
                    hit = connection.execute(
                        select(column).where(column.contains(word, autoescape=True)).limit(1)
                    ).first()
                    if hit is not None:
                        found.append(f"{name}.{column.name} ~ {word!r}")
    return found


def test_forget_leaves_no_trace_keeps_the_block_and_linking_goes_on(client, hub, clock, twilio, fake_crm):
    scenario(client, hub, clock, twilio)
    assert traces(hub.engine, needles())  # the scan sees them before
    key = customer_key_for(external("zendesk_user", "90001"))  # the strongest: a platform id
    service = ErasureService(
        hub.engine,
        clock,
        "US",
        {"zendesk": {"subdomain": "acme"}, "salesforce": {"instance_url": "https://x.my.salesforce.com"}},
    )

    preview = service.forget(RAW_PHONE, dry_run=True)
    assert preview.anything and traces(hub.engine, needles())  # a dry run changes nothing

    erased = service.forget(RAW_PHONE)
    assert erased.customer_keys == [key]
    assert erased.erased["inbox"] == 2  # the chat and the text (the STOP is a consent decision)
    assert erased.erased["customer_identifiers"] == 3  # phone, email, zendesk user
    assert erased.erased["webhook_deliveries"] == 2
    assert erased.erased["consent_ledger"] >= 2
    assert traces(hub.engine, needles()) == []
    # the other customer is untouched
    assert traces(hub.engine, [OTHER_PHONE, OTHER_WORDS]) != []

    # the CRM records that still hold the data, with where to find them
    cases = sorted(c["id"] for c in fake_crm.cases.values())
    listed = {(r.crm, r.id): r.url for r in erased.crm_records}
    assert ("zendesk", "90001") in listed and listed[
        ("zendesk", "90001")
    ] == "https://acme.zendesk.com/agent/users/90001"
    mine = [c for c in cases if ("zendesk", c) in listed]
    assert len(mine) == 2  # the billing chat's ticket and the text's (another intent family)
    assert all(listed[("zendesk", c)] == f"https://acme.zendesk.com/agent/tickets/{c}" for c in mine)
    assert len(cases) == 3  # the other customer's ticket is not listed
    lines = report(erased)
    assert any("still in the CRM" in line for line in lines)

    # the do-not-contact record survives, hashed, and a later grant does not lift it
    with hub.engine.connect() as connection:
        for channel in ("sms", "voice"):
            decision = consent_store.standing_consent(connection, channel, CUSTOMER_PHONE)
            assert decision is not None and not decision.granted and decision.source == "erasure"
    post(client, clock, event_id="chat-2", customer={"phone": CUSTOMER_PHONE}, consent={"sms": True})
    assert hub.new_worker().drain() == 1
    with hub.engine.connect() as connection:
        [(_pair, standing)] = standing_consents(connection, [("sms", CUSTOMER_PHONE)]).items()
        assert standing is not None and not standing.granted
        # and linking still works
        row = connection.execute(
            select(inbox.c.status, inbox.c.customer_key).where(inbox.c.event_id == "chat-2")
        ).one()
    # the phone is a stranger again: a customer derived from it, as for anyone new
    assert tuple(row) == ("linked", customer_key_for(Identifier(PHONE, CUSTOMER_PHONE, "")))

    # forgetting again erases only what came since; a third time nothing at all
    service.forget(CUSTOMER_PHONE)
    again = service.forget(CUSTOMER_PHONE)
    assert not again.anything
    assert "nothing left to erase in the hub" in report(again)


def test_forget_by_email_and_by_customer_key(client, hub, clock, twilio):
    scenario(client, hub, clock, twilio)
    service = ErasureService(hub.engine, clock)
    by_email = service.forget(EMAIL.upper())
    key = customer_key_for(external("zendesk_user", "90001"))
    assert by_email.customer_keys == [key]
    assert traces(hub.engine, needles()) == []
    assert not service.forget(key).anything


@pytest.mark.parametrize("value", ["hello", "ext:nosystem", "12", "not@mail"])
def test_an_unrecognizable_identifier_is_refused_by_name(value):
    from hub.domain.errors import HubError

    with pytest.raises(HubError, match="is not a customer key"):
        parse_identifier(value, "US")


def test_cli_asks_before_erasing_unless_yes(tmp_path, monkeypatch, clock):
    from click.testing import CliRunner

    from hub.bootstrap import build_hub
    from hub.cli import main
    from hub.store import migrate
    from hub.store.db import make_engine
    from tests.conftest import MAPPINGS
    from tests.fakes import FakeCRM
    from tests.webhooks.conftest import make_settings

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    hub = build_hub(make_settings(), clock=clock, crm=FakeCRM(), engine=engine)
    with engine.begin() as connection:
        from hub.store import customers

        customers.resolve_customer(
            connection,
            [Identifier(PHONE, CUSTOMER_PHONE, RAW_PHONE)],
            name="Jane",
            fallback_key="x",
            now=clock.now(),
        )
    hub.close()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTIHUB_DATABASE_URL", url)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    for name, value in (("SUBDOMAIN", "acme"), ("EMAIL", "admin@acme.test"), ("API_TOKEN", "t" * 40)):
        monkeypatch.setenv(f"CTIHUB_ZENDESK_{name}", value)  # never called: only its URLs are printed
    runner = CliRunner()

    refused = runner.invoke(main, ["customer", "forget", RAW_PHONE], input="n\n")
    assert refused.exit_code == 1 and "customer_identifiers" in refused.output, refused.output
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from customer_identifiers")).scalar() == 1

    done = runner.invoke(main, ["customer", "forget", RAW_PHONE, "--yes"])
    assert done.exit_code == 0, done.output
    assert "erased      1  customer_identifiers" in done.output
    assert "sms erased:sha256:" in done.output
    second = runner.invoke(main, ["customer", "forget", RAW_PHONE, "--yes"])
    assert "nothing left to erase in the hub" in second.output

    purge = runner.invoke(main, ["retention", "purge", "--dry-run"])
    assert purge.exit_code == 0, purge.output
    assert "would purge" in purge.output
    engine.dispose()


def test_an_event_not_linked_yet_is_erased_and_never_linked_or_replayed(client, hub, clock, fake_crm):
    from hub.store import inbox as inbox_store

    post(client, clock, event_id="queued-1", customer={"phone": RAW_PHONE}, summary=SUMMARY)
    erased = ErasureService(hub.engine, clock).forget(CUSTOMER_PHONE)
    assert erased.erased["inbox"] == 1 and erased.customer_keys == []  # known only from the queue
    assert hub.new_worker().drain() == 0
    with hub.engine.begin() as connection:
        assert inbox_store.replay_dead(connection, now=clock.now()) == 0
        row = connection.execute(
            select(inbox.c.status, inbox.c.last_error).where(inbox.c.event_id == "queued-1")
        ).one()
    assert row.status == "dead" and "erased" in row.last_error
    assert fake_crm.cases == {}
    assert traces(hub.engine, [CUSTOMER_PHONE, RAW_PHONE, SUMMARY]) == []
