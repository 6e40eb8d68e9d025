"""Properties of the contact window and the caps, over random zones, jurisdictions, instants and DST.

The window is checked here by an independent reading of the rule table (local wall time against each
rule's spans, in every candidate zone), not by the module under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.consent import ConsentDecision
from hub.domain.contact_window import DEFAULT_RULES, ContactLocation, applicable_rules, next_allowed
from hub.domain.recovery import SEND, CapRule, GuardFacts, RecoveryConfig, evaluate

ZONES = [
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/St_Johns", "America/Halifax", "America/Boise",
    "Europe/London", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata", "America/Whitehorse",
]  # fmt: skip
TRANSITIONS = [  # DST changes: US, EU, Lord Howe (30 minutes), Newfoundland
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC), datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC), datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
]  # fmt: skip

locations = st.builds(
    ContactLocation,
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True).map(tuple),
    country=st.sampled_from(["US", "CA", "FR", "GB"]),
    states=st.lists(
        st.sampled_from(["FL", "TX", "NY", "PA", "ME", "MS", "ON", "AL"]), max_size=2, unique=True
    ).map(tuple),
)
instants = st.one_of(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 6, 30), timezones=st.just(UTC)),
    st.builds(
        lambda base, minutes: base + timedelta(minutes=minutes),
        st.sampled_from(TRANSITIONS),
        st.integers(min_value=-36 * 60, max_value=36 * 60),
    ),
)


def inside(moment: datetime, location: ContactLocation) -> bool:
    """Independent reading: every applicable rule allows the local wall time in every zone."""
    if not location.zones:
        return False
    for rule in applicable_rules(location, DEFAULT_RULES):
        for name in {*location.zones, *rule.also_zones}:
            local = moment.astimezone(ZoneInfo(name))
            if not rule.in_force(local.date()):
                continue
            seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
            if not any(start * 60 <= seconds < end * 60 for start, end in rule.days[local.weekday()]):
                return False
    return True


@settings(max_examples=400, deadline=None)
@given(locations, instants)
def test_next_allowed_is_inside_every_window_and_nothing_earlier_is(location, moment):
    found = next_allowed(moment, location, DEFAULT_RULES)
    if found is None:  # no common window: nothing in two weeks may be allowed
        assert not any(inside(moment + timedelta(minutes=m), location) for m in range(0, 15 * 24 * 60, 30))
        return
    assert found >= moment
    assert inside(found, location)
    if found > moment:
        assert not inside(found - timedelta(seconds=1), location)
        step = max((found - moment) / 50, timedelta(seconds=1))
        probe = moment
        while probe < found:
            assert not inside(probe, location)
            probe += step


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10 * 24 * 60), max_size=12),
    st.integers(min_value=1, max_value=4),
    st.integers(min_value=1, max_value=9),
    st.booleans(),
)
def test_a_send_never_exceeds_a_cap_or_follows_an_opt_out(offsets, limit_day, limit_week, revoked):
    config = RecoveryConfig(
        customer_caps=(CapRule(limit_day, timedelta(hours=24)), CapRule(limit_week, timedelta(days=7)))
    )
    noon = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    location = ContactLocation(("America/New_York",), "US")
    touches: list[datetime] = []
    decision = ConsentDecision("sms", "+12125550100", not revoked, noon - timedelta(days=30), "test")
    for offset in sorted(offsets):
        at = noon + timedelta(minutes=offset)
        facts = GuardFacts(
            at=at,
            action="sms",
            purpose="service",
            episode_open=True,
            came_back=False,
            resolved=False,
            expires_at=at + timedelta(days=1),
            address="+12125550100",
            consent=decision,
            episode_touches=0,
            customer_touches=tuple(touches),
            location=location,
        )
        if evaluate(facts, config).decision == SEND:
            touches.append(at)
    assert not (revoked and touches)
    for touch in touches:
        assert sum(1 for t in touches if touch - timedelta(hours=24) < t <= touch) <= limit_day
        assert sum(1 for t in touches if touch - timedelta(days=7) < t <= touch) <= limit_week
        assert inside(touch, location)
