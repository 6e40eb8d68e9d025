"""The guards every recovery attempt passes, as pure rules: which one decides, and what it records."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hub.domain.consent import ConsentDecision
from hub.domain.contact_window import ContactLocation
from hub.domain.recovery import (
    BLOCK,
    CANCEL,
    RESCHEDULE,
    SEND,
    CapRule,
    GuardFacts,
    Policy,
    RecoveryConfig,
    Step,
    evaluate,
    first_due,
    planned_instant,
)

NOON_NY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # Monday 12:00 in New York
NY = ContactLocation(("America/New_York",), "US", ("NY",))
FL = ContactLocation(("America/New_York",), "US", ("FL",))
CONFIG = RecoveryConfig()


def granted(channel: str = "sms", at: datetime = NOON_NY - timedelta(days=1)) -> ConsentDecision:
    return ConsentDecision(channel, "+12125550100", True, at, "event:test")


def facts(**changes) -> GuardFacts:
    values = {
        "at": NOON_NY,
        "action": "sms",
        "purpose": "service",
        "episode_open": True,
        "came_back": False,
        "resolved": False,
        "expires_at": NOON_NY + timedelta(hours=48),
        "address": "+12125550100",
        "consent": granted(),
        "episode_touches": 0,
        "customer_touches": (),
        "location": NY,
    }
    values.update(changes)
    return GuardFacts(**values)


def test_everything_passes_and_every_check_is_recorded():
    verdict = evaluate(facts(), CONFIG)
    assert (verdict.decision, verdict.reason) == (SEND, None)
    assert [c.guard for c in verdict.checks] == [
        "episode_open", "customer_away", "not_resolved", "ttl", "address", "consent", "episode_cap",
        "contact_window", "customer_cap", "customer_cap", "sender",
    ]  # fmt: skip
    assert all(c.passed for c in verdict.checks)
    assert verdict.until == datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 21:00 New York


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"episode_open": False}, "episode_closed"),
        ({"came_back": True}, "customer_came_back"),
        ({"resolved": True}, "resolved"),
        ({"expires_at": NOON_NY - timedelta(seconds=1)}, "expired"),
    ],
)
def test_cancellations_stop_the_plan(changes, reason):
    verdict = evaluate(facts(**changes, consent=None), CONFIG)  # they outrank every other failure
    assert (verdict.decision, verdict.reason, verdict.stops_plan) == (CANCEL, reason, True)


@pytest.mark.parametrize(
    ("changes", "reason", "stops"),
    [
        ({"address": None}, "no_address", False),
        ({"consent": None}, "no_consent", False),
        ({"consent": replace(granted(), granted=False, source="twilio:STOP")}, "consent_revoked", False),
        ({"episode_touches": 3}, "episode_cap", True),
        ({"location": ContactLocation((), "US")}, "unknown_time_zone", False),
        ({"customer_touches": (NOON_NY - timedelta(hours=1),) * 3}, "customer_cap_24h", False),
        ({"customer_touches": (NOON_NY - timedelta(days=2),) * 7}, "customer_cap_7d", False),
        ({"sender_ready": False}, "sms_not_configured", False),
    ],
)
def test_blocks(changes, reason, stops):
    verdict = evaluate(facts(**changes), CONFIG)
    assert (verdict.decision, verdict.reason, verdict.stops_plan) == (BLOCK, reason, stops)
    [failed] = [c for c in verdict.checks if not c.passed]
    assert failed.reason == reason


def test_a_revocation_says_where_it_came_from():
    revoked = ConsentDecision("sms", "+12125550100", False, NOON_NY - timedelta(hours=1), "twilio:STOP")
    verdict = evaluate(facts(consent=revoked), CONFIG)
    [check] = [c for c in verdict.checks if c.guard == "consent"]
    assert check.detail == "sms consent revoked 2026-11-23T16:00:00Z (twilio:STOP)"


def test_outside_the_window_it_is_rescheduled_even_when_a_cap_is_full_now():
    late = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)  # 21:30 New York
    touches = (late - timedelta(hours=20),) * 3  # they leave the 24 h window before 08:00
    verdict = evaluate(facts(at=late, customer_touches=touches), CONFIG)
    assert (verdict.decision, verdict.reason) == (RESCHEDULE, "outside_contact_window")
    assert verdict.next_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert evaluate(facts(at=verdict.next_at, customer_touches=touches), CONFIG).decision == SEND


def test_a_reschedule_past_the_plans_life_cancels_it():
    late = datetime(2026, 11, 24, 2, 30, tzinfo=UTC)
    verdict = evaluate(facts(at=late, expires_at=late + timedelta(hours=1)), CONFIG)
    assert (verdict.decision, verdict.reason) == (CANCEL, "expired")


def test_florida_closes_the_window_at_20():
    evening = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # 20:30 Miami
    assert evaluate(facts(at=evening, location=FL), CONFIG).decision == RESCHEDULE
    assert evaluate(facts(at=evening, location=NY), CONFIG).decision == SEND


def test_stricter_caps_apply_where_the_customer_may_be():
    maine = ContactLocation(("America/New_York",), "US", ("ME",))
    one_touch = (NOON_NY - timedelta(hours=7),)
    assert evaluate(facts(customer_touches=one_touch), CONFIG).decision == SEND
    verdict = evaluate(facts(customer_touches=one_touch, location=maine), CONFIG)
    assert (verdict.decision, verdict.reason) == (BLOCK, "customer_cap_8h")
    france = ContactLocation(("Europe/Paris",), "FR")
    month = tuple(NOON_NY - timedelta(days=d) for d in (3, 10, 17, 24))
    paris_noon = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert (
        evaluate(facts(at=paris_noon, location=france, customer_touches=month), CONFIG).reason
        == "customer_cap_30d"
    )


def test_email_has_no_calling_hours_but_follows_a_known_zone():
    night = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 02:00 New York
    email = {"action": "email", "consent": granted("email"), "address": "jo@example.com"}
    assert evaluate(facts(at=night, location=ContactLocation((), "US"), **email), CONFIG).decision == SEND
    assert evaluate(facts(at=night, **email), CONFIG).decision == RESCHEDULE


def test_a_callback_needs_voice_consent_and_the_window():
    callback = {"action": "callback", "consent": granted("voice")}
    assert evaluate(facts(**callback), CONFIG).decision == SEND
    assert evaluate(facts(**{**callback, "consent": None}), CONFIG).reason == "no_consent"
    assert evaluate(facts(sender_ready=False, **callback), CONFIG).decision == SEND  # no SMS involved


def test_caps_count_a_rolling_window_not_a_calendar_day():
    caps = (CapRule(2, timedelta(hours=24)),)
    config = replace(CONFIG, customer_caps=caps)
    touches = (NOON_NY - timedelta(hours=23, minutes=59), NOON_NY - timedelta(hours=1))
    assert evaluate(facts(customer_touches=touches), config).reason == "customer_cap_24h"
    later = NOON_NY + timedelta(minutes=2)
    assert evaluate(facts(at=later, customer_touches=touches), config).decision == SEND


def test_planning_arithmetic():
    step = Step("callback", timedelta(hours=3))
    failed = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert planned_instant(
        step, failed_at=failed, last_touch_at=None, now=failed, config=CONFIG
    ) == failed + timedelta(hours=3)
    touched = failed + timedelta(hours=2, minutes=30)
    assert planned_instant(
        step, failed_at=failed, last_touch_at=touched, now=touched, config=CONFIG
    ) == touched + timedelta(hours=1)
    night = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    assert first_due(night, NY, "sms", CONFIG, "service") == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert first_due(night, ContactLocation((), "US"), "sms", CONFIG, "service") == night  # blocked at claim


def test_policies_match_channel_intent_and_outcome_in_order():
    first = Policy(
        "a", ("failed",), (Step("sms", timedelta(0)),), channels=("self_service",), intents=("billing",)
    )
    second = Policy("b", ("failed", "abandoned"), (Step("sms", timedelta(0)),))
    off = Policy("c", ("no_response",), (Step("sms", timedelta(0)),), enabled=False)
    config = replace(CONFIG, policies=(first, second, off))
    assert config.policy_for(channel="self_service", intent="billing", outcome="failed") is first
    assert config.policy_for(channel="chat", intent="billing", outcome="failed") is second
    assert config.policy_for(channel="sms", intent="billing", outcome="no_response") is None
    assert (
        config.policy_for(channel="sms", intent="billing", outcome="no_response", include_disabled=True)
        is off
    )
    assert Policy.steps_from(first.as_dict()) == first.steps
