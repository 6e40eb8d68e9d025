"""Blocked dates (holiday bans, admin data) in the contact windows: examples and a property."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.contact_window import (
    DEFAULT_RULES,
    ContactLocation,
    WindowRule,
    allowed_until,
    blocked_dates,
    is_allowed,
    next_allowed,
)
from hub.services.contact_location import contact_location
from tests.unit.test_contact_window import CHI, NY, at

GUAM, HONOLULU = ZoneInfo("Pacific/Guam"), ZoneInfo("Pacific/Honolulu")
# A number may be in Guam or in Honolulu (20 hours apart): most instants fall on two local dates.
FAR_APART = ContactLocation(("Pacific/Guam", "Pacific/Honolulu"), "US", ())
CHRISTMAS = date(2026, 12, 25)


def closed(*days: date, jurisdiction: str = "US") -> tuple[WindowRule, ...]:
    return (*DEFAULT_RULES, blocked_dates(jurisdiction, days, "test"))


def test_a_blocked_date_closes_the_whole_local_day_and_only_where_it_applies():
    ny = contact_location("+12125550100", None)
    noon = at(NY, 2026, 12, 25, 12)
    assert is_allowed(noon, ny, DEFAULT_RULES)
    assert not is_allowed(noon, ny, closed(CHRISTMAS))
    assert is_allowed(noon - timedelta(days=1), ny, closed(CHRISTMAS))
    assert is_allowed(noon, ny, closed(CHRISTMAS, jurisdiction="US-AL"))  # another state's ban


def test_a_blocked_date_in_any_candidate_zone_blocks():
    moment = at(GUAM, 2026, 12, 25, 8, 30)  # Christmas morning in Guam, Dec 24 12:30 in Honolulu
    assert is_allowed(moment, FAR_APART, DEFAULT_RULES)
    assert not is_allowed(moment, FAR_APART, closed(CHRISTMAS))
    assert not is_allowed(moment, FAR_APART, closed(date(2026, 12, 24)))


def test_the_next_allowed_instant_is_after_the_ban_in_every_zone():
    moment = at(GUAM, 2026, 12, 25, 8, 30)
    # Guam Dec 26 is Dec 25 in Honolulu until 04:00 Guam time of Dec 27; then Guam's window opens at 08:00.
    assert next_allowed(moment, FAR_APART, closed(CHRISTMAS)) == at(GUAM, 2026, 12, 27, 8)


def test_a_blocked_date_is_said_in_the_rule_and_a_span_before_it_ends_at_its_midnight():
    rule = blocked_dates("US-AL", [CHRISTMAS, date(2027, 1, 1)], "test")
    assert rule.describe() == "US-AL no contact on 2026-12-25, 2027-01-01"
    always = (WindowRule("*", tuple(((0, 1440),) for _ in range(7)), "24/7"), rule)
    alabama = ContactLocation(("America/Chicago",), "US", ("AL",))
    evening = at(CHI, 2026, 12, 23, 22)
    assert allowed_until(evening, alabama, always) == at(CHI, 2026, 12, 25, 0)


@settings(max_examples=60, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 12, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
    ),
    offsets=st.sets(st.integers(min_value=0, max_value=40), max_size=6),
    where=st.sampled_from(
        [
            FAR_APART,
            ContactLocation(("America/New_York", "America/Chicago"), "US", ("FL",)),
            ContactLocation(("America/Boise", "America/Los_Angeles"), "US", ("ID",)),
            ContactLocation(("America/Toronto",), "CA", ("ON",)),
        ]
    ),
)
def test_property_next_allowed_is_allowed_off_every_blocked_date_and_nothing_earlier_is(
    start, offsets, where
):
    days = {date(2026, 12, 1) + timedelta(days=n) for n in offsets}
    rules = closed(*days, jurisdiction=where.country or "US")
    found = next_allowed(start, where, rules)
    if found is None:
        return
    assert found >= start and is_allowed(found, where, rules)
    assert all(found.astimezone(ZoneInfo(z)).date() not in days for z in where.zones)
    probe = start.replace(second=0, microsecond=0) + timedelta(minutes=15 - start.minute % 15)
    while probe < found:
        assert not is_allowed(probe, where, rules), probe
        probe += timedelta(minutes=15)
