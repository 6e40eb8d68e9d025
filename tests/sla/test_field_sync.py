"""The case's mapped SLA fields follow the clocks: a reply or status change from a channel webhook is
written by the next tick with ``update_case``, once per change, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.domain.errors import CrmRecordRejected, CrmRetryable
from hub.services.episode_events import AGENT_REPLY, STATUS_CHANGED
from hub.services.sla import SlaService, SlaSettings, field_write_key
from hub.store import sla as store
from tests.fakes import FakeCRM
from tests.sla.conftest import contact, link_case, ny, seed_episode
from tests.sla.test_service import webhook

DUE = "custom_fields.360000000005"  # the shipped Zendesk mapping has a due field only
SF_DUE, SF_STATUS = "CTI_Hub_SLA_Due__c", "CTI_Hub_SLA_Status__c"
FRT_DUE = "2026-11-23T15:00:00Z"  # chat, first reply within 60 business minutes of Monday 09:00 New York
WAIT_DUE = "2026-11-25T16:00:00Z"  # requester wait, 1440 business minutes


def row(engine, episode_id="ep-1", crm="zendesk") -> dict:
    with engine.connect() as connection:
        found = store.field_write(connection, episode_id, crm)
    assert found is not None
    return found


def linked(engine, service, episode_id="ep-1", case_id="101") -> None:
    """An episode whose first contact was linked at 09:00: the link wrote the SLA fields."""
    seed_episode(engine, episode_id, ny(2026, 11, 23, 9, 0), case_id=case_id)
    contact(engine, episode_id, ny(2026, 11, 23, 9, 0))
    assert service.case_fields(episode_id) == {DUE: FRT_DUE}


def test_an_agent_reply_changes_the_fields_on_the_next_tick_and_only_once(engine, service, sla_clock, crm):
    linked(engine, service)
    assert service.tick().synced == 0  # the link's own write is not repeated
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)  # first reply: fulfilled
    sla_clock.set(ny(2026, 11, 23, 9, 31))

    first, second = service.tick(), service.tick()

    assert (first.synced, second.synced) == (1, 0)
    text = store.canonical({DUE: WAIT_DUE})
    assert crm.case_updates == [("101", {DUE: WAIT_DUE}, field_write_key("ep-1", text))]
    assert crm.activities == {}  # no comment, no breach: the fields alone
    written = row(engine)
    assert (written["written"], written["written_by"], written["case_id"]) == (text, "sync", "101")
    assert (written["pending"], written["attempts"], written["claimed_until"]) == (False, 0, None)


def test_a_pending_ticket_pauses_the_clock_and_clears_the_due_time(engine, service, sla_clock, crm):
    linked(engine, service)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    webhook(engine, "ep-1", STATUS_CHANGED, ny(2026, 11, 23, 9, 31), status="pending")
    sla_clock.set(ny(2026, 11, 23, 9, 40))

    assert service.tick().synced == 1  # both changes in one write: what the fields say now
    webhook(engine, "ep-1", STATUS_CHANGED, ny(2026, 11, 23, 9, 50), status="open")
    sla_clock.set(ny(2026, 11, 23, 9, 51))
    assert service.tick().synced == 1

    # paused from 09:31 to 09:50: the requester wait is due 19 minutes later than it was
    assert [fields for _, fields, _ in crm.case_updates] == [{DUE: None}, {DUE: "2026-11-25T16:19:00Z"}]


def test_salesforce_gets_the_status_field_too(engine, shipped_sla, sla_clock):
    crm = FakeCRM(name="salesforce")
    service = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=crm)
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="5005g00000AbCdEAAZ", crm="salesforce")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0), crm="salesforce")
    service.case_fields("ep-1")
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    webhook(engine, "ep-1", STATUS_CHANGED, ny(2026, 11, 23, 9, 31), status="pending")
    sla_clock.set(ny(2026, 11, 23, 9, 40))

    assert service.tick().synced == 1

    assert crm.case_updates[0][:2] == ("5005g00000AbCdEAAZ", {SF_DUE: None, SF_STATUS: "paused"})


def test_without_a_linked_case_nothing_is_written_until_it_is_linked(engine, service, sla_clock, crm):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))  # recorded, but its case is not linked yet
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    sla_clock.set(ny(2026, 11, 23, 9, 31))

    assert service.tick().synced == 0
    assert crm.case_updates == []
    waiting = row(engine)
    assert (waiting["pending"], waiting["attempts"], waiting["last_error"]) == (
        True,
        0,
        "no zendesk case linked yet",
    )

    link_case(engine, "ep-1", "101", at=ny(2026, 11, 23, 9, 32))
    sla_clock.advance(seconds=60)
    assert service.tick().synced == 0  # tried again after CTIHUB_SLA_MISSING_CASE_RETRY_SECONDS
    sla_clock.advance(seconds=service.settings.missing_case_retry_seconds)
    assert service.tick().synced == 1
    assert crm.case_updates[0][:2] == ("101", {DUE: WAIT_DUE})


def test_a_failed_write_is_retried_with_backoff_never_before_retry_after(engine, service, sla_clock, crm):
    linked(engine, service)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    crm.fail_next.append(CrmRetryable("Zendesk is down", crm="zendesk", status=503, retry_after=60))

    assert service.tick().synced == 0
    failed = row(engine)
    assert (failed["pending"], failed["attempts"], failed["last_error"]) == (True, 1, "Zendesk is down")
    sla_clock.advance(seconds=30)
    assert service.tick().synced == 0  # not before Retry-After
    sla_clock.advance(seconds=31)
    assert service.tick().synced == 1
    assert service.tick().synced == 0

    assert [call for call in crm.calls if call[0] == "update_case"] == [("update_case", "101")] * 2
    assert [fields for _, fields, _ in crm.case_updates] == [{DUE: WAIT_DUE}]


def test_a_change_is_given_up_after_the_last_attempt_and_the_next_change_is_written(
    engine, shipped_sla, sla_clock, crm
):
    service = SlaService(
        engine=engine, config=shipped_sla, clock=sla_clock, crm=crm, settings=SlaSettings(max_attempts=2)
    )
    linked(engine, service)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    crm.fail_next += [
        CrmRecordRejected("invalid", crm="zendesk"),
        CrmRecordRejected("still invalid", crm="zendesk"),
    ]
    service.tick()
    sla_clock.advance(hours=1)
    service.tick()
    sla_clock.advance(hours=1)

    assert service.tick().synced == 0
    assert (row(engine)["pending"], row(engine)["last_error"]) == (False, "gave up: still invalid")

    webhook(engine, "ep-1", STATUS_CHANGED, ny(2026, 11, 23, 11, 35), status="pending")
    sla_clock.advance(minutes=5)
    assert service.tick().synced == 1
    assert [fields for _, fields, _ in crm.case_updates] == [{DUE: None}]


def test_a_warning_or_breach_carries_the_fields_and_the_sync_does_not_repeat_them(
    engine, service, sla_clock, crm
):
    linked(engine, service)
    sla_clock.set(ny(2026, 11, 23, 10, 1))  # first reply breached at 10:00: status and due change

    report = service.tick()

    assert (report.written, report.synced) == (1, 0)
    [breach] = [entry["activity"] for entry in crm.activities.values()]
    assert breach.case_fields[DUE] == WAIT_DUE
    assert crm.case_updates == []
    assert (row(engine)["written_by"], row(engine)["pending"]) == ("action", False)
    assert service.tick().synced == 0


def test_an_episode_waits_while_its_breach_is_still_to_be_written(engine, service, sla_clock, crm):
    linked(engine, service)
    sla_clock.set(ny(2026, 11, 23, 10, 1))
    crm.fail_next.append(CrmRetryable("down", crm="zendesk", retry_after=300))

    assert (service.tick().written, service.tick().synced) == (0, 0)  # the breach will carry them
    assert crm.case_updates == []
    sla_clock.advance(minutes=6)
    assert (service.tick().written, crm.case_updates) == (1, [])


class ReentrantCRM(FakeCRM):
    """While one scheduler is writing (outside any transaction), another one ticks."""

    other: SlaService | None = None

    def __init__(self) -> None:
        super().__init__()
        self.others_reports: list = []

    def update_case(self, case_id, fields, *, key):
        if self.other is not None:
            self.others_reports.append(self.other.tick())
        super().update_case(case_id, fields, key=key)


def test_two_schedulers_write_each_change_once(engine, shipped_sla, sla_clock):
    crm = ReentrantCRM()
    first = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=crm)
    second_crm = FakeCRM()
    crm.other = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=second_crm)
    linked(engine, first)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    sla_clock.set(ny(2026, 11, 23, 9, 31))

    assert first.tick().synced == 1

    assert [report.synced for report in crm.others_reports] == [0]  # the row was claimed
    assert second_crm.case_updates == []
    assert len(crm.case_updates) == 1
    assert crm.other.tick().synced == 0


def test_an_unexpected_error_never_leaves_the_tick_and_is_retried_with_backoff(
    engine, service, sla_clock, crm
):
    linked(engine, service)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    crm.fail_next.append(RuntimeError("a bug"))  # not a CrmError

    assert service.tick().synced == 0
    assert (row(engine)["attempts"], row(engine)["last_error"]) == (1, "RuntimeError: a bug")
    assert service.tick().synced == 0  # not before its backoff
    sla_clock.advance(seconds=10)
    assert service.tick().synced == 1


def test_the_claim_is_the_pattern_of_actions_one_holder_at_a_time(engine, service, sla_clock):
    linked(engine, service)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    now = ny(2026, 11, 23, 9, 31)
    with engine.begin() as connection:
        service.refresh(connection, "ep-1", now)
    lease = now + timedelta(minutes=2)
    with engine.begin() as connection:
        [claim] = store.claim_field_writes(connection, "zendesk", now, lease, 10)
        assert store.claim_field_writes(connection, "zendesk", now, lease, 10) == []
        assert store.claim_field_writes(connection, "salesforce", now, lease, 10) == []
    assert (claim.episode_id, claim.crm, claim.attempts) == ("ep-1", "zendesk", 1)
    with engine.begin() as connection:
        [again] = store.claim_field_writes(connection, "zendesk", lease + timedelta(seconds=1), lease, 10)
    assert again.attempts == 2


@pytest.mark.parametrize("crm_name", [None, "zendesk"])
def test_without_a_crm_or_fields_nothing_is_tracked(engine, sla_clock, crm_name):
    service = SlaService(engine=engine, config=None, clock=sla_clock, crm=FakeCRM() if crm_name else None)
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    assert service.case_fields("ep-1") == {}
    assert service.tick().synced == 0
    with engine.connect() as connection:
        assert store.field_write(connection, "ep-1", "zendesk") is None
