"""The real adapters against the sandbox CRM (in-process, on SQLite): create a case, append to it,
and find the records stored. Skipped while ``adapters.sandbox`` does not offer ``Sandbox``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import ActivityWrite, AdapterConfig, CaseWrite, CustomerProfile, RecordRef

try:
    from adapters.sandbox import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL, Sandbox
except ImportError as exc:  # pragma: no cover - depends on the sandbox being there
    pytest.skip(f"adapters.sandbox is not available: {exc}", allow_module_level=True)

EPISODE = "ep_01JAB3XKQ7T9ZC4M2N6P8R0S1V"
FIRST = "ev_" + "1a" * 16
SECOND = "ev_" + "2b" * 16


@pytest.fixture
def sandbox(tmp_path: Any) -> Any:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
    box = Sandbox(engine)
    box.ensure_schema()
    yield box
    engine.dispose()


def mentions(records: Any, *values: str) -> bool:
    text = json.dumps(list(records), default=str, ensure_ascii=False)
    return all(value in text for value in values)


def test_salesforce_create_then_append_lands_in_the_sandbox(sandbox: Any) -> None:
    from adapters.salesforce import build_crm

    crm = build_crm(
        AdapterConfig(
            settings={"instance_url": SALESFORCE_INSTANCE_URL, "access_token": "sandbox-token"},
            mapping=CrmMapping(
                crm="salesforce",
                case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
                activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
            ),
            session=sandbox.session(),
        )
    )
    who = CustomerProfile(key="cus_1", name="Ana Lima", phone="+14155550100")

    created = crm.create_case(
        CaseWrite(key=EPISODE, fields={"Subject": "Chat · Password reset"}, customer=who),
        ActivityWrite(key=FIRST, body="Chat · Reset link sent\nIntent: Password reset", customer=who),
        retrying=False,
    )
    again = crm.create_case(
        CaseWrite(key=EPISODE, fields={"Subject": "Chat · Password reset"}, customer=who),
        ActivityWrite(key=FIRST, body="Chat · Reset link sent\nIntent: Password reset", customer=who),
        retrying=True,
    )
    appended = crm.append_activity(
        created.case.id, ActivityWrite(key=SECOND, body="SMS · Reset confirmed", customer=who), retrying=False
    )

    assert created.case.created and created.activity.created
    assert again.case == RecordRef("salesforce", "Case", created.case.id, False)
    assert again.activity == RecordRef("salesforce", "Task", created.activity.id, False)
    assert appended.case.id == created.case.id and appended.activity.id != created.activity.id
    record = crm.get_case(created.case.id)
    assert record is not None and record.is_open
    assert len(list(sandbox.records("salesforce", "Case"))) == 1
    tasks = list(sandbox.records("salesforce", "Task"))
    assert len(tasks) == 2 and mentions(tasks, FIRST, SECOND, created.case.id)


def test_zendesk_create_then_append_lands_in_the_sandbox(sandbox: Any) -> None:
    from adapters.zendesk import build_crm

    subdomain = ZENDESK_BASE_URL.removeprefix("https://").split(".", 1)[0]
    domain = ZENDESK_BASE_URL.removeprefix("https://").split(".", 1)[1].rstrip("/")
    crm = build_crm(
        AdapterConfig(
            settings={"subdomain": subdomain, "domain": domain, "email": "hub@acme.test", "api_token": "t"},
            mapping=CrmMapping(
                crm="zendesk", case=ObjectMapping(object="ticket"), activity=ObjectMapping(object="comment")
            ),
            session=sandbox.session(),
        )
    )
    who = CustomerProfile(key="cus_2", name="Bo Chen", phone="+14155550101")

    created = crm.create_case(
        CaseWrite(key=EPISODE, fields={"subject": "SMS · Billing"}, customer=who),
        ActivityWrite(key=FIRST, body="SMS · Callback requested"),
        retrying=False,
    )
    sandbox.clear_log()
    found = crm.create_case(
        CaseWrite(key=EPISODE, fields={"subject": "SMS · Billing"}, customer=who),
        ActivityWrite(key=FIRST, body="SMS · Callback requested"),
        retrying=True,
    )
    assert [method for method, _ in sandbox.request_log] == ["GET", "GET"]  # found it: nothing written
    appended = crm.append_activity(
        created.case.id, ActivityWrite(key=SECOND, body="Chat · Resolved"), retrying=False
    )
    sandbox.clear_log()
    replayed = crm.append_activity(
        created.case.id, ActivityWrite(key=SECOND, body="Chat · Resolved"), retrying=True
    )
    assert [method for method, _ in sandbox.request_log] == ["GET"]  # its marker is there: no PUT

    assert created.case.created and created.activity.created
    assert found.case.id == created.case.id and not found.case.created
    assert found.activity.id == created.activity.id and not found.activity.created
    assert appended.activity.created
    assert replayed.activity == RecordRef("zendesk", "comment", appended.activity.id, False)
    record = crm.get_case(created.case.id)
    assert record is not None and record.is_open
    tickets = list(sandbox.records("zendesk", "ticket"))
    assert len(tickets) == 1 and mentions(tickets, EPISODE)
    comments = [c for c in sandbox.records("zendesk", "comment") if str(c["ticket_id"]) == created.case.id]
    assert len(comments) == 2 and all(c["public"] is False for c in comments)
    assert mentions(comments, f"— CTI Hub · {FIRST}", f"— CTI Hub · {SECOND}")


def test_zendesk_screen_pop_in_the_sandbox(sandbox: Any) -> None:
    """The sandbox answers the Talk Partner Edition display endpoints: 200 for an agent and a record
    that exist (noted in ``zendesk.displays``), 404 otherwise, as the OAS documents."""
    from adapters.zendesk import build_crm
    from hub.domain.errors import CrmRecordRejected

    crm = build_crm(
        AdapterConfig(
            settings={"subdomain": "sandbox", "email": "hub@acme.test", "api_token": "t"},
            mapping=None,
            session=sandbox.session(),
        )
    ).without_retries()
    who = CustomerProfile(key="cus_3", name="Cy Diaz", email="cy@example.com")
    created = crm.create_case(
        CaseWrite(key=EPISODE, fields={"subject": "Voice · Billing"}, customer=who),
        ActivityWrite(key=FIRST, body="Voice · Callback"),
        retrying=False,
    )
    users = {u["email"]: u for u in sandbox.records("zendesk", "user")}
    agent, customer = users["hub@acme.test"], users["cy@example.com"]

    crm.display_ticket(agent["id"], created.case.id)
    crm.display_user(agent["id"], customer["id"])

    assert sandbox.zendesk.displays == [
        (agent["id"], "ticket", int(created.case.id)),
        (agent["id"], "user", customer["id"]),
    ]
    for agent_id, ticket_id in ((customer["id"], created.case.id), (agent["id"], 999_999)):
        with pytest.raises(CrmRecordRejected) as caught:
            crm.display_ticket(agent_id, ticket_id)  # an end user is no agent; no such ticket
        assert (caught.value.status, caught.value.crm_code) == (404, "RecordNotFound")
    assert len(sandbox.zendesk.displays) == 2
