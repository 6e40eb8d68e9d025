"""Agent actions from the panel: written to the CRM, recorded with the agent's identity, done once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from hub.services.panel_actions import resolved_fields
from hub.store.panel_tables import disposition_corrections, panel_actions
from hub.store.recovery_tables import recovery_audit, recovery_plans
from hub.web.session import Principal
from tests.panel.conftest import AGENT, TOKEN, csrf_of


def act(world, client, case_id, kind, csrf, **body):
    body.setdefault("action_id", str(uuid.uuid4()))
    return client.post(f"{world.path(case_id)}/actions/{kind}", json=body, headers={"X-CSRF-Token": csrf})


def sandbox_case(world, case_id):
    if world.crm == "zendesk":
        [ticket] = [t for t in world.hub.sandbox.records("zendesk", "ticket") if str(t["id"]) == case_id]
        return ticket
    [case] = [c for c in world.hub.sandbox.records("salesforce", "Case") if c["Id"] == case_id]
    return case


def notes(world):
    kind = ("zendesk", "comment") if world.crm == "zendesk" else ("salesforce", "Task")
    return world.hub.sandbox.records(*kind)


def test_a_disposition_correction_reaches_the_sandbox_crm_and_is_kept_beside_the_original(sandbox_world):
    world = sandbox_world
    case_id = world.three_channels()
    client = world.client()
    csrf = csrf_of(client, world.page(case_id))
    trail = client.get(world.path(case_id)).json["trail"]
    chat = next(t for t in trail if t["channel"] == "chat")
    before = len(notes(world))
    answer = act(
        world,
        client,
        case_id,
        "disposition",
        csrf,
        code="CHAT_RESOLVED",
        inbox_id=chat["inbox_id"],
        reason="The customer confirmed in chat",
    )
    assert answer.status_code == 200, answer.json
    case = sandbox_case(world, case_id)
    if world.crm == "zendesk":
        assert {"id": 360000000001, "value": "ctihub_chat_resolved"} in case["custom_fields"]
    else:
        assert case["CTI_Hub_Last_Disposition__c"] == "CHAT_RESOLVED"
    added = notes(world)[before:]
    assert len(added) == 1
    text = str(added[0])
    assert (
        "Ana Agent" in text and "Chat abandoned (CHAT_ABANDONED)" in text and "The customer confirmed" in text
    )
    with world.hub.engine.connect() as connection:
        [row] = connection.execute(select(disposition_corrections)).all()
    assert (
        row.inbox_id,
        row.original_code,
        row.corrected_code,
        row.corrected_by,
        row.crm,
        row.record_id,
    ) == (chat["inbox_id"], "CHAT_ABANDONED", "CHAT_RESOLVED", AGENT.subject, world.crm, case_id)
    shown = next(t for t in client.get(world.path(case_id)).json["trail"] if t["channel"] == "chat")
    assert shown["disposition"]["code"] == "CHAT_RESOLVED"
    assert shown["original_disposition"]["code"] == "CHAT_ABANDONED"


def test_the_same_action_sent_twice_is_done_once(sandbox_world):
    world = sandbox_world
    case_id = world.three_channels()
    client = world.client()
    csrf = csrf_of(client, world.page(case_id))
    before = len(notes(world))
    action_id = str(uuid.uuid4())
    first = act(world, client, case_id, "disposition", csrf, code="SMS_RESOLVED", action_id=action_id)
    again = act(world, client, case_id, "disposition", csrf, code="SMS_RESOLVED", action_id=action_id)
    assert first.status_code == again.status_code == 200
    assert again.json["replayed"] is True and again.json["correction_id"] == first.json["correction_id"]
    assert len(notes(world)) == before + 1
    with world.hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(disposition_corrections)).scalar() == 1
        [action] = connection.execute(select(panel_actions)).all()
    assert (action.status, action.actor, action.actor_name) == ("done", AGENT.subject, "Ana Agent")
    # the same id for another action is refused, not silently reused
    other = act(world, client, case_id, "recovery_pause", csrf, action_id=action_id, reason="x")
    assert other.status_code == 409


@pytest.mark.parametrize("sandbox_world", ["zendesk"], indirect=True)
def test_only_catalog_codes_and_only_changes(sandbox_world):
    world = sandbox_world
    case_id = world.three_channels()
    client = world.client()
    csrf = csrf_of(client, world.page(case_id))
    unknown = act(world, client, case_id, "disposition", csrf, code="MADE_UP")
    assert unknown.status_code == 422 and unknown.json["error"]["details"][0]["path"] == "code"
    same = act(world, client, case_id, "disposition", csrf, code="SMS_NO_RESPONSE")  # the latest event's own
    assert same.status_code == 422
    foreign = act(world, client, case_id, "disposition", csrf, code="SMS_RESOLVED", inbox_id=99999)
    assert foreign.status_code == 422 and foreign.json["error"]["details"][0]["path"] == "inbox_id"
    with world.hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(disposition_corrections)).scalar() == 0


@pytest.mark.parametrize("sandbox_world", ["zendesk"], indirect=True)
def test_actions_need_the_csrf_token_and_the_agent_role(sandbox_world):
    world = sandbox_world
    case_id = world.three_channels()
    client = world.client()
    assert act(world, client, case_id, "disposition", "wrong", code="SMS_RESOLVED").status_code == 403
    ops = world.client(
        Principal(subject="test:ops", name="Ops", crm="zendesk", roles=frozenset({"operations"}))
    )
    assert act(world, ops, case_id, "disposition", csrf_of(ops), code="SMS_RESOLVED").status_code == 403
    anonymous = world.app.test_client()
    assert act(world, anonymous, case_id, "disposition", "", code="SMS_RESOLVED").status_code == 401
    bearer = world.app.test_client().post(
        f"{world.path(case_id)}/actions/disposition",
        json={"action_id": "api-1", "code": "SMS_RESOLVED"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert bearer.status_code == 200


SANDBOX_AGENT = Principal(
    subject="sandbox:agent", name="Sandbox Agent", crm="zendesk", roles=frozenset({"agent"})
)


def test_resolving_in_zendesk_assigns_the_signed_in_agent_and_solves_the_ticket():
    assert resolved_fields("zendesk", "zendesk:user:381") == {"status": "solved", "assignee_id": 381}
    assert resolved_fields("zendesk", "sandbox:agent") == {}  # no Zendesk user: the note only
    assert resolved_fields("salesforce", "salesforce:user:005xx") == {"Status": "Closed"}


def test_cancelling_follow_ups_and_resolving_need_a_confirmation(sandbox_world):
    world = sandbox_world
    case_id = world.three_channels()
    client = world.client(SANDBOX_AGENT)
    csrf = csrf_of(client, world.page(case_id))
    for kind in ("recovery_cancel", "resolve"):
        unconfirmed = act(world, client, case_id, kind, csrf, reason="asked")
        assert unconfirmed.status_code == 422
        assert unconfirmed.json["error"]["details"] == [{"path": "confirm", "message": "must be true"}]
    with world.hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(panel_actions)).scalar() == 0
    cancel = act(world, client, case_id, "recovery_cancel", csrf, reason="customer asked", confirm=True)
    assert cancel.status_code == 200, cancel.json
    with world.hub.engine.connect() as connection:
        statuses = set(connection.execute(select(recovery_plans.c.status)).scalars())
        actors = set(connection.execute(select(recovery_audit.c.actor)).scalars())
    assert statuses == {"cancelled"} and SANDBOX_AGENT.subject in actors
    resolve = act(world, client, case_id, "resolve", csrf, confirm=True)
    assert resolve.status_code == 200, resolve.json
    body = client.get(world.path(case_id)).json
    assert body["episode"]["status"] == "closed"
    again = act(world, client, case_id, "resolve", csrf, confirm=True)  # a new action on a closed episode
    assert again.status_code == 409 and again.json["error"]["code"] == "nothing_to_do"
    assert body["sla"] and all(c["status"] != "active" for c in body["sla"])  # solving stops every clock
    if world.crm == "salesforce":
        assert sandbox_case(world, case_id)["Status"] == "Closed"
    else:  # the sandbox agent is no Zendesk user: the ticket's status is left to the agent
        assert sandbox_case(world, case_id)["status"] != "solved"
    assert "Marked resolved by Sandbox Agent" in str(notes(world)[-1])


def test_a_crm_failure_records_nothing_and_the_same_action_can_be_sent_again(world):
    from hub.domain.errors import CrmRetryable

    case_id = world.three_channels()
    client = world.client()
    csrf = csrf_of(client, world.page(case_id))
    world.hub.crm.fail_next.append(CrmRetryable("zendesk is down", crm="zendesk"))
    action_id = "retry-me"
    failed = act(world, client, case_id, "disposition", csrf, code="SMS_RESOLVED", action_id=action_id)
    assert failed.status_code == 502
    with world.hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(disposition_corrections)).scalar() == 0
        assert connection.execute(select(panel_actions.c.status)).scalar() == "failed"
    retried = act(world, client, case_id, "disposition", csrf, code="SMS_RESOLVED", action_id=action_id)
    assert retried.status_code == 200
    with world.hub.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(disposition_corrections)).scalar() == 1
