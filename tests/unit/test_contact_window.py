"""Contact windows: each rule, several zones at once, DST in both directions, the next allowed instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.domain.contact_window import (
    DEFAULT_RULES,
    ContactLocation,
    WindowRule,
    allowed_until,
    applicable_rules,
    daily,
    is_allowed,
    locate,
    next_allowed,
)
from hub.services.contact_location import contact_location

NY, CHI, DEN, LA = (
    ZoneInfo(z) for z in ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
)


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


def allowed(phone: str, moment: datetime, postal: str | None = None) -> bool:
    return is_allowed(moment, contact_location(phone, postal), DEFAULT_RULES)


# --- one rule at a time (2026-11-23 is a Monday, 2026-11-29 a Sunday) -----------------------------


@pytest.mark.parametrize(
    ("local", "expected"),
    [((7, 59), False), ((8, 0), True), ((20, 59), True), ((21, 0), False)],
)
def test_federal_window_is_8_to_21_local(local, expected):
    assert allowed("+12125550100", at(NY, 2026, 11, 23, *local)) is expected  # New York


@pytest.mark.parametrize(
    ("phone", "zone"),
    [("+13055550100", NY), ("+14055550100", CHI), ("+14105550100", NY), ("+12065550100", LA)],
    ids=["florida", "oklahoma", "maryland", "washington"],
)
def test_florida_oklahoma_maryland_and_washington_close_at_20(phone, zone):
    assert allowed(phone, at(zone, 2026, 11, 23, 8, 0))
    assert allowed(phone, at(zone, 2026, 11, 23, 19, 59))
    assert not allowed(phone, at(zone, 2026, 11, 23, 20, 0))
    assert next_allowed(at(zone, 2026, 11, 23, 20, 0), contact_location(phone, None), DEFAULT_RULES) == at(
        zone, 2026, 11, 24, 8, 0
    )


def test_texas_opens_at_9_and_at_noon_on_sunday():
    dallas = "+12145550100"
    assert not allowed(dallas, at(CHI, 2026, 11, 28, 8, 59))  # Saturday
    assert allowed(dallas, at(CHI, 2026, 11, 28, 9, 0))
    assert not allowed(dallas, at(CHI, 2026, 11, 29, 11, 59))  # Sunday
    assert allowed(dallas, at(CHI, 2026, 11, 29, 12, 0))
    assert not allowed(dallas, at(CHI, 2026, 11, 29, 21, 0))
    location = contact_location(dallas, None)
    assert next_allowed(at(CHI, 2026, 11, 29, 9, 0), location, DEFAULT_RULES) == at(CHI, 2026, 11, 29, 12, 0)


def test_texas_hours_are_also_read_in_central_time_for_el_paso():
    el_paso = "+19155550100"  # America/Denver
    assert contact_location(el_paso, None).zones == ("America/Denver",)
    assert allowed(el_paso, at(DEN, 2026, 11, 23, 19, 59))  # 20:59 Central
    assert not allowed(el_paso, at(DEN, 2026, 11, 23, 20, 0))  # 21:00 Central (federal would allow)
    assert not allowed(el_paso, at(DEN, 2026, 11, 28, 8, 30))  # 09:30 Central, 08:30 local: local wins


def test_canada_weekends_and_france_lunch():
    toronto = "+14165550100"
    eastern = ZoneInfo("America/Toronto")
    assert allowed(toronto, at(eastern, 2026, 11, 23, 21, 15))  # weekday to 21:30
    assert not allowed(toronto, at(eastern, 2026, 11, 28, 18, 0))  # weekend 10-18
    paris, zone = "+33142685300", ZoneInfo("Europe/Paris")
    assert allowed(paris, at(zone, 2026, 11, 23, 10, 0))
    assert not allowed(paris, at(zone, 2026, 11, 23, 13, 30))
    location = contact_location(paris, None)
    assert next_allowed(at(zone, 2026, 11, 23, 13, 30), location, DEFAULT_RULES) == at(
        zone, 2026, 11, 23, 14, 0
    )
    assert next_allowed(at(zone, 2026, 11, 27, 20, 0), location, DEFAULT_RULES) == at(
        zone, 2026, 11, 30, 10, 0
    )


def test_a_country_without_a_rule_gets_the_fallback():
    london = "+442079460000"
    rules = applicable_rules(contact_location(london, None), DEFAULT_RULES)
    assert [r.jurisdiction for r in rules] == ["default"]
    assert not allowed(london, at(ZoneInfo("Europe/London"), 2026, 11, 29, 11, 0))  # Sunday opens at noon


def test_pennsylvania_sunday_ban_starts_on_its_effective_date():
    pittsburgh = "+14125550100"
    assert allowed(pittsburgh, at(NY, 2026, 10, 11, 12, 0))  # a Sunday before 2026-10-18
    assert not allowed(pittsburgh, at(NY, 2026, 10, 18, 12, 0))
    assert next_allowed(at(NY, 2026, 10, 18, 12, 0), contact_location(pittsburgh, None), DEFAULT_RULES) == at(
        NY, 2026, 10, 19, 8, 0
    )


# --- several zones ----------------------------------------------------------------------------------


def test_an_area_code_spanning_zones_is_allowed_only_inside_every_window():
    idaho = "+12085550100"  # America/Boise (Mountain) and America/Los_Angeles (Pacific)
    assert not allowed(idaho, at(DEN, 2026, 11, 23, 8, 30))  # 07:30 Pacific
    assert next_allowed(at(DEN, 2026, 11, 23, 8, 30), contact_location(idaho, None), DEFAULT_RULES) == at(
        LA, 2026, 11, 23, 8, 0
    )
    assert allowed(idaho, at(LA, 2026, 11, 23, 19, 59))  # 20:59 Mountain
    assert not allowed(idaho, at(LA, 2026, 11, 23, 20, 0))  # 21:00 Mountain
    assert allowed_until(at(LA, 2026, 11, 23, 12, 0), contact_location(idaho, None), DEFAULT_RULES) == at(
        DEN, 2026, 11, 23, 21, 0
    )


def test_pensacola_is_central_and_tallahassee_eastern():
    assert contact_location("+18504320000", None).zones == ("America/Chicago",)
    assert contact_location("+18502220000", None).zones == ("America/New_York",)
    assert contact_location("+18504320000", None).states == ("FL",)


@pytest.mark.parametrize("phone", ["+18005550100", "+18885550100", "+15555551234", "not a phone", None])
def test_toll_free_invalid_and_missing_numbers_have_no_zone_and_are_never_allowed(phone):
    location = contact_location(phone, None)
    assert location.zones == ()
    assert not is_allowed(at(NY, 2026, 11, 23, 12, 0), location, DEFAULT_RULES)
    assert next_allowed(at(NY, 2026, 11, 23, 12, 0), location, DEFAULT_RULES) is None


def test_a_postal_state_places_a_toll_free_number_and_adds_its_rules():
    location = contact_location("+18005550100", "FL")
    assert location.zones == ("America/New_York", "America/Chicago")
    assert not is_allowed(at(CHI, 2026, 11, 23, 19, 30), location, DEFAULT_RULES)  # 20:30 Eastern
    moved = contact_location("+12125550100", "CA")  # a New York mobile, living in California
    assert moved.zones == ("America/New_York", "America/Los_Angeles") and moved.states == ("NY", "CA")


def test_yukon_gets_its_own_zone_beside_the_one_libphonenumber_gives():
    assert contact_location("+18676670000", None).zones == ("America/Vancouver", "America/Whitehorse")


# --- DST, both directions ---------------------------------------------------------------------------


def test_spring_forward_new_york():
    location = contact_location("+12125550100", None)
    # 2026-03-08 02:00 EST -> 03:00 EDT. 08:00 local is 12:00Z that day, 13:00Z the day before.
    assert not is_allowed(datetime(2026, 3, 7, 12, 59, tzinfo=UTC), location, DEFAULT_RULES)
    assert is_allowed(datetime(2026, 3, 7, 13, 0, tzinfo=UTC), location, DEFAULT_RULES)
    assert not is_allowed(datetime(2026, 3, 8, 11, 59, tzinfo=UTC), location, DEFAULT_RULES)
    assert is_allowed(datetime(2026, 3, 8, 12, 0, tzinfo=UTC), location, DEFAULT_RULES)
    assert next_allowed(datetime(2026, 3, 8, 2, 0, tzinfo=UTC), location, DEFAULT_RULES) == datetime(
        2026, 3, 8, 12, 0, tzinfo=UTC
    )
    assert allowed_until(datetime(2026, 3, 8, 12, 0, tzinfo=UTC), location, DEFAULT_RULES) == datetime(
        2026, 3, 9, 1, 0, tzinfo=UTC
    )


def test_fall_back_new_york():
    location = contact_location("+12125550100", None)
    # 2026-11-01 02:00 EDT -> 01:00 EST. 21:00 local on Oct 31 is 01:00Z; 08:00 on Nov 1 is 13:00Z.
    assert is_allowed(datetime(2026, 11, 1, 0, 59, tzinfo=UTC), location, DEFAULT_RULES)
    assert not is_allowed(datetime(2026, 11, 1, 1, 0, tzinfo=UTC), location, DEFAULT_RULES)
    assert not is_allowed(datetime(2026, 11, 1, 12, 59, tzinfo=UTC), location, DEFAULT_RULES)
    assert next_allowed(datetime(2026, 11, 1, 1, 0, tzinfo=UTC), location, DEFAULT_RULES) == datetime(
        2026, 11, 1, 13, 0, tzinfo=UTC
    )


def test_dst_in_europe_and_zones_changing_on_different_days():
    paris = contact_location("+33142685300", None)
    # 2026-03-29 CET -> CEST; Monday 30th 10:00 local is 08:00Z, Friday 27th it was 09:00Z.
    assert next_allowed(datetime(2026, 3, 27, 8, 0, tzinfo=UTC), paris, DEFAULT_RULES) == datetime(
        2026, 3, 27, 9, 0, tzinfo=UTC
    )
    assert next_allowed(datetime(2026, 3, 30, 7, 0, tzinfo=UTC), paris, DEFAULT_RULES) == datetime(
        2026, 3, 30, 8, 0, tzinfo=UTC
    )
    # New York and London both: between the US change (Mar 8) and the UK one (Mar 29) the offset is 4 h.
    both = locate(("America/New_York", "Europe/London"), "US")
    moment = next_allowed(datetime(2026, 3, 16, 0, 0, tzinfo=UTC), both, DEFAULT_RULES)
    assert moment == datetime(2026, 3, 16, 12, 0, tzinfo=UTC)  # 08:00 EDT, 12:00 GMT


def test_a_window_boundary_inside_a_dst_gap_is_the_jump():
    rule = WindowRule("*", daily("02:30", "23:00"), "test")
    location = locate(("America/New_York",), "US")
    moment = next_allowed(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), location, [rule])  # 00:00 EST
    assert moment == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT: the clock never shows 02:30


# --- rules as data ----------------------------------------------------------------------------------


def test_rules_describe_themselves_and_only_narrow():
    texas = next(r for r in DEFAULT_RULES if r.jurisdiction == "US-TX")
    assert texas.describe() == "US-TX Mon-Sat 09:00-21:00, Sun 12:00-21:00"
    house = WindowRule("*", daily("10:00", "18:00"), "house rule")
    location = contact_location("+12125550100", None)
    assert is_allowed(at(NY, 2026, 11, 23, 9, 0), location, DEFAULT_RULES)
    assert not is_allowed(at(NY, 2026, 11, 23, 9, 0), location, (*DEFAULT_RULES, house))


def test_effective_dates_and_validation():
    rule = WindowRule("US", daily("08:00", "09:00"), "x", effective_from=date(2027, 1, 1))
    assert rule.allows(datetime(2026, 12, 31, 12, 0)) and not rule.allows(datetime(2027, 1, 1, 12, 0))
    with pytest.raises(ValueError):
        WindowRule("US", daily("08:00", "09:00")[:6], "x")
    with pytest.raises(ValueError):
        WindowRule("US", (((600, 500),),) * 7, "x")


def test_next_allowed_is_exact_to_the_second():
    location = contact_location("+13055550100", None)
    start = at(NY, 2026, 11, 23, 20, 0, 1)
    moment = next_allowed(start, location, DEFAULT_RULES)
    assert moment is not None and is_allowed(moment, location, DEFAULT_RULES)
    assert not is_allowed(moment - timedelta(seconds=1), location, DEFAULT_RULES)


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        is_allowed(datetime(2026, 11, 23, 12, 0), ContactLocation(("America/New_York",), "US"), DEFAULT_RULES)
