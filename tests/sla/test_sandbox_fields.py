"""The case's SLA due/status fields follow a reply from a channel webhook, written through the real
adapters (zenpy, simple-salesforce) into the sandbox CRM by the next tick, once, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from hub.bootstrap import Hub, build_hub
from hub.ports import ActivityWrite, CaseWrite, CustomerProfile
from hub.services.episode_events import AGENT_REPLY, EpisodeEvent, apply_episode_event
from hub.services.sla import SlaService
from hub.store import sla as store
from hub.store.tables import episode_cases
from hub.web import create_app
from tests.e2e.conftest import Poster, settings
from tests.sla.conftest import contact, link_case, ny, seed_episode
from tests.webhooks.conftest import ZENDESK_SECRET, Zendesk, ticket_event

ZENDESK_DUE = 360000000005
FRT_DUE = "2026-11-23T15:55:00Z"  # chat at 09:55 New York: first reply within 60 business minutes
WAIT_DUE = "2026-11-25T16:55:00Z"  # the requester wait, once the first reply is in
SF_TIME = "{}.000+0000"  # how Salesforce renders a Date/Time


@pytest.fixture(params=["zendesk", "salesforce"])
def sandbox_hub(request, engine, clock):
    hub = build_hub(
        settings(
            crm=request.param,
            sandbox=True,
            environment={"CTIHUB_ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET},
        ),
        clock=clock,
        engine=engine,
    )
    yield hub
    hub.sandbox.reset()


def sla_fields(hub: Hub) -> dict[str, Any]:
    """The case's mapped SLA fields as the sandbox CRM holds them."""
    if hub.settings.crm == "zendesk":
        [ticket] = hub.sandbox.records("zendesk", "ticket")
        return {"due": next(f["value"] for f in ticket["custom_fields"] if f["id"] == ZENDESK_DUE)}
    [case] = hub.sandbox.records("salesforce", "Case")
    return {"due": case["CTI_Hub_SLA_Due__c"], "status": case["CTI_Hub_SLA_Status__c"]}


def expected(hub: Hub, due: str | None, status: str) -> dict[str, Any]:
    if hub.settings.crm == "zendesk":
        return {"due": due}
    return {"due": SF_TIME.format(due.removesuffix("Z")) if due else None, "status": status}


def writes(hub: Hub) -> list[tuple[str, str]]:
    return [(method, path) for method, path in hub.sandbox.request_log if method in ("PUT", "PATCH", "POST")]


def link_a_chat(hub: Hub, clock) -> None:
    """A chat at 14:55Z (09:55 New York), linked at 15:00Z: the new case carries the SLA fields."""
    post = Poster(create_app(hub=hub).test_client(), clock)
    assert post(event_id="chat-1", channel="chat").status_code == 202
    assert hub.new_worker().drain() == 1


def episode_of(hub: Hub) -> str:
    with hub.engine.connect() as connection:
        return connection.execute(select(episode_cases.c.episode_id)).scalar_one()


def field_write(hub: Hub) -> dict[str, Any]:
    with hub.engine.connect() as connection:
        found = store.field_write(connection, episode_of(hub), hub.settings.crm)
    assert found is not None
    return found


def agent_replies(hub: Hub, clock, at: datetime) -> None:
    """A public agent reply, as each CRM reports it: Zendesk through its signed event webhook;
    Salesforce has no comment event, so as its channel would apply one."""
    if hub.settings.crm == "zendesk":
        [ticket] = hub.sandbox.records("zendesk", "ticket")
        author = {"id": 1, "is_staff": True, "name": "Agent"}
        event = ticket_event(
            "comment_added",
            str(ticket["id"]),
            {"comment": {"id": 3, "body": "We refunded you.", "is_public": True, "author": author}},
            event_id="reply-1",
        )
        event["time"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        app = create_app(hub=hub)
        response = Zendesk(app.test_client(), clock).post(event)
        assert response.json["result"] == "processed", response.json
        return
    event = EpisodeEvent(episode_of(hub), AGENT_REPLY, at)
    with hub.engine.begin() as connection:
        apply_episode_event(connection, event, now=clock.now())


def test_an_agent_reply_changes_the_case_fields_on_the_next_tick_once(sandbox_hub, clock):
    link_a_chat(sandbox_hub, clock)
    service = sandbox_hub.sla
    assert sla_fields(sandbox_hub) == expected(sandbox_hub, FRT_DUE, "active")
    sandbox_hub.sandbox.clear_log()
    assert service.tick().synced == 0  # what the link wrote is not written again
    assert writes(sandbox_hub) == []

    clock.advance(minutes=5)
    agent_replies(sandbox_hub, clock, clock.now())  # 10:05 New York: the first reply is in
    first, second = service.tick(), service.tick()

    assert (first.synced, second.synced) == (1, 0)
    assert sla_fields(sandbox_hub) == expected(sandbox_hub, WAIT_DUE, "active")
    assert (field_write(sandbox_hub)["written_by"], field_write(sandbox_hub)["pending"]) == ("sync", False)
    [(method, path)] = writes(sandbox_hub)
    assert method == ("PUT" if sandbox_hub.settings.crm == "zendesk" else "PATCH")
    assert path.endswith(".json") if sandbox_hub.settings.crm == "zendesk" else "/sobjects/Case/" in path
    if sandbox_hub.settings.crm == "zendesk":
        assert len(sandbox_hub.sandbox.records("zendesk", "comment")) == 1  # no comment added
    else:
        assert len(sandbox_hub.sandbox.records("salesforce", "Task")) == 1  # no activity added


def test_a_failed_write_is_retried_by_a_later_tick(sandbox_hub, clock):
    link_a_chat(sandbox_hub, clock)
    service = SlaService.for_hub(sandbox_hub)
    service.crm = sandbox_hub.crm.without_retries()  # no waiting inside the call: the tick retries
    zendesk = sandbox_hub.settings.crm == "zendesk"
    sandbox_hub.sandbox.faults.add(
        method="PUT" if zendesk else "PATCH",
        path_contains="/tickets/" if zendesk else "/sobjects/Case/",
        status=503,
    )
    clock.advance(minutes=5)
    agent_replies(sandbox_hub, clock, clock.now())

    assert service.tick().synced == 0
    assert sla_fields(sandbox_hub) == expected(sandbox_hub, FRT_DUE, "active")
    failed = field_write(sandbox_hub)
    assert failed["pending"] and failed["attempts"] == 1
    assert failed["next_attempt_at"] > clock.now()

    clock.set(failed["next_attempt_at"])
    assert service.tick().synced == 1
    assert sla_fields(sandbox_hub) == expected(sandbox_hub, WAIT_DUE, "active")
    assert service.tick().synced == 0


def test_without_a_linked_case_nothing_is_written_until_it_is_linked(sandbox_hub, clock):
    crm = sandbox_hub.settings.crm
    opened = ny(2026, 11, 23, 9, 55)
    seed_episode(sandbox_hub.engine, "ep-1", opened, crm=crm)
    contact(sandbox_hub.engine, "ep-1", opened, crm=crm)
    clock.set(ny(2026, 11, 23, 10, 5))
    with sandbox_hub.engine.begin() as connection:
        apply_episode_event(connection, EpisodeEvent("ep-1", AGENT_REPLY, clock.now()), now=clock.now())
    service = sandbox_hub.sla

    assert service.tick().synced == 0
    assert sandbox_hub.sandbox.request_log == []

    subject = {"zendesk": "subject", "salesforce": "Subject"}[crm]
    created = sandbox_hub.crm.create_case(  # made by an agent; the hub learns of it later
        CaseWrite(key="ep-1", fields={subject: "Billing"}, customer=customer()),
        ActivityWrite(key="ev_" + "0a" * 16, body="Opened by an agent"),
        retrying=False,
    )
    link_case(sandbox_hub.engine, "ep-1", created.case.id, crm=crm, at=clock.now())
    assert service.tick().synced == 0  # not before CTIHUB_SLA_MISSING_CASE_RETRY_SECONDS
    clock.advance(seconds=service.settings.missing_case_retry_seconds)

    assert service.tick().synced == 1
    assert sla_fields(sandbox_hub) == expected(sandbox_hub, WAIT_DUE, "active")


def customer() -> CustomerProfile:
    return CustomerProfile(key="cust-ep-1", name="Jane", email="jane@example.com")
