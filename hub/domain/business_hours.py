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

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
    interval the result is that end (Friday 17:00, not Monday 09:00).
    """
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    at = _utc(start)
    remaining = timedelta(minutes=minutes)
    for span_start, span_end in _spans(schedule, at):
        if span_end <= at:
            continue
        begin = max(span_start, at)
        available = span_end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable")  # pragma: no cover


def business_minutes_between(schedule: Schedule, start: datetime, end: datetime) -> float:
    """Open minutes in ``[start, end)``; 0.0 when ``end`` is not after ``start``."""
    return sum(((b - a) for a, b in open_spans(schedule, start, end)), timedelta()) / timedelta(minutes=1)


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


def _spans(schedule: Schedule, at: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open spans in UTC, in order, from the one containing or following ``at`` onwards.

    Spans are merged within a week (overlapping or touching intervals); a span running over the
    Saturday/Sunday boundary comes out as two touching spans. Never ends: every schedule has
    intervals and holidays are finite, so the search always finds open time.
    """
    tz = zone(schedule.time_zone)
    local_day = at.astimezone(tz).date()
    week = local_day - timedelta(days=(local_day.weekday() + 1) % 7 + 7)  # the Sunday a week before
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
