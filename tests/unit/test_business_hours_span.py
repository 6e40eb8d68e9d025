"""The calendar's cost does not grow with the span, and skipping whole weeks changes no answer.

The reference is the week-by-week walk (``open_spans`` still walks: what ``sla explain`` shows is
every span anyway). Random schedules, zones with DST both ways (and Morocco's Ramadan changes, Lord
Howe's half-hour shift), random holidays, spans of up to three years.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hub.domain.business_hours import (
    Holiday,
    Schedule,
    add_business_minutes,
    business_minutes_between,
    open_spans,
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Africa/Casablanca",
    "Asia/Kathmandu",
    "America/Sao_Paulo",
]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    intervals = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, 10079))
        end = draw(st.integers(start + 1, min(10080, start + 3000)))
        intervals.append((start, end))
    holidays = []
    for index in range(draw(st.integers(0, 5))):
        first = draw(st.dates(min_value=date(2019, 1, 1), max_value=date(2031, 12, 31)))
        holidays.append(Holiday(f"h{index}", first, first + timedelta(days=draw(st.integers(0, 20)))))
    return Schedule("random", draw(st.sampled_from(ZONES)), tuple(intervals), tuple(holidays))


instants = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2031, 1, 1), timezones=st.just(UTC)
)


def walked_between(schedule: Schedule, start: datetime, end: datetime) -> float:
    return sum(((b - a) for a, b in open_spans(schedule, start, end)), timedelta()) / timedelta(minutes=1)


def walked_add(schedule: Schedule, start: datetime, minutes: float, horizon: timedelta) -> datetime | None:
    remaining = timedelta(minutes=minutes)
    for lo, hi in open_spans(schedule, start, start + horizon):
        if remaining <= hi - lo:
            return lo + remaining
        remaining -= hi - lo
    return None


@settings(max_examples=120, deadline=None)
@given(schedules(), instants, st.integers(0, 3 * 365 * 24 * 60))
def test_between_equals_the_week_by_week_walk(schedule, start, span_minutes):
    end = start + timedelta(minutes=span_minutes)
    assert business_minutes_between(schedule, start, end) == pytest.approx(
        walked_between(schedule, start, end), abs=1e-6
    )


@settings(max_examples=120, deadline=None)
@given(schedules(), instants, st.floats(min_value=0.001, max_value=200_000, allow_nan=False))
def test_add_equals_the_week_by_week_walk(schedule, start, minutes):
    expected = walked_add(schedule, start, minutes, timedelta(days=4 * 365))
    assume(expected is not None)
    assert add_business_minutes(schedule, start, minutes) == expected


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("America/Noronha", datetime(2000, 9, 20, tzinfo=UTC)),  # a 7-day DST period, Oct 2000
        ("America/Boa_Vista", datetime(2000, 9, 20, tzinfo=UTC)),
        ("Asia/Gaza", datetime(2040, 10, 1, tzinfo=UTC)),  # a 7-day period in the future rules
        ("America/Argentina/Tucuman", datetime(2004, 5, 15, tzinfo=UTC)),  # 12 days, June 2004
    ],
)
def test_the_shortest_offset_periods_in_the_tz_database_are_counted(zone, start):
    for intervals in (((0, 10080),), tuple((d * 1440 + 60, d * 1440 + 180) for d in range(7))):
        schedule = Schedule("short", zone, intervals)
        for day in range(0, 80):  # an end inside the short period is where a missed change shows
            end = start + timedelta(days=day, hours=13)
            assert business_minutes_between(schedule, start, end) == walked_between(schedule, start, end)
            minutes = walked_between(schedule, start, end)
            assert add_business_minutes(schedule, start, minutes) <= end


NINE_TO_FIVE = Schedule(
    "ny",
    "America/New_York",
    tuple((d * 1440 + 540, d * 1440 + 1020) for d in range(1, 6)),
    (Holiday("Thanksgiving", date(2026, 11, 26), date(2026, 11, 26)),),
)


def _timed(start: datetime, end: datetime) -> float:
    began = time.perf_counter()
    business_minutes_between(NINE_TO_FIVE, start, end)
    add_business_minutes(NINE_TO_FIVE, start, business_minutes_between(NINE_TO_FIVE, start, end))
    return time.perf_counter() - began


def test_an_event_dated_years_away_costs_about_what_one_dated_today_does():
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    _timed(now - timedelta(days=3), now)  # warm the caches the way a running hub has them
    today = min(_timed(now - timedelta(days=3), now) for _ in range(3))
    years = min(_timed(now - timedelta(days=5 * 365), now) for _ in range(3))
    centuries = min(_timed(datetime(1526, 3, 1, tzinfo=UTC), now) for _ in range(3))
    print(
        f"\nbusiness hours (between + add): 3 days {today * 1000:.2f} ms, "
        f"5 years {years * 1000:.2f} ms, since 1526 {centuries * 1000:.2f} ms"
    )
    # The week-by-week walk took seconds for 1526. What grows now is one offset probe per week
    # (a cached utcoffset) and one week's spans per DST change (about 150 in New York since 1883).
    assert years < 0.05
    assert centuries < 5.0
