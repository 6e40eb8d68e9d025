"""The deflection rules, one readable test per rule, and a property over random inputs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.deflection import (
    AFTER_HOURS,
    CHAT_FIRST,
    DEFLECT,
    ESCALATE,
    OFFER_CHANNELS,
    VOICE_FIRST,
    Attempt,
    DeflectionRequest,
    Hours,
    ResponseTime,
    Thresholds,
    about,
    decide,
    duration,
    local_time,
)
from hub.domain.outcome import CHANNELS, OUTCOMES

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 in New York
NEW_YORK = ZoneInfo("America/New_York")
ALL = frozenset({"self_service", "chat", "sms", "voice", "email", "messaging"})


def request(**changes) -> DeflectionRequest:
    """A busy queue in business hours, every channel eligible, SMS consent granted."""
    base = DeflectionRequest(
        intent="password_reset",
        eligible_channels=ALL,
        estimated_wait_seconds=360,
        agents_available=0,
        now=NOW,
        service_level=0.7,
        sms_consent=True,
    )
    return replace(base, **changes)


def channels(**changes) -> tuple[str, ...]:
    return decide(request(**changes)).channels


def withheld(**changes) -> dict[str, str]:
    return {w.channel: w.reason for w in decide(request(**changes)).withheld}


def offer(channel: str, **changes):
    return next(o for o in decide(request(**changes)).offers if o.channel == channel)


# --- eligibility ------------------------------------------------------------------------------------


def test_a_busy_queue_puts_every_eligible_digital_channel_before_voice():
    decision = decide(request())
    assert decision.mode == DEFLECT
    assert decision.channels == ("self_service", "chat", "sms", "voice")
    assert "above the threshold of 2 minutes" in decision.summary
    assert "instead of waiting about 6 minutes for voice" in decision.offers[1].reason


def test_channels_the_taxonomy_does_not_list_are_never_offered():
    decision = decide(request(intent="billing", eligible_channels=frozenset({"chat", "voice", "email"})))
    assert decision.channels == ("chat", "voice")
    reasons = {w.channel: w.reason for w in decision.withheld}
    assert (
        reasons["self_service"]
        == "not eligible: the intent taxonomy does not list self-service for 'billing'"
    )
    assert reasons["sms"] == "not eligible: the intent taxonomy does not list SMS for 'billing'"


def test_voice_is_offered_even_when_the_taxonomy_omits_it():
    assert channels(eligible_channels=frozenset({"chat"})) == ("chat", "voice")
    assert channels(eligible_channels=frozenset()) == ("voice",)


# --- escape rules -------------------------------------------------------------------------------------


def test_self_service_that_failed_twice_puts_chat_first_and_is_not_offered_again():
    attempts = (Attempt("self_service", "failed"), Attempt("self_service", "abandoned"))
    decision = decide(request(attempts=attempts))
    assert decision.mode == CHAT_FIRST
    assert decision.channels == ("chat", "voice", "sms")
    assert decision.offers[0].reason.startswith("self-service failed 2 times in this episode: chat first")
    assert {w.channel: w.reason for w in decision.withheld} == {
        "self_service": "self-service already failed 2 times in this episode; not offered again"
    }


def test_self_service_that_failed_once_is_still_offered_but_after_the_others():
    decision = decide(request(attempts=(Attempt("self_service", "failed"),)))
    assert decision.mode == DEFLECT
    assert decision.channels == ("chat", "sms", "self_service", "voice")
    assert "did not resolve this earlier in this episode" in decision.offers[2].reason


def test_self_service_failed_twice_without_chat_goes_to_voice_first():
    attempts = (Attempt("self_service", "failed"),) * 2
    decision = decide(request(attempts=attempts, eligible_channels=frozenset({"self_service", "sms"})))
    assert decision.channels == ("voice", "sms")
    assert "chat cannot be offered: voice first" in decision.summary


def test_a_resolved_or_deflected_attempt_is_not_a_failure():
    attempts = (Attempt("self_service", "resolved"), Attempt("self_service", "deflected"))
    assert decide(request(attempts=attempts)).mode == DEFLECT


def test_chat_that_failed_puts_voice_first_with_context():
    decision = decide(request(attempts=(Attempt("chat", "failed"),)))
    assert decision.mode == ESCALATE
    assert decision.channels == ("voice", "self_service", "sms", "chat")
    assert decision.offers[0].reason.startswith(
        "chat failed earlier in this episode: voice first, with the trail handed to the agent"
    )
    assert "context token" in decision.offers[0].reason


def test_negative_sentiment_puts_voice_first_with_context_even_when_an_agent_would_be_idle_or_not():
    for agents in (0, 3):
        decision = decide(request(sentiment="negative", agents_available=agents))
        assert decision.mode == ESCALATE
        assert decision.channels[0] == "voice"
        assert "sentiment is negative" in decision.offers[0].reason


def test_an_escape_rule_beats_the_customers_preference():
    assert channels(sentiment="negative", preference="sms")[0] == "voice"
    attempts = (Attempt("self_service", "failed"),) * 2
    assert channels(attempts=attempts, preference="sms")[0] == "chat"


# --- queue protection ---------------------------------------------------------------------------------


def test_an_idle_agent_means_no_deflection():
    decision = decide(request(agents_available=2))
    assert decision.mode == VOICE_FIRST
    assert decision.channels[0] == "voice"
    assert decision.summary == "voice is idle (2 agents available): no deflection, voice first"
    assert decision.offers[0].expected_response == "an agent is available now"


def test_a_wait_within_the_threshold_means_no_deflection():
    decision = decide(request(estimated_wait_seconds=120))
    assert decision.mode == VOICE_FIRST
    assert decision.channels == ("voice", "self_service", "chat", "sms")
    assert "within the threshold of 2 minutes" in decision.summary


def test_the_wait_threshold_and_idle_definition_come_from_the_config():
    thresholds = Thresholds(wait_threshold_seconds=600, idle_agents=3)
    assert decide(request(thresholds=thresholds)).mode == VOICE_FIRST
    thresholds = Thresholds(wait_threshold_seconds=60, idle_agents=3)
    assert decide(request(thresholds=thresholds, agents_available=2)).mode == DEFLECT


def test_a_queue_meeting_its_service_level_target_is_not_deflected_when_a_target_is_set():
    thresholds = Thresholds(service_level_target=0.8)
    decision = decide(request(thresholds=thresholds, service_level=0.85))
    assert decision.mode == VOICE_FIRST
    assert "meets its service level (85%, target 80%)" in decision.summary
    assert decide(request(thresholds=thresholds, service_level=0.6)).mode == DEFLECT


def test_the_preference_comes_first_within_a_deflection():
    assert channels(preference="sms") == ("sms", "self_service", "chat", "voice")
    assert channels(preference="voice") == ("voice", "self_service", "chat", "sms")
    assert "the customer prefers SMS" in offer("sms", preference="sms").reason


def test_a_digital_preference_is_honoured_without_a_push_when_voice_is_idle():
    assert channels(agents_available=1, preference="chat") == ("chat", "voice", "self_service", "sms")


def test_a_preference_for_a_channel_that_cannot_be_offered_is_ignored():
    assert channels(preference="sms", sms_consent=None) == ("self_service", "chat", "voice")


# --- after hours --------------------------------------------------------------------------------------


CLOSED = Hours(open=False, next_open=datetime(2026, 11, 30, 9, 0, tzinfo=NEW_YORK), schedule="new-york")


def test_after_hours_offers_self_service_then_async_channels_with_the_honest_time_then_voice():
    decision = decide(request(hours=CLOSED))
    assert decision.mode == AFTER_HOURS
    assert decision.channels == ("self_service", "chat", "sms", "voice")
    by = {o.channel: (o.expected_response, o.expected_by) for o in decision.offers}
    assert by["self_service"] == ("available now, around the clock", None)
    assert by["chat"] == ("by Monday 30 November 09:30 EST", datetime(2026, 11, 30, 9, 30, tzinfo=NEW_YORK))
    assert by["sms"] == ("by Monday 30 November 10:00 EST", datetime(2026, 11, 30, 10, 0, tzinfo=NEW_YORK))
    assert by["voice"] == (
        "lines open Monday 30 November 09:00 EST",
        datetime(2026, 11, 30, 9, tzinfo=NEW_YORK),
    )
    assert "schedule new-york; opens Monday 30 November 09:00 EST" in decision.summary
    assert "the lines are closed; they open Monday 30 November 09:00 EST" in decision.offers[-1].reason


def test_after_hours_response_times_come_from_the_config():
    thresholds = Thresholds(response_times={"chat": ResponseTime(1, 15), "sms": ResponseTime(5, 120)})
    decision = decide(request(hours=CLOSED, thresholds=thresholds))
    assert {o.channel: o.expected_response for o in decision.offers}[
        "sms"
    ] == "by Monday 30 November 11:00 EST"


def test_after_hours_ignores_the_queue_and_keeps_voice_last_even_if_preferred():
    assert channels(hours=CLOSED, agents_available=5, preference="voice")[-1] == "voice"
    assert channels(hours=CLOSED, preference="sms")[0] == "sms"


def test_in_hours_async_channels_answer_in_minutes():
    assert offer("chat").expected_response == "about 2 minutes"
    assert offer("sms").expected_response == "about 10 minutes"
    assert offer("chat").expected_by is None


# --- consent --------------------------------------------------------------------------------------------


def test_sms_is_offered_only_with_granted_consent():
    assert "sms" in channels(sms_consent=True)
    assert "standing SMS consent on record" in offer("sms").reason
    assert "sms" not in channels(sms_consent=None)
    assert withheld(sms_consent=None)["sms"] == (
        "no SMS consent on record for this number; SMS is offered only with consent"
    )


def test_revoked_sms_consent_withholds_sms_with_the_reason():
    assert "sms" not in channels(sms_consent=False)
    assert (
        withheld(sms_consent=False)["sms"]
        == "SMS consent was revoked; no texts until the customer opts in again"
    )


# --- wording ----------------------------------------------------------------------------------------------


def test_times_read_the_way_a_supervisor_says_them():
    assert about(30) == "under a minute"
    assert about(61) == "about 1 minute"
    assert about(360) == "about 6 minutes"
    assert about(3 * 3600) == "about 3 hours"
    assert duration(120) == "2 minutes"
    assert duration(90) == "90 seconds"
    assert duration(3600) == "1 hour"
    summer = datetime(2026, 6, 1, 9, 5, tzinfo=NEW_YORK)
    assert local_time(summer) == "Monday 1 June 09:05 EDT"


def test_every_offer_has_a_reason_and_an_expected_response():
    for changes in ({}, {"hours": CLOSED}, {"agents_available": 4}, {"sentiment": "negative"}):
        for item in decide(request(**changes)).offers:
            assert item.reason and item.expected_response


def test_the_decision_is_deterministic():
    assert decide(request()) == decide(request())


def test_the_same_context_token_goes_on_every_offer_including_voice():
    decision = decide(request()).with_context_token("tok")
    assert {o.context_token for o in decision.offers} == {"tok"}


# --- the property ---------------------------------------------------------------------------------------


attempts = st.lists(st.builds(Attempt, st.sampled_from(CHANNELS), st.sampled_from(OUTCOMES)), max_size=6)
hours = st.one_of(
    st.just(Hours()),
    st.builds(
        Hours,
        open=st.booleans(),
        next_open=st.one_of(
            st.none(),
            st.datetimes(
                min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(NEW_YORK)
            ),
        ),
        schedule=st.one_of(st.none(), st.just("new-york")),
    ),
)
thresholds = st.builds(
    Thresholds,
    wait_threshold_seconds=st.integers(0, 3600),
    idle_agents=st.integers(1, 5),
    service_level_target=st.one_of(st.none(), st.floats(0, 1)),
    self_service_failures=st.integers(1, 4),
)


@given(
    eligible=st.frozensets(st.sampled_from(CHANNELS)),
    wait=st.integers(0, 7200),
    agents=st.integers(0, 20),
    level=st.one_of(st.none(), st.floats(0, 1)),
    preference=st.one_of(st.none(), st.sampled_from(OFFER_CHANNELS)),
    history=attempts,
    sentiment=st.one_of(st.none(), st.sampled_from(("negative", "neutral", "positive"))),
    consent=st.one_of(st.none(), st.booleans()),
    schedule=hours,
    knobs=thresholds,
    minutes=st.integers(0, 60 * 24 * 14),
)
def test_voice_is_always_offered_and_nothing_ineligible_ever_is(
    eligible, wait, agents, level, preference, history, sentiment, consent, schedule, knobs, minutes
):
    decision = decide(
        DeflectionRequest(
            intent="any",
            eligible_channels=eligible,
            estimated_wait_seconds=wait,
            agents_available=agents,
            now=NOW + timedelta(minutes=minutes),
            service_level=level,
            preference=preference,
            attempts=tuple(history),
            sentiment=sentiment,
            sms_consent=consent,
            hours=schedule,
            thresholds=knobs,
        )
    )
    offered = decision.channels
    assert "voice" in offered
    assert set(offered) <= eligible | {"voice"}
    assert len(offered) == len(set(offered))
    assert consent is True or "sms" not in offered
    assert set(offered) | {w.channel for w in decision.withheld} == set(OFFER_CHANNELS)
    assert all(o.reason and o.expected_response for o in decision.offers)
