"""Business-hours calendar: Zendesk schedules (weekly intervals plus holidays) and the arithmetic on them.

A schedule is open during its weekly intervals, given in minutes since Sunday 00:00 *local wall time*
in the schedule's own time zone (Zendesk's shape, accepted as is: Monday 09:00-17:00 is (1980, 2460)),
and closed for the whole of every local calendar day in a holiday (start and end dates inclusive).

Wall time becomes real time through the time zone, so a DST change is honored the way a wall clock
is read: an interval boundary is the first instant the local clock shows that time or later.

- a boundary inside a spring-forward gap (02:30 when clocks jump 02:00 -> 03:00) is the jump itself;
- a boundary inside a fall-back repeat (01:30 happens twice) is its first occurrence, so an interval
  across the repeated hour lasts an hour longer, and a 24-hour day has 23 or 25 business hours.

Every function takes aware datetimes and returns aware datetimes in UTC; all arithmetic is done on
real elapsed time between those instants. Open intervals are half-open ``[start, end)``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_WEEK = 7 * 24 * 60


@dataclass(frozen=True)
class Holiday:
    name: str
    start_date: date
    end_date: date  # inclusive

    def __post_init__(self) -> None:
        if self.end_date < self.start_date:
            raise ValueError(
                f"holiday {self.name!r} ends ({self.end_date}) before it starts ({self.start_date})"
            )


@dataclass(frozen=True)
class Schedule:
    name: str
    time_zone: str
    intervals: tuple[tuple[int, int], ...]  # minutes since Sunday 00:00 local, 0 <= start < end <= 10080
    holidays: tuple[Holiday, ...] = ()

    def __post_init__(self) -> None:
        zone(self.time_zone)  # raises ValueError for an unknown zone
        if not self.intervals:
            raise ValueError(f"schedule {self.name!r} has no intervals")
        for start, end in self.intervals:
            if not 0 <= start < end <= MINUTES_PER_WEEK:
                raise ValueError(
                    f"schedule {self.name!r}: interval ({start}, {end}) must satisfy "
                    f"0 <= start < end <= {MINUTES_PER_WEEK}"
                )


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError when zoneinfo does not know it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def is_open(schedule: Schedule, at: datetime) -> bool:
    at = _utc(at)
    for start, end in _spans(schedule, at):
        return start <= at < end
    return False  # pragma: no cover - _spans never ends


def next_open(schedule: Schedule, at: datetime) -> datetime:
    """The first open instant at or after ``at`` (``at`` itself, in UTC, when open)."""
    at = _utc(at)
    for start, end in _spans(schedule, at):
        if end > at:
            return max(start, at)
    raise AssertionError("unreachable")  # pragma: no cover


def add_business_minutes(schedule: Schedule, start: datetime, minutes: float) -> datetime:
    """The instant at which ``minutes`` of open time have elapsed since ``start``.

    Zero minutes gives ``next_open(start)``. When the minutes run out exactly at the end of an open
    interval the result is that end (Friday 17:00, not Monday 09:00). Whole regular weeks are
    skipped at once (``_runs``), so the cost does not grow with the minutes.
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    at = _utc(start)
    remaining = timedelta(minutes=minutes)
    tz = zone(schedule.time_zone)
    weekly = _regular_week(schedule)
    for sunday, weeks, regular in _runs(schedule, tz, _first_week(tz, at)):
        run_start = _wall_to_utc(datetime.combine(sunday, time()), tz)
        week = 0
        while week < weeks:
            # In a regular run, week k starts exactly k weeks after the run (one offset throughout):
            # whole weeks after ``at`` that cannot use up the minutes are skipped at once.
            if regular and weekly > _NOTHING and remaining > _NOTHING and run_start + _WEEK * week >= at:
                skipped = min(weeks - 1 - week, (remaining - _TICK) // weekly)
                remaining -= weekly * skipped
                week += skipped
            found, remaining = _consume(schedule, tz, sunday + timedelta(days=7 * week), at, remaining)
            if found is not None:
                return found
            week += 1
    raise AssertionError("unreachable")  # pragma: no cover


def _consume(
    schedule: Schedule, tz: ZoneInfo, sunday: date, at: datetime, remaining: timedelta
) -> tuple[datetime | None, timedelta]:
    """Walk one week's spans after ``at``: (the instant ``remaining`` runs out, or None; what is left)."""
    for span_start, span_end in _week_spans(schedule, tz, sunday):
        if span_end <= at:
            continue
        begin = max(span_start, at)
        available = span_end - begin
        if remaining <= available:
            return begin + remaining, remaining
        remaining -= available
    return None, remaining


def business_minutes_between(schedule: Schedule, start: datetime, end: datetime) -> float:
    """Open minutes in ``[start, end)``; 0.0 when ``end`` is not after ``start``.

    Whole regular weeks inside the span count at once (``_runs``): the cost does not grow with it.
    """
    begin, finish = _utc(start), _utc(end)
    if finish <= begin:
        return 0.0
    tz = zone(schedule.time_zone)
    weekly = _regular_week(schedule)
    total = timedelta()
    for sunday, weeks, regular in _runs(schedule, tz, _first_week(tz, begin)):
        run_start = _wall_to_utc(datetime.combine(sunday, time()), tz)
        if run_start >= finish:
            break
        walked: Iterable[int] = range(weeks)
        if regular:  # one offset throughout: week k starts exactly k weeks after the run
            first = max(0, -((run_start - begin) // _WEEK))  # the first week starting in the span
            last = max(first, min(weeks, (finish - run_start) // _WEEK))  # ... and the first past it
            total += weekly * (last - first)
            walked = itertools.chain(range(min(first, weeks)), range(last, min(weeks, last + 1)))
        for week in walked:
            for span_start, span_end in _week_spans(schedule, tz, sunday + timedelta(days=7 * week)):
                lo, hi = max(span_start, begin), min(span_end, finish)
                if hi > lo:
                    total += hi - lo
    return total / timedelta(minutes=1)


def open_spans(schedule: Schedule, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The open parts of ``[start, end)``, in order, as UTC pairs (what ``sla explain`` shows)."""
    begin, finish = _utc(start), _utc(end)
    parts: list[tuple[datetime, datetime]] = []
    if finish <= begin:
        return parts
    for span_start, span_end in _spans(schedule, begin):
        if span_start >= finish:
            break
        lo, hi = max(span_start, begin), min(span_end, finish)
        if hi <= lo:
            continue
        if parts and parts[-1][1] == lo:
            parts[-1] = (parts[-1][0], hi)  # touching across the Saturday/Sunday boundary
        else:
            parts.append((lo, hi))
    return parts


# -- internals -------------------------------------------------------------------------------------


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; business-hours arithmetic needs aware datetimes")
    return value.astimezone(UTC)


_NOTHING = timedelta()
_TICK = timedelta(microseconds=1)
_WEEK = timedelta(days=7)
MAX_RUN_WEEKS = 520  # a run of regular weeks is yielded in pieces of at most ten years
# Offsets are probed at every week boundary: the tz database has offset periods as short as 7 days
# (Brazil's 2000 DST start, Gaza's 2040 rules), none shorter since 1970; a probe costs one
# ``utcoffset`` call, cached, against building the week's spans.


def _first_week(tz: ZoneInfo, at: datetime) -> date:
    """The Sunday a week before the local week of ``at``: where every walk starts."""
    local_day = at.astimezone(tz).date()
    return local_day - timedelta(days=(local_day.weekday() + 1) % 7 + 7)


@functools.lru_cache(maxsize=256)
def _regular_week(schedule: Schedule) -> timedelta:
    """Open time of a week with no holiday and no UTC-offset change: its merged wall intervals."""
    total, last_end = 0, 0
    for start, end in sorted(schedule.intervals):
        start = max(start, last_end)
        if end > start:
            total += end - start
            last_end = end
    return timedelta(minutes=total)


@functools.lru_cache(maxsize=256)
def _holiday_weeks(schedule: Schedule) -> tuple[tuple[date, date], ...]:
    """The Sundays of the first and last weeks each holiday touches, merged and in order."""
    ranges: list[tuple[date, date]] = []
    for holiday in sorted(schedule.holidays, key=lambda h: h.start_date):
        first = holiday.start_date - timedelta(days=(holiday.start_date.weekday() + 1) % 7)
        last = holiday.end_date - timedelta(days=(holiday.end_date.weekday() + 1) % 7)
        if ranges and first <= ranges[-1][1] + timedelta(days=7):
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], last))
        else:
            ranges.append((first, last))
    return tuple(ranges)


@functools.lru_cache(maxsize=65536)
def _offset(tz: ZoneInfo, sunday: date) -> timedelta | None:
    return datetime(sunday.year, sunday.month, sunday.day, tzinfo=tz).utcoffset()


def _same_offset_weeks(tz: ZoneInfo, sunday: date, limit: int) -> int:
    """How many weeks from ``sunday`` on (at most ``limit``) keep the offset of ``sunday`` through
    their end: one probe per week boundary."""
    offset = _offset(tz, sunday)
    boundary = sunday
    for weeks in range(limit):
        boundary += _WEEK
        if _offset(tz, boundary) != offset:
            return weeks
    return limit


def _runs(schedule: Schedule, tz: ZoneInfo, sunday: date) -> Iterator[tuple[date, int, bool]]:
    """From the week of ``sunday`` on: (first Sunday, weeks, regular) runs of consecutive weeks.

    A regular week touches no holiday and keeps one UTC offset from its Sunday 00:00 to the next
    (it is then open exactly ``_regular_week``: its spans are the wall intervals moved by one
    offset). The other weeks come one at a time. Holidays are found by bisection in their sorted
    list; offsets are probed once a week, never by building a week's spans. A zone
    changing its offset and back between two Sundays would be missed; none does (see above).
    """
    holidays = _holiday_weeks(schedule)
    index = bisect.bisect_left(holidays, (sunday, sunday), key=lambda r: (r[1], r[1]))
    while True:
        while index < len(holidays) and holidays[index][1] < sunday:
            index += 1
        if index < len(holidays) and holidays[index][0] <= sunday:
            yield sunday, 1, False
            sunday += timedelta(days=7)
            continue
        limit = MAX_RUN_WEEKS
        if index < len(holidays):
            limit = min(limit, (holidays[index][0] - sunday).days // 7)
        weeks = _same_offset_weeks(tz, sunday, limit)
        if weeks:
            yield sunday, weeks, True
            sunday += timedelta(days=7 * weeks)
        if weeks < limit:
            yield sunday, 1, False  # the offset changes within it
            sunday += timedelta(days=7)


def _spans(schedule: Schedule, at: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open spans in UTC, in order, from the one containing or following ``at`` onwards.

    Spans are merged within a week (overlapping or touching intervals); a span running over the
    Saturday/Sunday boundary comes out as two touching spans. Never ends: every schedule has
    intervals and holidays are finite, so the search always finds open time.
    """
    tz = zone(schedule.time_zone)
    week = _first_week(tz, at)
    while True:
        for span in _week_spans(schedule, tz, week):
            if span[1] > at:
                yield span
        week += timedelta(days=7)


@functools.lru_cache(maxsize=4096)
def _week_spans(schedule: Schedule, tz: ZoneInfo, sunday: date) -> tuple[tuple[datetime, datetime], ...]:
    """One week's open spans in UTC. Cached: every clock of every episode walks the same weeks."""
    base = datetime(sunday.year, sunday.month, sunday.day)
    walls: list[tuple[datetime, datetime]] = []
    for start, end in sorted(schedule.intervals):
        walls.extend(
            _without_holidays(
                schedule.holidays, base + timedelta(minutes=start), base + timedelta(minutes=end)
            )
        )
    spans: list[tuple[datetime, datetime]] = []
    for wall_start, wall_end in sorted(walls):
        start_utc, end_utc = _wall_to_utc(wall_start, tz), _wall_to_utc(wall_end, tz)
        if end_utc <= start_utc:
            continue  # an interval wholly inside a DST gap is never open
        if spans and start_utc <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end_utc))
        else:
            spans.append((start_utc, end_utc))
    return tuple(spans)


def _without_holidays(
    holidays: tuple[Holiday, ...], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    pieces = [(start, end)]
    for holiday in holidays:
        closed_from = datetime.combine(holiday.start_date, datetime.min.time())
        closed_to = datetime.combine(holiday.end_date + timedelta(days=1), datetime.min.time())
        kept = []
        for lo, hi in pieces:
            if hi <= closed_from or lo >= closed_to:
                kept.append((lo, hi))
                continue
            if lo < closed_from:
                kept.append((lo, closed_from))
            if hi > closed_to:
                kept.append((closed_to, hi))
        pieces = kept
    return pieces


def _wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the local clock in ``tz`` shows ``wall`` or later."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == wall:
        return first  # exists; fold=0 is the first occurrence of a repeated time
    # In a spring-forward gap: the answer is the jump. It lies between the two readings of `wall`.
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(first.timestamp())
    if lo > hi:
        lo, hi = hi, lo
    while hi - lo > 1:  # local(lo) < wall <= local(hi); transitions fall on whole seconds
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
