"""The business-hours calendar: weekends, holidays, lunch breaks, DST both ways, other time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.business_hours import (
    Holiday,
    Schedule,
    add_business_minutes,
    business_minutes_between,
    is_open,
    next_open,
    open_spans,
)

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")
MON, TUE, WED, THU, FRI, SAT, SUN = 1, 2, 3, 4, 5, 6, 0


def day_hours(day: int, start: str, end: str) -> tuple[int, int]:
    """Zendesk's interval for one weekday: minutes since Sunday 00:00."""
    (sh, sm), (eh, em) = (map(int, start.split(":")), map(int, end.split(":")))
    return day * 1440 + sh * 60 + sm, day * 1440 + eh * 60 + em


def weekdays(start: str = "09:00", end: str = "17:00") -> tuple[tuple[int, int], ...]:
    return tuple(day_hours(d, start, end) for d in (MON, TUE, WED, THU, FRI))


NEW_YORK = Schedule("new-york", "America/New_York", weekdays())
WITH_LUNCH = Schedule(
    "new-york-lunch",
    "America/New_York",
    tuple(sorted(weekdays("09:00", "12:00") + weekdays("13:00", "17:00"))),
)
LONDON_DESK = Schedule("london", "Europe/London", weekdays())
ALWAYS_NY = Schedule("always-ny", "America/New_York", ((0, 10080),))
ALWAYS_LONDON = Schedule("always-london", "Europe/London", ((0, 10080),))


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)


def holiday(schedule: Schedule, *days: tuple[date, date]) -> Schedule:
    return Schedule(
        schedule.name,
        schedule.time_zone,
        schedule.intervals,
        tuple(Holiday(f"h{i}", start, end) for i, (start, end) in enumerate(days)),
    )


# --- the examples, exactly ------------------------------------------------------------------


def test_sixty_business_minutes_from_friday_1630_is_monday_0930():
    due = add_business_minutes(NEW_YORK, ny(2026, 11, 20, 16, 30), 60)
    assert due == ny(2026, 11, 23, 9, 30)
    assert due.tzinfo == UTC


def test_and_tuesday_0930_when_that_monday_is_a_holiday():
    closed_monday = holiday(NEW_YORK, (date(2026, 11, 23), date(2026, 11, 23)))
    assert add_business_minutes(closed_monday, ny(2026, 11, 20, 16, 30), 60) == ny(2026, 11, 24, 9, 30)


# --- weekends, holidays, lunch ------------------------------------------------------------------


def test_a_start_on_the_weekend_counts_from_monday_opening():
    assert add_business_minutes(NEW_YORK, ny(2026, 11, 21, 11, 0), 90) == ny(2026, 11, 23, 10, 30)


def test_minutes_used_up_at_closing_time_are_due_at_closing_not_next_opening():
    assert add_business_minutes(NEW_YORK, ny(2026, 11, 20, 16, 30), 30) == ny(2026, 11, 20, 17, 0)


def test_zero_minutes_is_the_next_open_instant():
    assert add_business_minutes(NEW_YORK, ny(2026, 11, 20, 17, 0), 0) == ny(2026, 11, 23, 9, 0)
    assert add_business_minutes(NEW_YORK, ny(2026, 11, 20, 10, 0), 0) == ny(2026, 11, 20, 10, 0)


def test_a_multi_day_holiday_closes_every_day_in_it():
    thanksgiving = holiday(NEW_YORK, (date(2026, 11, 26), date(2026, 11, 27)))
    # Wednesday 16:00 + 2 h: one hour on Wednesday, then nothing until Monday.
    assert add_business_minutes(thanksgiving, ny(2026, 11, 25, 16, 0), 120) == ny(2026, 11, 30, 10, 0)
    assert business_minutes_between(thanksgiving, ny(2026, 11, 25, 0, 0), ny(2026, 12, 1, 0, 0)) == 16 * 60
    assert not is_open(thanksgiving, ny(2026, 11, 27, 12, 0))


def test_overlapping_holidays_and_one_inside_a_weekend():
    schedule = holiday(
        NEW_YORK,
        (date(2026, 12, 24), date(2026, 12, 25)),
        (date(2026, 12, 25), date(2026, 12, 28)),  # overlaps the first and spans the weekend
    )
    assert next_open(schedule, ny(2026, 12, 23, 17, 0)) == ny(2026, 12, 29, 9, 0)


def test_a_lunch_break_is_skipped():
    assert add_business_minutes(WITH_LUNCH, ny(2026, 11, 23, 11, 30), 60) == ny(2026, 11, 23, 13, 30)
    assert business_minutes_between(WITH_LUNCH, ny(2026, 11, 23, 9, 0), ny(2026, 11, 23, 17, 0)) == 7 * 60
    assert not is_open(WITH_LUNCH, ny(2026, 11, 23, 12, 30))
    assert next_open(WITH_LUNCH, ny(2026, 11, 23, 12, 30)) == ny(2026, 11, 23, 13, 0)


def test_lunch_break_and_weekend_and_holiday_together():
    schedule = holiday(WITH_LUNCH, (date(2026, 11, 23), date(2026, 11, 23)))
    # Friday 11:00: 60 min to lunch, 240 after it; 120 more on Tuesday (Monday is a holiday).
    assert add_business_minutes(schedule, ny(2026, 11, 20, 11, 0), 420) == ny(2026, 11, 24, 11, 0)


def test_intervals_touching_across_the_week_boundary_run_on():
    schedule = Schedule("late", "UTC", ((0, 120), (9960, 10080)))  # Sat 22:00 - Sun 02:00
    start = datetime(2026, 11, 21, 23, 0, tzinfo=UTC)  # a Saturday
    assert add_business_minutes(schedule, start, 120) == datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
    assert open_spans(schedule, start, datetime(2026, 11, 22, 3, 0, tzinfo=UTC)) == [
        (start, datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    ]


def test_is_open_is_half_open_and_next_open_returns_the_instant_itself_when_open():
    assert is_open(NEW_YORK, ny(2026, 11, 23, 9, 0))
    assert not is_open(NEW_YORK, ny(2026, 11, 23, 17, 0))
    assert next_open(NEW_YORK, ny(2026, 11, 23, 9, 15)) == ny(2026, 11, 23, 9, 15)
    assert next_open(NEW_YORK, ny(2026, 11, 23, 17, 0)) == ny(2026, 11, 24, 9, 0)


def test_minutes_between_across_a_weekend_and_backwards():
    assert business_minutes_between(NEW_YORK, ny(2026, 11, 20, 16, 30), ny(2026, 11, 23, 9, 30)) == 60
    assert business_minutes_between(NEW_YORK, ny(2026, 11, 23, 9, 30), ny(2026, 11, 20, 16, 30)) == 0.0


def test_fractional_minutes():
    assert add_business_minutes(NEW_YORK, ny(2026, 11, 20, 16, 59), 1.5) == ny(2026, 11, 23, 9, 0, 30)


# --- DST, both directions, two zones ------------------------------------------------------------


def test_new_york_spring_forward_weekend_keeps_wall_clock_hours():
    # Clocks jump 02:00 -> 03:00 on Sunday 2026-03-08: Monday still opens at 09:00 local (EDT).
    due = add_business_minutes(NEW_YORK, ny(2026, 3, 6, 16, 30), 60)
    assert due == ny(2026, 3, 9, 9, 30)
    assert due == datetime(2026, 3, 9, 13, 30, tzinfo=UTC)  # not 14:30: the offset changed


def test_new_york_fall_back_weekend_keeps_wall_clock_hours():
    due = add_business_minutes(NEW_YORK, ny(2026, 10, 30, 16, 30), 60)
    assert due == ny(2026, 11, 2, 9, 30)
    assert due == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)


def test_a_24_hour_day_has_23_hours_in_spring_and_25_in_autumn_new_york():
    spring = business_minutes_between(ALWAYS_NY, ny(2026, 3, 8), ny(2026, 3, 9))
    autumn = business_minutes_between(ALWAYS_NY, ny(2026, 11, 1), ny(2026, 11, 2))
    assert (spring, autumn) == (23 * 60, 25 * 60)
    # 1440 calendar minutes from Saturday noon EST land at 13:00 EDT on Sunday.
    assert add_business_minutes(ALWAYS_NY, ny(2026, 3, 7, 12), 1440) == ny(2026, 3, 8, 13)


def test_a_24_hour_day_has_23_hours_in_spring_and_25_in_autumn_london():
    spring = business_minutes_between(ALWAYS_LONDON, london(2026, 3, 29), london(2026, 3, 30))
    autumn = business_minutes_between(ALWAYS_LONDON, london(2026, 10, 25), london(2026, 10, 26))
    assert (spring, autumn) == (23 * 60, 25 * 60)


def test_an_interval_across_the_skipped_hour_is_an_hour_shorter():
    night = Schedule("night", "America/New_York", ((60, 240),))  # Sunday 01:00-04:00
    assert business_minutes_between(night, ny(2026, 3, 8), ny(2026, 3, 9)) == 120
    # An interval that starts inside the gap opens when the clocks jump.
    gap = Schedule("gap", "America/New_York", ((150, 300),))  # Sunday 02:30-05:00
    assert open_spans(gap, ny(2026, 3, 8), ny(2026, 3, 9)) == [
        (datetime(2026, 3, 8, 7, 0, tzinfo=UTC), datetime(2026, 3, 8, 9, 0, tzinfo=UTC))
    ]
    # One wholly inside the gap never opens that day.
    never = Schedule("never", "America/New_York", ((130, 150), day_hours(MON, "09:00", "10:00")))
    assert next_open(never, ny(2026, 3, 8, 0, 0)) == ny(2026, 3, 9, 9, 0)


def test_an_interval_across_the_repeated_hour_is_an_hour_longer():
    night = Schedule("night", "America/New_York", ((60, 240),))  # Sunday 01:00-04:00
    assert business_minutes_between(night, ny(2026, 11, 1), ny(2026, 11, 2)) == 240
    london_night = Schedule("night", "Europe/London", ((0, 180),))  # Sunday 00:00-03:00
    assert business_minutes_between(london_night, london(2026, 3, 29), london(2026, 3, 30)) == 120
    assert business_minutes_between(london_night, london(2026, 10, 25), london(2026, 10, 26)) == 240


def test_london_schedule_across_both_changes():
    assert add_business_minutes(LONDON_DESK, london(2026, 3, 27, 16, 30), 60) == london(2026, 3, 30, 9, 30)
    assert add_business_minutes(LONDON_DESK, london(2026, 10, 23, 16, 30), 60) == london(2026, 10, 26, 9, 30)


def test_the_weeks_between_the_us_and_uk_changes():
    # 2026-03-09..27 New York is on EDT while London is still on GMT: 4 hours apart, not 5.
    customer_in_london = london(2026, 3, 13, 20, 30)  # Friday 16:30 in New York
    assert add_business_minutes(NEW_YORK, customer_in_london, 60) == london(2026, 3, 16, 13, 30)


# --- the schedule's zone is not the customer's --------------------------------------------------


def test_a_customer_in_another_zone_is_measured_on_the_schedule_zone():
    customer = datetime(2026, 11, 20, 21, 30, tzinfo=LONDON)  # = Friday 16:30 in New York
    assert add_business_minutes(NEW_YORK, customer, 60) == ny(2026, 11, 23, 9, 30)
    tokyo_monday_morning = datetime(2026, 11, 23, 8, 0, tzinfo=TOKYO)  # = Sunday 18:00 in New York
    assert not is_open(NEW_YORK, tokyo_monday_morning)
    assert next_open(NEW_YORK, tokyo_monday_morning) == ny(2026, 11, 23, 9, 0)


def test_holidays_are_local_days_of_the_schedule_zone():
    tokyo_schedule = Schedule(
        "tokyo",
        "Asia/Tokyo",
        weekdays(),
        (Holiday("Labour Thanksgiving", date(2026, 11, 23), date(2026, 11, 23)),),
    )
    # Monday 2026-11-23 in Tokyo is Sunday evening in New York; the holiday is Tokyo's Monday.
    assert not is_open(tokyo_schedule, datetime(2026, 11, 23, 10, 0, tzinfo=TOKYO))
    assert is_open(tokyo_schedule, datetime(2026, 11, 24, 10, 0, tzinfo=TOKYO))


# --- refusals -------------------------------------------------------------------------------------


def test_naive_datetimes_and_negative_minutes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        is_open(NEW_YORK, datetime(2026, 11, 23, 9, 0))
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(NEW_YORK, ny(2026, 11, 23, 9, 0), -1)


def test_schedules_and_holidays_check_themselves():
    with pytest.raises(ValueError, match="time zone"):
        Schedule("x", "Mars/Olympus_Mons", weekdays())
    with pytest.raises(ValueError, match="interval"):
        Schedule("x", "UTC", ((600, 600),))
    with pytest.raises(ValueError, match="interval"):
        Schedule("x", "UTC", ((0, 10081),))
    with pytest.raises(ValueError, match="no intervals"):
        Schedule("x", "UTC", ())
    with pytest.raises(ValueError, match="before it starts"):
        Holiday("x", date(2026, 1, 2), date(2026, 1, 1))


# --- properties -----------------------------------------------------------------------------------

SCHEDULES = [
    holiday(WITH_LUNCH, (date(2026, 11, 26), date(2026, 11, 27)), (date(2027, 1, 1), date(2027, 1, 1))),
    holiday(LONDON_DESK, (date(2026, 12, 25), date(2026, 12, 28))),
    ALWAYS_NY,
    Schedule("nights", "America/New_York", ((60, 240), day_hours(WED, "22:00", "24:00"), (4320, 4500))),
    Schedule("tokyo", "Asia/Tokyo", weekdays("10:00", "15:30")),
]
schedules = st.sampled_from(SCHEDULES)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)
)
minutes = st.floats(min_value=0, max_value=6000, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(schedules, instants, minutes)
def test_add_then_between_round_trips(schedule, start, amount):
    due = add_business_minutes(schedule, start, amount)
    assert business_minutes_between(schedule, start, due) == pytest.approx(amount, abs=1e-6)


@settings(max_examples=150, deadline=None)
@given(schedules, instants, minutes)
def test_the_due_time_is_inside_an_open_interval(schedule, start, amount):
    due = add_business_minutes(schedule, start, amount)
    if amount == 0:
        assert is_open(schedule, due)
    else:
        # the instant just before it counted: it closes an open stretch (or lies inside one)
        assert is_open(schedule, due - timedelta(microseconds=1)) or is_open(schedule, due)
    assert due >= start


@settings(max_examples=150, deadline=None)
@given(schedules, instants, minutes, minutes)
def test_more_minutes_are_never_due_earlier(schedule, start, a, b):
    low, high = sorted((a, b))
    assert add_business_minutes(schedule, start, low) <= add_business_minutes(schedule, start, high)


@settings(max_examples=100, deadline=None)
@given(schedules, instants, st.integers(0, 20 * 24 * 60), st.integers(0, 20 * 24 * 60))
def test_between_adds_up_over_a_split(schedule, start, first, second):
    middle = start + timedelta(minutes=first)
    end = middle + timedelta(minutes=second)
    whole = business_minutes_between(schedule, start, end)
    parts = business_minutes_between(schedule, start, middle) + business_minutes_between(
        schedule, middle, end
    )
    assert whole == pytest.approx(parts, abs=1e-6)
    assert is_open(schedule, next_open(schedule, start))
