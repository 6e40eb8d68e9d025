"""The production code path end to end: HTTP in, worker, real adapters (simple-salesforce, zenpy),
the sandbox CRM speaking the real API shapes, records out."""

from __future__ import annotations

import pytest

from hub.bootstrap import build_hub
from hub.web import create_app
from tests.e2e.conftest import Poster, settings


@pytest.fixture(params=["zendesk", "salesforce"])
def sandbox_hub(request, sqlite_engine, clock):
    hub = build_hub(settings(crm=request.param, sandbox=True), clock=clock, engine=sqlite_engine)
    yield hub
    hub.sandbox.reset()


@pytest.fixture
def sandbox_post(sandbox_hub, clock) -> Poster:
    return Poster(create_app(hub=sandbox_hub).test_client(), clock)


def cases(hub):
    return (
        hub.sandbox.records("zendesk", "ticket")
        if hub.settings.crm == "zendesk"
        else hub.sandbox.records("salesforce", "Case")
    )


def activities(hub):
    return (
        hub.sandbox.records("zendesk", "comment")
        if hub.settings.crm == "zendesk"
        else hub.sandbox.records("salesforce", "Task")
    )


def test_chat_then_sms_about_one_problem_is_one_case_with_two_activities(sandbox_hub, sandbox_post):
    sandbox_post(
        event_id="chat-1",
        channel="chat",
        outcome="abandoned",
        customer={"phone": "(415) 555-0100", "name": "Jane Doe", "email": "jane@example.com"},
    )
    sandbox_post(
        event_id="sms-1",
        source="twilio-sms",
        channel="sms",
        outcome="resolved",
        customer={"phone": "+1 415 555 0100"},
    )
    assert sandbox_hub.new_worker().drain() == 2
    assert sandbox_post.status("web-chat", "chat-1").json["status"] == "linked"
    assert sandbox_post.status("twilio-sms", "sms-1").json["status"] == "linked"
    [case] = cases(sandbox_hub)
    assert len(activities(sandbox_hub)) == 2
    if sandbox_hub.settings.crm == "zendesk":
        assert case["subject"] == "Billing question"
        assert {"id": 360000000001, "value": "ctihub_sms_resolved"} in case["custom_fields"]
        assert "ctihub" in case["tags"]
    else:
        assert case["Origin"] == "Chat"
        assert case["CTI_Hub_Last_Disposition__c"] == "SMS_RESOLVED"
        tasks = activities(sandbox_hub)
        assert {t["WhatId"] for t in tasks} == {case["Id"]}
        assert sorted(t["CallDisposition"] for t in tasks) == ["Chat abandoned", "Resolved by SMS"]


def test_replaying_every_event_writes_nothing_new(sandbox_hub, sandbox_post):
    from hub.store.tables import inbox

    for n in range(3):
        sandbox_post(event_id=f"e{n}", customer={"email": "jo@example.com"})
    sandbox_hub.new_worker().drain()
    before = (len(cases(sandbox_hub)), len(activities(sandbox_hub)))
    with sandbox_hub.engine.begin() as connection:
        connection.execute(inbox.update().values(status="pending", attempts=1))
    sandbox_hub.new_worker().drain()
    assert (len(cases(sandbox_hub)), len(activities(sandbox_hub))) == before == (1, 3)


def test_a_value_the_crm_rejects_is_dead_lettered_with_the_crms_own_reason(
    sandbox_hub, sandbox_post, tmp_path
):
    from dataclasses import replace

    from hub.domain.mapping import FieldRule, ObjectMapping

    linker = sandbox_hub.linker
    bad_rule = FieldRule(
        target="custom_fields.360000000003" if sandbox_hub.settings.crm == "zendesk" else "Origin",
        transform="constant",
        options={"value": "carrier-pigeon"},
        when="create",
    )
    linker.mapping = replace(
        linker.mapping,
        case=ObjectMapping(
            linker.mapping.case.object, (*linker.mapping.case.rules, bad_rule), linker.mapping.case.key_field
        ),
    )
    sandbox_post(event_id="bad")
    sandbox_hub.new_worker().drain()
    state = sandbox_post.status("web-chat", "bad").json
    assert state["status"] == "dead"
    expected = (
        "422 RecordInvalid"
        if sandbox_hub.settings.crm == "zendesk"
        else "400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    )
    assert expected in state["last_error"]
    assert cases(sandbox_hub) == []
