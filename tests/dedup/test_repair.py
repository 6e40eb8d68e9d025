"""``ctihub dedup`` against the sandbox: duplicates made behind the hub's back, planned, repaired, undone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hub.store import dedup as store
from hub.store.dedup_tables import dedup_links
from tests.dedup.conftest import World, make_world

JANE = "jane@example.com"


@dataclass
class Cases:
    hub: str
    first: str
    second: str
    others: tuple[str, ...]


def duplicates(world: World, *, phone: str | None = None) -> Cases:
    """The hub's case for Jane's billing problem, two more made in the CRM by hand, and some that
    are not duplicates (another family, another person, a solved/closed one)."""
    customer = {"email": JANE, "name": "Jane Doe", **({"phone": phone} if phone else {})}
    world.event(customer=customer)
    world.link()
    hub = world.hub_case()
    if world.crm == "zendesk":
        jane = world.zd_user_id(JANE)
        first = world.zd_ticket(jane, "billing", "Double charge (phone)")
        second = world.zd_ticket(jane, "billing", "Refund please (email)")
        others = (
            world.zd_ticket(jane, "order_status", "Where is my order"),
            world.zd_ticket(world.zd_user(email="bob@example.com"), "billing", "Bob's bill"),
            world.zd_ticket(jane, "billing", "Old one", status="solved"),
        )
    else:
        jane = world.sf_contact(email=JANE)
        first = world.sf_case("billing", contact=jane, subject="Double charge (phone)")
        second = world.sf_case("billing", email=JANE, subject="Refund please (web)")
        closed = world.sf_case("billing", contact=jane, subject="Old one")
        world.sf_update("Case", closed, {"Status": "Closed"})
        others = (
            world.sf_case("order_status", contact=jane),
            world.sf_case("billing", contact=world.sf_contact(email="bob@example.com", last="Bob")),
            closed,
        )
    return Cases(hub, first, second, others)


def test_scan_finds_cases_made_outside_the_hub_and_plans_the_hub_case_as_master(world):
    cases = duplicates(world)
    result = world.service().scan()
    [plan] = result.plans
    assert plan.master.id == cases.hub
    assert [d.id for d in plan.duplicates] == [cases.first, cases.second]
    assert "the hub's case of open episode" in plan.master_reason
    assert plan.master.hub_key is not None and all(d.hub_key is None for d in plan.duplicates)
    assert (plan.policy, plan.irreversible) == ("attach", False)
    assert "inside the hub only" in plan.what
    text = "\n".join(plan.lines())
    assert cases.first in text and "created outside the hub" in text and "why:" in text


def test_a_dry_run_writes_nothing_anywhere(world):
    duplicates(world, phone="+14155550100")
    # The phone is on two other people in the CRM: a real scan would record it as shared.
    if world.crm == "zendesk":
        world.zd_user(phone="+14155550100", name="Flatmate A")
        world.zd_user(phone="+14155550100", name="Flatmate B")
    else:
        world.sf_contact(phone="+14155550100", last="A")
        world.sf_contact(phone="+14155550100", last="B")
    before = world.dedup_rows()
    world.sb.clear_log()
    result = world.service().scan(record=False)
    assert result.plans and result.shared
    assert world.dedup_rows() == before == dict.fromkeys(before, 0)
    assert {method for method, _path in world.sb.request_log} == {"GET"}


@pytest.mark.parametrize("crm", ["zendesk"])
@pytest.mark.parametrize("policies", [{"billing": "merge"}])
def test_zendesk_merge_is_flagged_confirmed_followed_to_the_end_and_audited(world):
    cases = duplicates(world)
    service = world.service()
    [plan] = service.scan().plans
    assert plan.irreversible and "cannot be undone" in plan.what

    world.sb.clear_log()
    skipped = service.apply(plan)  # not confirmed: nothing happens
    assert skipped.state == "skipped"
    assert world.zd_get(cases.first)["status"] == "open"
    assert not [p for m, p in world.sb.request_log if m == "POST"]

    # The job answers "working" twice before it completes: followed, sleeping in between.
    world.sb.faults.add(
        "GET", "/job_statuses/", status=200, body={"job_status": {"status": "working"}}, times=2
    )
    [plan] = service.scan().plans
    applied = service.apply(plan, confirmed=True)
    assert (applied.state, applied.done, applied.failed) == ("applied", (cases.first, cases.second), {})
    assert world.sleeps == [1.0, 1.0]
    for source in (cases.first, cases.second):
        ticket = world.zd_get(source)
        assert ticket["status"] == "closed" and "closed_by_merge" in ticket["tags"]
    notes = [c for c in world.sb.records("zendesk", "comment") if plan.id in c["body"]]
    assert notes and not any(c["public"] for c in notes)  # private comments only
    assert world.zd_get(cases.hub)["status"] not in ("solved", "closed")

    with world.hub.engine.connect() as connection:
        assert [r["state"] for r in store.audit_rows(connection, plan.id)] == ["planned", "applied"]
        assert [r["state"] for r in store.audit_rows(connection, skipped.plan_id)] == ["skipped"]
        links = connection.execute(dedup_links.select()).all()
    assert {(row.duplicate_id, row.master_id) for row in links} == {
        (cases.first, cases.hub),
        (cases.second, cases.hub),
    }

    undone = service.undo(plan.id)  # hub links back; the merge itself cannot be undone
    assert undone.state == "undone"
    assert set(undone.failed) == {cases.first, cases.second}
    assert "cannot be undone" in undone.failed[cases.first]
    assert world.dedup_rows()["dedup_links"] == 0
    assert world.zd_get(cases.first)["status"] == "closed"


@pytest.mark.parametrize("crm", ["salesforce"])
@pytest.mark.parametrize("policies", [{"billing": "merge"}])
def test_salesforce_merge_parents_closes_comments_and_undo_reopens(world):
    cases = duplicates(world)
    service = world.service()
    [plan] = service.scan().plans
    assert (plan.policy, plan.irreversible) == ("merge", False)
    applied = service.apply(plan)
    assert (applied.state, applied.done) == ("applied", (cases.first, cases.second))
    for duplicate in (cases.first, cases.second):
        record = world.sf_get("Case", duplicate)
        assert (record["ParentId"], record["Status"], record["IsClosed"]) == (cases.hub, "Closed", True)
        [comment] = world.sf_comments(duplicate)
        assert plan.id in comment and cases.hub in comment
    assert world.sf_get("Case", cases.hub)["IsClosed"] is False

    undone = service.undo(plan.id)
    assert (undone.state, undone.failed) == ("undone", {})
    for duplicate in (cases.first, cases.second):
        record = world.sf_get("Case", duplicate)
        assert (record["ParentId"], record["Status"], record["IsClosed"]) == (None, "New", False)
        assert len(world.sf_comments(duplicate)) == 2
    with world.hub.engine.connect() as connection:
        states = [r["state"] for r in store.audit_rows(connection, plan.id)]
    assert states == ["planned", "applied", "undone"]


@pytest.mark.parametrize("crm", ["salesforce"])
def test_salesforce_merge_without_a_closed_status_fails_and_says_which_option(
    sqlite_engine, clock, tmp_path, crm
):
    world = make_world(sqlite_engine, clock, tmp_path, crm, {"billing": "merge"}, closed_status=None)
    cases = duplicates(world)
    service = world.service()
    [plan] = service.scan().plans
    outcome = service.apply(plan)
    assert outcome.state == "failed"
    assert "CTIHUB_SALESFORCE_DEDUP_CLOSED_STATUS" in outcome.failed["*"]
    assert world.sf_get("Case", cases.first)["IsClosed"] is False
    with world.hub.engine.connect() as connection:
        assert [r["state"] for r in store.audit_rows(connection, plan.id)] == ["planned", "failed"]


@pytest.mark.parametrize("policies", [{"billing": "link_only"}])
def test_link_only_neither_closes_nor_merges_and_undo_unlinks(world):
    cases = duplicates(world)
    service = world.service()
    [plan] = service.scan().plans
    assert (plan.policy, plan.irreversible) == ("link_only", False)
    world.sb.clear_log()
    applied = service.apply(plan, confirmed=True)
    assert applied.done == (cases.first, cases.second)
    assert not [p for _m, p in world.sb.request_log if "merge" in p]
    for duplicate in (cases.first, cases.second):
        if world.crm == "zendesk":
            ticket = world.zd_get(duplicate)
            assert ticket["status"] == "open" and "ctihub_duplicate" in ticket["tags"]
        else:
            record = world.sf_get("Case", duplicate)
            assert (record["ParentId"], record["Status"], record["IsClosed"]) == (cases.hub, "New", False)
    service.undo(plan.id)
    for duplicate in (cases.first, cases.second):
        if world.crm == "zendesk":
            assert "ctihub_duplicate" not in world.zd_get(duplicate)["tags"]
        else:
            assert world.sf_get("Case", duplicate)["ParentId"] is None


def test_undo_puts_the_hub_links_back_exactly(world):
    """Two hub customers that are one person in the CRM (an email, and the CRM's own id) got two
    cases; the repair points the second episode and its events at the master, undo points them back."""
    world.event(customer={"email": JANE})
    world.link()
    if world.crm == "zendesk":
        person = {"zendesk_user": world.zd_user_id(JANE)}
    else:
        person = {"salesforce_contact": world.sf_contact(email=JANE)}
    world.event(customer={"external_ids": person}, channel="sms", source="twilio-sms")
    world.link()
    episodes_before, events_before = world.episode_cases(), world.event_cases()
    assert len(set(episodes_before.values())) == 2

    service = world.service()
    result = service.scan()
    [plan] = result.plans  # one plan: the other episode sees the same pair and is skipped, or sees one
    [duplicate] = plan.duplicates
    service.apply(plan)
    assert set(world.episode_cases().values()) == {plan.master.id}
    assert set(world.event_cases().values()) == {plan.master.id}

    world.event(customer={"external_ids": person}, channel="voice", source="ivr")  # lands on the master
    world.link()
    after = world.event_cases()
    assert after[max(after)] == plan.master.id

    service.undo(plan.id)
    assert world.episode_cases() == episodes_before
    assert {k: v for k, v in world.event_cases().items() if k in events_before} == events_before
    assert duplicate.id in world.episode_cases().values()
    assert world.dedup_rows()["dedup_links"] == 0
    with pytest.raises(Exception, match="already undone"):
        service.undo(plan.id)


def test_a_phone_on_several_crm_people_is_recorded_as_shared_and_never_used(world):
    phone = "+14155550123"
    cases = duplicates(world, phone=phone)
    if world.crm == "zendesk":
        flatmate = world.zd_user(phone=phone, name="Flatmate")
        world.zd_user(phone=phone, name="Other flatmate")
        theirs = world.zd_ticket(flatmate, "billing", "Flatmate's bill")
    else:
        flatmate = world.sf_contact(phone=phone, last="Flatmate")
        world.sf_contact(phone=phone, last="Other")
        theirs = world.sf_case("billing", contact=flatmate)
    result = world.service().scan()
    [plan] = result.plans
    assert theirs not in {c.id for c in (plan.master, *plan.duplicates)}
    assert [d.id for d in plan.duplicates] == [cases.first, cases.second]
    assert result.shared and phone in result.shared[0]
    with world.hub.engine.connect() as connection:
        [match] = store.ambiguous(connection)
    assert (match["reason"], match["identifiers"]) == (
        "shared_identifier",
        [{"kind": "phone", "value": phone}],
    )
    assert len(match["candidates"]) == 2  # the two flatmates (Jane's own record has no phone)

    # From now on the phone alone joins no one: a call from it does not land on Jane's case.
    world.event(customer={"phone": phone}, channel="voice", source="ivr")
    world.link()
    assert len(set(world.episode_cases().values())) == 2
