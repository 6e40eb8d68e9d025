from datetime import UTC, datetime, timedelta

from hub.domain.consent import ConsentDecision, may_contact, standing

T = datetime(2026, 11, 23, 12, tzinfo=UTC)


def decision(granted, minutes=0):
    return ConsentDecision("sms", "+14155550100", granted, T + timedelta(minutes=minutes), "test")


def test_no_decision_means_no_consent():
    assert standing([]) is None
    assert not may_contact([])


def test_the_latest_decision_stands_whatever_the_order_it_arrived_in():
    assert may_contact([decision(False, 0), decision(True, 5)])
    assert not may_contact([decision(True, 5), decision(False, 10), decision(True, 1)])


def test_a_revocation_wins_a_tie():
    assert not may_contact([decision(True), decision(False)])
    assert not may_contact([decision(False), decision(True)])
