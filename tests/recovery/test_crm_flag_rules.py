"""The consent rules with CRM flags, and the guard that reads them, as pure rules."""

from __future__ import annotations

from datetime import timedelta

from hub.domain.consent import ConsentDecision, may_contact, standing
from hub.domain.recovery import BLOCK, RESCHEDULE, SEND, CrmFlagsRead, evaluate
from tests.unit.test_consent import T
from tests.unit.test_recovery_guards import CONFIG, NOON_NY, facts, granted

# --- CRM do-not-contact flags: a block while set, never consent -------------------------------------


def crm(flag_set, minutes=0, channel="voice"):
    return ConsentDecision(
        channel, "+14155550100", not flag_set, T + timedelta(minutes=minutes), "crm:salesforce"
    )


def grant(minutes=0, channel="voice"):
    return ConsentDecision(channel, "+14155550100", True, T + timedelta(minutes=minutes), "event:web-chat")


def test_a_set_crm_flag_blocks_even_a_later_grant():
    assert not may_contact([grant(0), crm(True, 5), grant(10)])
    assert standing([grant(0), crm(True, 5), grant(10)]).source == "crm:salesforce"


def test_a_cleared_crm_flag_is_never_consent():
    assert standing([crm(False, 5)]) is None
    assert not may_contact([crm(True, 0), crm(False, 5)])


def test_a_cleared_crm_flag_lifts_the_block_and_the_earlier_grant_stands_again():
    decisions = [grant(0), crm(True, 5), crm(False, 10)]
    assert may_contact(decisions)
    assert standing(decisions).source == "event:web-chat"


def test_the_latest_crm_flag_wins_whatever_the_order_it_arrived_in():
    assert may_contact([crm(False, 10), grant(0), crm(True, 5)])
    assert not may_contact([crm(True, 10), grant(0), crm(False, 5)])


def test_a_revocation_still_stands_when_the_crm_flag_is_cleared():
    decisions = [grant(0), ConsentDecision("voice", "+14155550100", False, T, "twilio:STOP"), crm(False, 5)]
    assert standing(decisions).source == "twilio:STOP"


def test_of_two_blocks_the_later_one_is_shown():
    revoked = ConsentDecision("voice", "+14155550100", False, T + timedelta(minutes=20), "event:ivr")
    assert standing([grant(0), crm(True, 5), revoked]) is revoked


# --- the CRM's do-not-contact flags ----------------------------------------------------------------


def test_a_crm_flag_in_the_ledger_blocks_with_its_own_reason():
    flag = ConsentDecision("voice", "+12125550100", False, NOON_NY - timedelta(hours=1), "crm:salesforce")
    verdict = evaluate(facts(action="callback", consent=flag), CONFIG)
    assert (verdict.decision, verdict.reason) == (BLOCK, "crm_opted_out")
    [consent] = [c for c in verdict.checks if c.guard == "consent"]
    assert "do-not-contact flag" in consent.detail and "crm:salesforce" in consent.detail


def test_flags_read_pass_and_are_recorded_as_a_check():
    read = CrmFlagsRead(True, "crm:salesforce read: DoNotCall not set (1 record(s))")
    verdict = evaluate(facts(action="callback", consent=granted("voice"), crm_flags=read), CONFIG)
    assert verdict.decision == SEND
    assert [c.detail for c in verdict.checks if c.guard == "crm_flags"] == [read.detail]


def test_flags_that_could_not_be_read_reschedule_at_the_retry_time_never_send():
    retry_at = NOON_NY + timedelta(minutes=2)
    read = CrmFlagsRead(False, "salesforce 503 (crm_unavailable)", retry_at)
    verdict = evaluate(facts(action="callback", consent=granted("voice"), crm_flags=read), CONFIG)
    assert (verdict.decision, verdict.reason, verdict.next_at) == (RESCHEDULE, "crm_unavailable", retry_at)


def test_an_unread_crm_never_hides_a_stronger_reason():
    read = CrmFlagsRead(False, "salesforce 503 (crm_unavailable)", NOON_NY + timedelta(minutes=2))
    no_consent = evaluate(facts(action="callback", consent=None, crm_flags=read), CONFIG)
    assert (no_consent.decision, no_consent.reason) == (BLOCK, "no_consent")
    night = NOON_NY + timedelta(hours=12)  # midnight in New York
    outside = evaluate(facts(action="callback", consent=granted("voice"), crm_flags=read, at=night), CONFIG)
    assert (outside.decision, outside.reason) == (RESCHEDULE, "outside_contact_window")
