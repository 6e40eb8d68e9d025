"""Recovery written through the real adapters (zenpy, simple-salesforce) into the sandbox CRM, once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.sms.sandbox import SandboxSms
from hub.bootstrap import build_hub
from hub.services.recovery import RecoveryService
from hub.web import create_app
from tests.e2e.conftest import Poster, settings

EPISODE_FIELD = 360000000004
DISPOSITION_FIELD = 360000000001


def _hub(crm, engine, clock):
    return build_hub(settings(crm=crm, sandbox=True), clock=clock, engine=engine)


@pytest.fixture(params=["zendesk", "salesforce"])
def sandbox_hub(request, sqlite_engine, clock):
    hub = _hub(request.param, sqlite_engine, clock)
    yield hub
    hub.sandbox.reset()


@pytest.fixture
def zendesk_hub(sqlite_engine, clock):
    hub = _hub("zendesk", sqlite_engine, clock)
    yield hub
    hub.sandbox.reset()


@pytest.fixture
def salesforce_hub(sqlite_engine, clock):
    hub = _hub("salesforce", sqlite_engine, clock)
    yield hub
    hub.sandbox.reset()


def run(sandbox_hub, clock):
    """A self-service failure 14:58Z (09:58 New York) with SMS and voice consent: SMS at +10 min,
    callback at +3 h; every tick twice (the second must change nothing)."""
    post = Poster(create_app(hub=sandbox_hub).test_client(), clock)
    event = {
        "event_id": "ivr-1",
        "source": "ivr",
        "occurred_at": "2026-11-23T14:58:00Z",
        "channel": "self_service",
        "customer": {"phone": "+12125550100", "name": "Jo Doe"},
        "intent": "billing",
        "outcome": "failed",
        "consent": {"sms": True, "voice": True},
    }
    assert post(event).status_code == 202
    assert sandbox_hub.new_worker().drain() == 1
    service = RecoveryService.for_hub(sandbox_hub)
    assert service is not None and isinstance(service.sender, SandboxSms)
    for minutes in (0, 10, 180):
        clock.set(clock.now().replace(hour=14, minute=58) + timedelta(minutes=minutes))
        service.tick()
        service.tick()
    return service


def test_the_sms_and_the_callback_task_land_on_the_ticket_once(zendesk_hub, clock):
    sandbox_hub = zendesk_hub
    service = run(sandbox_hub, clock)
    [sms] = service.sender.messages
    assert sms.to == "+12125550100" and "Reply STOP to opt out." in sms.body
    tickets = {str(t["id"]): t for t in sandbox_hub.sandbox.records("zendesk", "ticket")}
    [episode_ticket] = [t for t in tickets.values() if t.get("type") != "task"]
    [task] = [t for t in tickets.values() if t.get("type") == "task"]
    assert task["due_at"] == "2026-11-24T02:00:00Z"  # 21:00 New York: the end of the contact window
    assert task["subject"] == "Recovery: Call Jo Doe back about Billing question"
    assert {"id": EPISODE_FIELD, "value": episode_ticket_episode(episode_ticket)} in task["custom_fields"]
    assert {"id": DISPOSITION_FIELD, "value": "ctihub_recovery_callback_scheduled"} in task["custom_fields"]
    comments = [
        c for c in sandbox_hub.sandbox.records("zendesk", "comment") if c["ticket_id"] == episode_ticket["id"]
    ]
    notes = [c["body"].splitlines()[0] for c in comments[1:]]
    assert notes == ["Recovery: SMS with a link sent", "Recovery: Agent callback scheduled"]
    assert all(c["public"] is False for c in comments)
    assert "ctihub_recovery" in episode_ticket["tags"]


def episode_ticket_episode(ticket):
    return next(f["value"] for f in ticket["custom_fields"] if f["id"] == EPISODE_FIELD)


def test_salesforce_gets_a_callback_task_with_a_reminder(salesforce_hub, clock):
    sandbox_hub = salesforce_hub
    service = run(sandbox_hub, clock)
    assert len(service.sender.messages) == 1
    [case] = sandbox_hub.sandbox.records("salesforce", "Case")
    tasks = sandbox_hub.sandbox.records("salesforce", "Task")
    by_subject = {t["Subject"]: t for t in tasks}
    assert len(tasks) == 3  # the outcome's activity, the SMS note, the callback task
    note = by_subject["Recovery: SMS with a link sent"]
    assert (note["Status"], note["CallDisposition"], note["WhatId"]) == (
        "Completed",
        "Recovery SMS sent",
        case["Id"],
    )
    task = by_subject["Recovery: Call Jo Doe back about Billing question"]
    assert (task["Status"], task["IsReminderSet"], task["CallType"], task["Priority"]) == (
        "Not Started",
        True,
        "Outbound",
        "High",
    )
    assert task["ActivityDate"] == "2026-11-23"
    assert task["ReminderDateTime"] == "2026-11-23T17:58:00.000+0000"
    assert task["CallDisposition"] == "Recovery callback scheduled"
    assert case["CTI_Hub_Last_Disposition__c"] == "RECOVERY_CALLBACK_SCHEDULED"


def test_a_blocked_attempt_is_written_back_with_its_guard(sandbox_hub, clock):
    post = Poster(create_app(hub=sandbox_hub).test_client(), clock)
    event = {
        "event_id": "chat-1",
        "source": "web-chat",
        "occurred_at": "2026-11-23T14:58:00Z",
        "channel": "chat",
        "customer": {"phone": "+12125550100"},
        "intent": "billing",
        "outcome": "abandoned",
    }
    assert post(event).status_code == 202
    sandbox_hub.new_worker().drain()
    service = RecoveryService.for_hub(sandbox_hub)
    service.tick()
    clock.set(clock.now().replace(hour=16, minute=58))
    service.tick()
    if sandbox_hub.settings.crm == "zendesk":
        comments = sandbox_hub.sandbox.records("zendesk", "comment")
        body = comments[-1]["body"]
        [ticket] = sandbox_hub.sandbox.records("zendesk", "ticket")
        assert {"id": DISPOSITION_FIELD, "value": "ctihub_recovery_blocked"} in ticket["custom_fields"]
    else:
        tasks = sandbox_hub.sandbox.records("salesforce", "Task")
        body = tasks[-1]["Description"]
        assert tasks[-1]["CallDisposition"] == "Recovery blocked"
    assert body.startswith("Recovery: Agent callback blocked (no consent on record for the channel)")
    assert "FAILED consent: no voice consent on record" in body


@pytest.fixture(params=["zendesk", "salesforce"])
def chat_callback(request, sqlite_engine, clock):
    """An abandoned chat whose callback task was made, then the customer came back by chat."""
    hub = _hub(request.param, sqlite_engine, clock)
    post = Poster(create_app(hub=hub).test_client(), clock)
    event = {
        "event_id": "chat-1",
        "source": "web-chat",
        "occurred_at": "2026-11-23T14:58:00Z",
        "channel": "chat",
        "customer": {"phone": "+12125550100", "name": "Jo Doe"},
        "intent": "billing",
        "outcome": "abandoned",
        "consent": {"voice": True},
    }
    assert post(event).status_code == 202
    hub.new_worker().drain()
    service = RecoveryService.for_hub(hub)
    service.tick()
    clock.set(clock.now().replace(hour=16, minute=58))
    service.tick()
    clock.set(clock.now().replace(hour=17, minute=30))
    assert (
        post(
            {**event, "event_id": "chat-2", "occurred_at": "2026-11-23T17:30:00Z", "outcome": "in_progress"}
        ).status_code
        == 202
    )
    hub.new_worker().drain()
    service.tick()
    service.tick()
    yield hub
    hub.sandbox.reset()


def test_agents_are_told_when_a_callback_task_is_no_longer_needed(chat_callback):
    hub = chat_callback
    headline = "Recovery: Agent callback task no longer needed (the customer came back on their own)"
    if hub.settings.crm == "salesforce":
        tasks = {t["Subject"]: t for t in hub.sandbox.records("salesforce", "Task")}
        assert (
            tasks["Recovery: Call Jo Doe back about Billing question"]["Status"] == "Not Started"
        )  # the agent's
        note = tasks[headline]
        assert (note["Status"], note["CallDisposition"]) == ("Completed", "Recovery cancelled")
        return
    [task] = [t for t in hub.sandbox.records("zendesk", "ticket") if t.get("type") == "task"]
    comments = [c for c in hub.sandbox.records("zendesk", "comment") if c["ticket_id"] == task["id"]]
    assert comments[-1]["body"].startswith(headline)
    assert {"id": DISPOSITION_FIELD, "value": "ctihub_recovery_cancelled"} in task["custom_fields"]
