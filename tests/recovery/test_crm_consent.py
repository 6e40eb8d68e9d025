"""The CRM's do-not-contact flags, read before a callback/email attempt is claimed (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from hub.domain.errors import CrmQuotaExhausted, CrmRetryable
from hub.ports import CrmOptOuts, CustomerProfile
from hub.services.channel_events import SALESFORCE_OUTBOUND, ChannelEvents, ChannelSettings
from hub.services.recovery import TickReport
from hub.services.validation import OutcomeValidator, load_outcome_schema
from hub.store.recovery_tables import recovery_attempts
from hub.store.tables import consent_ledger
from tests.fakes import FakeCRM
from tests.recovery.conftest import NY_PHONE, T0, Harness
from tests.webhooks.test_crm_flags_outbound import person
from tests.webhooks.test_salesforce_endpoint import envelope
from webhooks import salesforce_outbound

CONTACT = "003000000000001AAA"
LEAD = "00Q000000000001AAA"


@dataclass
class FlaggedCRM(FakeCRM):
    """A FakeCRM that also reads do-not-contact flags, as the Salesforce adapter does."""

    do_not_call: bool = False
    email_opt_out: bool = False
    fail_reads: list[Exception] = field(default_factory=list)
    reads: list[CustomerProfile] = field(default_factory=list)
    while_reading: list = field(default_factory=list)  # callables run during a read
    records: tuple[str, ...] = (CONTACT,)  # the records the read matched (none: nothing found)

    def opt_outs(self, profile: CustomerProfile) -> CrmOptOuts:
        self.reads.append(profile)
        for hook in self.while_reading:
            hook()
        if self.fail_reads:
            raise self.fail_reads.pop(0)
        found = bool(self.records)  # no record: no flag set, as the adapter folds them
        flags = {"voice": self.do_not_call and found, "email": self.email_opt_out and found}
        return CrmOptOuts("crm:salesforce", flags, self.records)


@pytest.fixture
def flagged(engine, clock, shipped_mappings, shipped_recovery) -> Harness:
    harness = Harness(engine, clock, shipped_mappings, shipped_recovery, crm="salesforce")
    crm = FlaggedCRM(name="salesforce")
    harness.crm = harness.linker.crm = crm
    harness.service = harness.recovery(crm=crm)
    return harness


def abandoned_chat(harness: Harness, **changes) -> None:
    """A chat abandoned at T0 (10:00 New York) with voice consent: a callback at +2 h."""
    harness.link(**{"channel": "chat", "outcome": "abandoned", "consent": {"voice": True}, **changes})
    harness.tick()
    harness.advance(hours=2)


def attempt(harness: Harness) -> dict:
    [callback] = [a for a in harness.attempts() if a["action"] == "callback"]
    return callback


def ledger(harness: Harness) -> list[tuple[str, bool, str]]:
    with harness.engine.connect() as connection:
        rows = connection.execute(select(consent_ledger).order_by(consent_ledger.c.id)).all()
    return [(r.channel, r.granted, r.source) for r in rows if r.source.startswith("crm:")]


def tasks(harness: Harness) -> list:
    return [a for a in harness.crm.activities.values() if a["activity"].fields.get("Status") == "Not Started"]


def test_a_set_do_not_call_blocks_the_callback_and_is_in_the_ledger(flagged):
    flagged.crm.do_not_call = True
    abandoned_chat(flagged)
    flagged.tick()
    callback = attempt(flagged)
    assert (callback["status"], callback["reason"]) == ("blocked", "crm_opted_out")
    assert ledger(flagged) == [("voice", False, "crm:salesforce")]
    assert tasks(flagged) == []
    [read] = flagged.crm.reads
    assert (read.phone, read.key) == (NY_PHONE, callback["customer_key"])
    guards = {g["guard"]: g for g in json.loads(callback["guards"])}
    assert "DoNotCall set" in guards["crm_flags"]["detail"]
    assert guards["consent"]["passed"] is False


def test_a_clear_flag_lets_the_callback_go_and_writes_nothing_to_the_ledger(flagged):
    abandoned_chat(flagged)
    flagged.tick()
    assert (attempt(flagged)["status"], len(tasks(flagged))) == ("sent", 1)
    assert ledger(flagged) == []
    guards = {g["guard"]: g for g in json.loads(attempt(flagged)["guards"])}
    assert guards["crm_flags"]["passed"] and "DoNotCall not set" in guards["crm_flags"]["detail"]


def test_a_cleared_flag_lifts_the_block_but_the_consent_is_the_events(flagged):
    flagged.crm.do_not_call = True
    abandoned_chat(flagged)
    flagged.tick()
    flagged.crm.do_not_call = False  # an admin cleared it
    flagged.advance(hours=1)
    abandoned_chat(flagged, event_id="chat-2")  # a new failure: a new callback
    flagged.tick()
    assert [(a["status"], a["reason"]) for a in flagged.attempts()] == [
        ("blocked", "crm_opted_out"),
        ("sent", None),
    ]
    assert ledger(flagged) == [("voice", False, "crm:salesforce"), ("voice", True, "crm:salesforce")]


def test_a_cleared_flag_without_any_consent_is_no_consent(flagged):
    flagged.crm.do_not_call = True
    abandoned_chat(flagged, consent={})
    flagged.tick()
    flagged.crm.do_not_call = False
    flagged.advance(hours=1)
    abandoned_chat(flagged, event_id="chat-2", consent={})
    flagged.tick()
    assert [(a["status"], a["reason"]) for a in flagged.attempts()] == [
        ("blocked", "crm_opted_out"),
        ("blocked", "no_consent"),
    ]


def outbound_do_not_call(harness: Harness, sobject: str, record_id: str, *, flag: bool = True) -> None:
    """A Salesforce outbound message (token configured) saying the record's DoNotCall, on NY_PHONE."""
    events = ChannelEvents(
        engine=harness.engine,
        clock=harness.clock,
        validator=OutcomeValidator(load_outcome_schema(), harness.mappings.catalog),
        settings=ChannelSettings(salesforce_outbound_token="token"),
    )
    fields = {"Phone": NY_PHONE, "DoNotCall": "true" if flag else "false"}
    modified = harness.clock.now().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    note = person(f"04l{len(ledger(harness)):015d}", fields, sobject=sobject, record_id=record_id,
                  modified=modified)  # fmt: skip
    _, items = salesforce_outbound.SOURCE.parse(envelope(note))
    [receipt] = events.receive(SALESFORCE_OUTBOUND, {}, items).items
    assert receipt.status == "processed", receipt.detail


def test_a_read_that_finds_no_record_leaves_an_outbound_block_standing(flagged):
    outbound_do_not_call(flagged, "Lead", LEAD)  # a Lead: the read (Contacts) cannot see it
    flagged.crm.records = ()
    abandoned_chat(flagged)
    flagged.tick()
    callback = attempt(flagged)
    assert (callback["status"], callback["reason"]) == ("blocked", "crm_opted_out")
    assert tasks(flagged) == []
    assert ledger(flagged) == [("voice", False, "crm:salesforce")]  # the read recorded nothing
    guards = {g["guard"]: g["detail"] for g in json.loads(callback["guards"])}
    assert guards["crm_flags"].endswith("no record matched; nothing recorded, the ledger decides")


def test_a_read_of_other_records_does_not_lift_a_leads_block(flagged):
    outbound_do_not_call(flagged, "Lead", LEAD)
    abandoned_chat(flagged)  # the read finds a Contact with the same phone, DoNotCall not set
    flagged.tick()
    callback = attempt(flagged)
    assert (callback["status"], callback["reason"]) == ("blocked", "crm_opted_out")
    assert ledger(flagged) == [("voice", False, "crm:salesforce")]
    guards = {g["guard"]: g["detail"] for g in json.loads(callback["guards"])}
    assert guards["crm_flags"].endswith(f"still set on {LEAD} (an earlier decision, not lifted by this read)")


def test_a_read_of_the_same_record_lifts_its_block(flagged):
    outbound_do_not_call(flagged, "Contact", CONTACT)  # then cleared in Salesforce, no message yet
    abandoned_chat(flagged)
    flagged.tick()
    assert (attempt(flagged)["status"], len(tasks(flagged))) == ("sent", 1)
    assert ledger(flagged) == [("voice", False, "crm:salesforce"), ("voice", True, "crm:salesforce")]


def test_a_failed_read_reschedules_with_backoff_and_never_sends(flagged):
    flagged.crm.fail_reads = [CrmRetryable("down", crm="salesforce", status=503)] * 7
    abandoned_chat(flagged)
    due = flagged.clock.now()
    for _ in range(7):  # more than max_claims: a wait for the CRM does not spend the attempt
        report = flagged.tick()
        callback = attempt(flagged)
        assert (callback["status"], callback["reason"]) == ("pending", "crm_unavailable")
        assert callback["claims"] == 0 and report.rescheduled == 1
        flagged.at(callback["due_at"])
    assert tasks(flagged) == []
    first_wait = next(t["detail"] for t in flagged.trail() if t["event"] == "rescheduled")
    assert first_wait.startswith("moved to ") and callback["due_at"] > due
    flagged.tick()
    assert (attempt(flagged)["status"], len(tasks(flagged))) == ("sent", 1)
    notes = [w["subject"] for w in flagged.writebacks() if w["result"] == "rescheduled"]
    assert (
        notes[0] == "Recovery: Agent callback rescheduled (the CRM's do-not-contact flags could not be read)"
    )


def test_the_backoff_grows_and_honors_a_quota_pause(flagged):
    flagged.crm.fail_reads = [
        CrmRetryable("down", crm="salesforce", status=503),
        CrmRetryable("down", crm="salesforce", status=503),
        CrmQuotaExhausted("quota", crm="salesforce", status=403, retry_after=900.0),
    ]
    abandoned_chat(flagged)
    waits = []
    for _ in range(3):
        now = flagged.clock.now()
        flagged.tick()
        due = attempt(flagged)["due_at"]
        waits.append((due - now).total_seconds())
        flagged.at(due)
    assert 60 <= waits[0] <= 75 and 120 <= waits[1] <= 150 and waits[2] >= 900
    [detail] = [g["detail"] for g in json.loads(attempt(flagged)["guards"]) if g["guard"] == "crm_flags"]
    assert "salesforce 403 (crm_quota_exhausted)" in detail and NY_PHONE not in detail


def test_the_flags_are_read_once_per_customer_in_a_batch(flagged):
    flagged.link(channel="chat", outcome="abandoned", consent={"voice": True}, intent="billing")
    flagged.link(channel="chat", outcome="abandoned", consent={"voice": True}, intent="technical_support")
    flagged.tick()
    flagged.advance(hours=2)
    report = flagged.tick()
    assert report.sent == 2 and len(flagged.crm.reads) == 1


def test_sms_attempts_are_not_read(flagged):
    flagged.link(consent={"sms": True})  # self-service failed: an SMS at +10 min (then a callback)
    flagged.tick()
    flagged.advance(minutes=10)
    flagged.tick()
    sms = flagged.attempts()[0]
    assert (sms["action"], sms["status"]) == ("sms", "sent")
    assert flagged.crm.reads == []


def test_the_crm_is_read_outside_any_transaction(flagged):
    def probe() -> None:  # would wait (SQLite) or fail (PostgreSQL) if the claim were still open
        with flagged.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL lock_timeout = '1s'"))
                connection.execute(select(recovery_attempts.c.id).with_for_update(nowait=True)).all()
            else:
                connection.execute(text("PRAGMA busy_timeout = 1000"))
                connection.execute(
                    update(recovery_attempts).where(recovery_attempts.c.id < 0).values(reason=None)
                )

    flagged.crm.while_reading.append(probe)
    abandoned_chat(flagged)
    flagged.tick()
    assert attempt(flagged)["status"] == "sent"


def test_the_guards_run_at_the_time_after_the_crm_read(flagged):
    flagged.crm.while_reading.append(lambda: flagged.advance(hours=9, minutes=30))  # 21:30 in New York
    abandoned_chat(flagged)  # the callback is claimed at 12:00 in New York
    report = flagged.tick()
    callback = attempt(flagged)
    assert (callback["status"], callback["reason"]) == ("pending", "outside_contact_window")
    assert callback["due_at"] == datetime(2026, 11, 24, 13, tzinfo=UTC)  # 08:00 the next morning
    assert (report.sent, tasks(flagged)) == (0, [])


def test_a_claim_lost_while_the_crm_was_read_is_left_to_its_new_owner(flagged):
    def steal() -> None:
        with flagged.engine.begin() as connection:
            connection.execute(update(recovery_attempts).values(lease_owner="another-process"))

    flagged.crm.while_reading.append(steal)
    abandoned_chat(flagged)
    report = flagged.tick()
    assert report == TickReport(claimed=1)
    callback = attempt(flagged)
    assert (callback["status"], callback["lease_owner"]) == ("claimed", "another-process")
    assert tasks(flagged) == []


def test_without_a_crm_that_reads_flags_nothing_changes(harness):
    harness.link(channel="chat", outcome="abandoned", consent={"voice": True})
    harness.tick()
    harness.advance(hours=2)
    harness.tick()
    assert [(a["status"], a["reason"]) for a in harness.attempts()] == [("sent", None)]
    assert "crm_flags" not in harness.attempts()[0]["guards"]


def test_t0_is_a_monday_morning_in_new_york():  # what the scenarios above rely on
    assert T0.weekday() == 0 and (T0 + timedelta(hours=2)).hour == 17
