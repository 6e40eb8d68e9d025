"""A breach written through the real adapters (zenpy, simple-salesforce) into the sandbox CRM, once."""

from __future__ import annotations

import pytest

from hub.bootstrap import build_hub
from hub.services.sla import SlaService
from hub.web import create_app
from tests.e2e.conftest import Poster, settings


@pytest.fixture(params=["zendesk", "salesforce"])
def sandbox_hub(request, sqlite_engine, clock):
    hub = build_hub(settings(crm=request.param, sandbox=True), clock=clock, engine=sqlite_engine)
    yield hub
    hub.sandbox.reset()


def test_a_breach_raises_priority_tags_sets_the_due_field_and_comments_once(sandbox_hub, clock):
    post = Poster(create_app(hub=sandbox_hub).test_client(), clock)
    # Monday 09:55 New York, chat: "Chat and messaging customers", first reply within 60 business minutes.
    assert post(event_id="chat-1", channel="chat").status_code == 202
    assert sandbox_hub.new_worker().drain() == 1
    service = SlaService.for_hub(sandbox_hub)
    clock.set(clock.now().replace(hour=16, minute=0))  # 11:00 New York: due at 10:55
    first, second = service.tick(), service.tick()
    assert (first.written, second.written) == (1, 0)

    if sandbox_hub.settings.crm == "zendesk":
        [ticket] = sandbox_hub.sandbox.records("zendesk", "ticket")
        assert ticket["priority"] == "urgent"
        assert "ctihub_sla_breached" in ticket["tags"]
        assert "ctihub" in ticket["tags"]  # added, not replaced
        assert {"id": 360000000005, "value": "2026-11-25T16:55:00Z"} in ticket["custom_fields"]
        comments = sandbox_hub.sandbox.records("zendesk", "comment")
        breach = [c for c in comments if "SLA breached" in c["body"]]
        assert len(comments) == 2 and len(breach) == 1
        assert breach[0]["public"] is False
    else:
        [case] = sandbox_hub.sandbox.records("salesforce", "Case")
        assert case["Priority"] == "High"
        assert case["CTI_Hub_SLA_Status__c"] == "breached"
        assert case["CTI_Hub_SLA_Due__c"] == "2026-11-25T16:55:00.000+0000"
        tasks = sandbox_hub.sandbox.records("salesforce", "Task")
        breach = [t for t in tasks if t["Subject"] == "SLA breached: First reply time"]
        assert len(tasks) == 2 and len(breach) == 1
        assert (breach[0]["Status"], breach[0]["Priority"], breach[0]["WhatId"]) == (
            "Not Started",
            "High",
            case["Id"],
        )
