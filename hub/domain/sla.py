"""SLA policies and metric clocks, Zendesk's way, derived from an episode's history. Pure and replayable.

Policies (``mappings/sla.yaml``) are matched in order, first match wins, on the attributes of each
event (channel, intent, priority, crm, tier; a missing priority is ``normal``). The match is recorded
on the event as an :class:`AppliedPolicy` snapshot, so a policy edited later applies from the next
event on, as in Zendesk, and a replay of the history gives the same clocks.

Clocks start at the episode's first event (the customer's first contact on any channel); later
contacts, deflected, attached or merged, never restart them. Per metric:

metric                 an instance starts at                  pauses while   it stops (is met) at
---------------------  -------------------------------------  -------------  ---------------------------
first_reply_time       the first event                        -              the first public agent reply
                                                                             (the second when an agent
                                                                             opened with a public reply)
next_reply_time        the oldest unanswered customer         -              the next public agent reply
                       message after the first reply (the
                       first contact too when the policy
                       has no first_reply_time)
periodic_update_time   each public agent reply                -              the next public agent reply
pausable_update_time   each public agent reply                pending        the next public agent reply
requester_wait_time    the first event                        pending        solved/closed
agent_work_time        the first event                        pending, hold  solved/closed
total_resolution_time  the first event                        -              solved/closed

Solving (or closing, or merging the episode away) also ends every running reply and update
instance. A customer message reopens a pending, on-hold or solved episode (``open``); a reopened
episode's solve metrics resume, the solved time counting as a pause. ``closed`` is final.

A target changed by a later event applies to the running instance from that event; a breach is
never back-dated before the event that made it one ("SLAs do not back-date breach events").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from hub.domain.business_hours import (
    Holiday,
    Schedule,
    add_business_minutes,
    business_minutes_between,
)

CUSTOMER_MESSAGE = "customer_message"
AGENT_REPLY = "agent_reply"
STATUS_CHANGED = "status_changed"
MERGED = "merged"
EVENT_KINDS = (CUSTOMER_MESSAGE, AGENT_REPLY, STATUS_CHANGED, MERGED)

METRICS = (
    "first_reply_time",
    "next_reply_time",
    "periodic_update_time",
    "pausable_update_time",
    "requester_wait_time",
    "agent_work_time",
    "total_resolution_time",
)
PRIORITIES = ("low", "normal", "high", "urgent")
DEFAULT_PRIORITY = "normal"
FILTER_FIELDS = ("channel", "intent", "priority", "crm", "tier")
OPERATORS = ("is", "is_not", "includes")
CLOCK_STATUSES = ("active", "paused", "fulfilled", "breached")
TICKET_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")

SOLVED = frozenset({"solved", "closed"})
REOPENED_BY_CUSTOMER = frozenset({"pending", "hold", "solved"})
SOLVE_METRICS = frozenset({"requester_wait_time", "agent_work_time", "total_resolution_time"})
PAUSED_IN: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "pausable_update_time": frozenset({"pending"}),
        "requester_wait_time": frozenset({"pending"}),
        "agent_work_time": frozenset({"pending", "hold"}),
    }
)
# Calendar-hours targets run on this schedule: always open.
CALENDAR = Schedule(name="calendar", time_zone="UTC", intervals=((0, 10080),))


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    field: str  # one of FILTER_FIELDS
    operator: str  # one of OPERATORS
    value: str | tuple[str, ...]

    def matches(self, attributes: Mapping[str, str | None]) -> bool:
        actual = attributes.get(self.field)
        wanted = self.value if isinstance(self.value, tuple) else (self.value,)
        if self.operator == "is_not":
            return actual not in wanted
        return actual in wanted  # is, includes


@dataclass(frozen=True)
class PolicyFilter:
    """Zendesk's filter: every ``all`` condition and, when there are any, one ``any`` condition."""

    all: tuple[Condition, ...] = ()
    any: tuple[Condition, ...] = ()

    def matches(self, attributes: Mapping[str, str | None]) -> bool:
        return all(c.matches(attributes) for c in self.all) and (
            not self.any or any(c.matches(attributes) for c in self.any)
        )


@dataclass(frozen=True)
class PolicyMetric:
    priority: str
    metric: str
    target: float  # minutes
    business_hours: bool = True


@dataclass(frozen=True)
class Policy:
    title: str
    schedule: str
    filter: PolicyFilter = PolicyFilter()
    metrics: tuple[PolicyMetric, ...] = ()
    warn_before_minutes: float | None = None


@dataclass(frozen=True)
class SlaAction:
    """What a warning or a breach writes besides its internal comment."""

    raise_priority_to: str | None = None  # never lowers: nothing is written when already at or above
    tags: tuple[str, ...] = ()
    case_fields: Mapping[str, Any] = field(default_factory=dict)
    activity_fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CrmSlaFields:
    """Where one CRM keeps the SLA: CRM-native field names, as in ``fields.<crm>.yaml``."""

    priority_field: str | None = None
    priority_values: Mapping[str, str] = field(default_factory=dict)  # hub priority -> CRM value
    due_field: str | None = None
    status_field: str | None = None
    warning: SlaAction = SlaAction()
    breach: SlaAction = SlaAction()


@dataclass(frozen=True)
class SlaConfig:
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    policies: tuple[Policy, ...] = ()
    crm: Mapping[str, CrmSlaFields] = field(default_factory=dict)

    def match(self, attributes: Mapping[str, str | None]) -> Policy | None:
        """The first policy whose filter matches; a missing priority is ``normal``."""
        attributes = normalized(attributes)
        return next((p for p in self.policies if p.filter.matches(attributes)), None)

    def apply(self, attributes: Mapping[str, str | None]) -> AppliedPolicy | None:
        """The snapshot to record on an event with these attributes (None: no policy applies)."""
        attributes = normalized(attributes)
        policy = self.match(attributes)
        if policy is None:
            return None
        priority = attributes["priority"] or DEFAULT_PRIORITY
        targets = tuple(
            Target(m.metric, float(m.target), m.business_hours)
            for m in policy.metrics
            if m.priority == priority
        )
        return AppliedPolicy(
            title=policy.title,
            priority=priority,
            schedule=self.schedules[policy.schedule],
            targets=targets,
            warn_before_minutes=policy.warn_before_minutes,
        )


def normalized(attributes: Mapping[str, str | None]) -> dict[str, str | None]:
    values = {name: attributes.get(name) for name in FILTER_FIELDS}
    values["priority"] = values["priority"] or DEFAULT_PRIORITY
    return values


# --- what an event carries -----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    metric: str
    minutes: float
    business_hours: bool


@dataclass(frozen=True)
class AppliedPolicy:
    """The policy in force from one event on, with everything needed to replay it."""

    title: str
    priority: str
    schedule: Schedule
    targets: tuple[Target, ...] = ()
    warn_before_minutes: float | None = None

    def target(self, metric: str) -> Target | None:
        return next((t for t in self.targets if t.metric == metric), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "priority": self.priority,
            "schedule": schedule_as_dict(self.schedule),
            "targets": [
                {"metric": t.metric, "minutes": t.minutes, "business_hours": t.business_hours}
                for t in self.targets
            ],
            "warn_before_minutes": self.warn_before_minutes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppliedPolicy:
        return cls(
            title=data["title"],
            priority=data["priority"],
            schedule=schedule_from_dict(data["schedule"]),
            targets=tuple(
                Target(t["metric"], float(t["minutes"]), bool(t["business_hours"])) for t in data["targets"]
            ),
            warn_before_minutes=data.get("warn_before_minutes"),
        )


def schedule_as_dict(schedule: Schedule) -> dict[str, Any]:
    return {
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        "intervals": [[start, end] for start, end in schedule.intervals],
        "holidays": [
            {"name": h.name, "start_date": h.start_date.isoformat(), "end_date": h.end_date.isoformat()}
            for h in schedule.holidays
        ],
    }


def schedule_from_dict(data: Mapping[str, Any]) -> Schedule:
    return Schedule(
        name=data["name"],
        time_zone=data["time_zone"],
        intervals=tuple((int(start), int(end)) for start, end in data["intervals"]),
        holidays=tuple(
            Holiday(h["name"], date.fromisoformat(h["start_date"]), date.fromisoformat(h["end_date"]))
            for h in data["holidays"]
        ),
    )


@dataclass(frozen=True)
class SlaEvent:
    """One entry of an episode's history. ``order`` breaks ties between events at the same instant."""

    kind: str
    at: datetime
    public: bool = True
    status: str | None = None  # for STATUS_CHANGED, in Zendesk's vocabulary
    policy: AppliedPolicy | None = None  # in force from this event on; None: no SLA
    order: int = 0


# --- clocks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still paused
    status: str  # the ticket status that paused it


@dataclass(frozen=True)
class TargetChange:
    at: datetime
    policy: str | None
    minutes: float | None  # None: no target for this metric from here on
    business_hours: bool
    due_at: datetime | None  # the due time under this target


@dataclass(frozen=True)
class MetricClock:
    metric: str
    instance: int  # 1 for the first instance of the metric in the episode
    policy: str
    priority: str
    target_minutes: float
    business_hours: bool
    schedule: Schedule  # CALENDAR for calendar-hours targets
    started_at: datetime
    ended_at: datetime | None  # when the metric was met (reply, solve); None while it runs
    due_at: datetime | None  # None while paused
    warn_at: datetime | None  # when a warning is due (running clocks with a warning lead only)
    status: str  # active | paused | fulfilled | breached
    breached_at: datetime | None
    pauses: tuple[Pause, ...]
    running: tuple[tuple[datetime, datetime | None], ...]  # the time that counts; None: still running
    elapsed_minutes: float  # counted so far (business or calendar minutes)
    changes: tuple[TargetChange, ...]  # the target in force from each event on

    @property
    def is_running(self) -> bool:
        return self.ended_at is None

    def as_dict(self) -> dict[str, Any]:
        """The public shape: what ``GET /v1/episodes/<id>`` lists under ``sla``."""
        return {
            "metric": self.metric,
            "target_minutes": _number(self.target_minutes),
            "business_hours": self.business_hours,
            "due_at": _iso(self.due_at),
            "status": self.status,
            "breached_at": _iso(self.breached_at),
        }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def compute_clocks(
    events: Iterable[SlaEvent], now: datetime, *, warn_before_minutes: float | None = None
) -> list[MetricClock]:
    """Every metric instance of the history as of ``now`` (events after ``now`` are not yet seen).

    ``warn_before_minutes`` is the warning lead for policies that set none.
    """
    history = sorted((e for e in events if e.at <= now), key=lambda e: (e.at, e.order))
    if not history:
        return []
    timeline = _status_timeline(history)
    clocks = []
    for metric, spans in _instances(history, timeline).items():
        for number, (start, end) in enumerate(spans, start=1):
            clock = _clock(metric, number, start, end, history, timeline, now, warn_before_minutes)
            if clock is not None:
                clocks.append(clock)
    return clocks


def current_clocks(clocks: Iterable[MetricClock]) -> list[MetricClock]:
    """The latest instance of each metric, in METRICS order."""
    latest: dict[str, MetricClock] = {}
    for clock in clocks:
        if clock.metric not in latest or clock.instance > latest[clock.metric].instance:
            latest[clock.metric] = clock
    return [latest[m] for m in METRICS if m in latest]


def overall_status(clocks: Iterable[MetricClock]) -> tuple[str | None, datetime | None]:
    """(status, next due) of the episode: breached if a running clock is breached, else active if one
    is counting, else paused if one is paused, else fulfilled; None without clocks. The due time is
    the earliest among running clocks not yet breached."""
    clocks = list(clocks)
    if not clocks:
        return None, None
    running = [c for c in clocks if c.is_running]
    dues = [c.due_at for c in running if c.status == "active" and c.due_at is not None]
    statuses = {c.status for c in running}
    for status in ("breached", "active", "paused"):
        if status in statuses:
            return status, min(dues) if dues else None
    return "fulfilled", None


# --- inside --------------------------------------------------------------------------------------


def _next_status(current: str, event: SlaEvent) -> str:
    if current == "closed":
        return current  # final
    if event.kind == STATUS_CHANGED and event.status in TICKET_STATUSES:
        return event.status
    if event.kind == MERGED:
        return "closed"
    if event.kind == CUSTOMER_MESSAGE and current in REOPENED_BY_CUSTOMER:
        return "open"
    return current


def _status_timeline(history: Sequence[SlaEvent]) -> list[tuple[datetime, str]]:
    """(from, status) in order; the episode is ``new`` at its first event."""
    timeline = [(history[0].at, "new")]
    for event in history:
        following = _next_status(timeline[-1][1], event)
        if following != timeline[-1][1]:
            timeline.append((event.at, following))
    return timeline


def _instances(
    history: Sequence[SlaEvent], timeline: Sequence[tuple[datetime, str]]
) -> dict[str, list[tuple[datetime, datetime | None]]]:
    """(start, end) of every instance of every metric; end None while it runs."""
    first = history[0]
    agent_opened = first.kind == AGENT_REPLY and first.public
    nrt_covers_first = first.policy is None or first.policy.target("first_reply_time") is None
    found: dict[str, list[tuple[datetime, datetime | None]]] = {m: [] for m in METRICS}

    def running(metric: str) -> bool:
        return bool(found[metric]) and found[metric][-1][1] is None

    def stop(metric: str, at: datetime) -> None:
        if running(metric):
            start = found[metric][-1][0]
            found[metric][-1] = (start, at)

    found["first_reply_time"].append((first.at, None))
    status = "new"
    for event in history:
        if status == "closed":
            break
        status_after = _next_status(status, event)
        if event.kind == CUSTOMER_MESSAGE and status_after not in SOLVED:
            frt_over = not running("first_reply_time")
            if not running("next_reply_time") and (frt_over or nrt_covers_first):
                found["next_reply_time"].append((event.at, None))
        elif event.kind == AGENT_REPLY and event.public and status_after not in SOLVED:
            if not (agent_opened and event is first):
                stop("first_reply_time", event.at)
                stop("next_reply_time", event.at)
            for metric in ("periodic_update_time", "pausable_update_time"):
                stop(metric, event.at)
                found[metric].append((event.at, None))
        if status_after in SOLVED and status not in SOLVED:
            for metric in METRICS:
                if metric not in SOLVE_METRICS:
                    stop(metric, event.at)
        status = status_after

    solve_end = None  # the start of the trailing run of solved/closed, if the episode ends solved
    for since, value in reversed(timeline):
        if value not in SOLVED:
            break
        solve_end = since
    for metric in SOLVE_METRICS:
        found[metric].append((first.at, solve_end))
    return {m: [(s, e) for s, e in spans if e is None or e > s] for m, spans in found.items()}


def _pauses(
    timeline: Sequence[tuple[datetime, str]],
    metric: str,
    start: datetime,
    end: datetime | None,
) -> list[Pause]:
    """The instance's pauses: its metric's pausing statuses, and for solve metrics a solve that was
    reopened (the final solve is the end, not a pause)."""
    pausing = set(PAUSED_IN.get(metric, ()))
    if metric in SOLVE_METRICS:
        pausing |= {"solved"}
    pauses: list[Pause] = []
    for index, (since, status) in enumerate(timeline):
        until = timeline[index + 1][0] if index + 1 < len(timeline) else None
        if status not in pausing:
            continue
        lo = max(since, start)
        hi = until if end is None else (end if until is None else min(until, end))
        if hi is not None and hi <= lo:
            continue
        if until is None and end is not None and metric in SOLVE_METRICS and status in SOLVED:
            continue  # the final solve ends the instance
        pauses.append(Pause(lo, hi, status))
    return pauses


def _running(
    start: datetime, end: datetime | None, pauses: Sequence[Pause]
) -> list[tuple[datetime, datetime | None]]:
    segments: list[tuple[datetime, datetime | None]] = []
    cursor: datetime | None = start
    for pause in pauses:
        if cursor is not None and pause.start > cursor:
            segments.append((cursor, pause.start))
        cursor = pause.end
    if cursor is not None and (end is None or end > cursor):
        segments.append((cursor, end))
    return segments


def _reach(
    schedule: Schedule, segments: Sequence[tuple[datetime, datetime | None]], minutes: float, open_tail: bool
) -> datetime | None:
    """When ``minutes`` of counted time are used up over ``segments``.

    The last segment counts as open-ended when ``open_tail`` (the clock runs, or ran until it was
    met), so the answer depends on pause boundaries only, never on ``now``.
    """
    used = 0.0
    for index, (lo, hi) in enumerate(segments):
        last = index == len(segments) - 1
        if hi is None or (last and open_tail):
            return add_business_minutes(schedule, lo, max(minutes - used, 0.0))
        available = business_minutes_between(schedule, lo, hi)
        if used + available >= minutes:
            return add_business_minutes(schedule, lo, minutes - used)
        used += available
    return None


def _clock(
    metric: str,
    number: int,
    start: datetime,
    end: datetime | None,
    history: Sequence[SlaEvent],
    timeline: Sequence[tuple[datetime, str]],
    now: datetime,
    default_warn: float | None,
) -> MetricClock | None:
    horizon = end if end is not None else now
    in_force = [e for e in history if e.at <= start][-1]
    changes: list[tuple[datetime, AppliedPolicy | None]] = [(start, in_force.policy)]
    changes += [(e.at, e.policy) for e in history if start < e.at and (e.at < end if end else e.at <= now)]
    final_policy = changes[-1][1]
    final_target = final_policy.target(metric) if final_policy else None
    if final_policy is None or final_target is None:
        return None

    pauses = _pauses(timeline, metric, start, end)
    segments = _running(start, end, pauses)
    paused_at_horizon = bool(pauses) and (
        pauses[-1].end is None or (end is not None and pauses[-1].end >= end)
    )
    open_tail = not paused_at_horizon

    described: list[TargetChange] = []
    breached_at: datetime | None = None
    for index, (since, policy) in enumerate(changes):
        target = policy.target(metric) if policy else None
        schedule = _schedule_of(policy, target)
        due = _reach(schedule, segments, target.minutes, open_tail) if target else None
        if not described or (described[-1].minutes, described[-1].business_hours, described[-1].due_at) != (
            target.minutes if target else None,
            target.business_hours if target else False,
            due,
        ):
            described.append(
                TargetChange(
                    since,
                    policy.title if policy else None,
                    target.minutes if target else None,
                    target.business_hours if target else False,
                    due,
                )
            )
        if breached_at is not None or due is None:
            continue
        moment = max(due, since)
        following = changes[index + 1][0] if index + 1 < len(changes) else None
        if following is not None:
            if moment < following:
                breached_at = moment
        elif (end is not None and moment < end) or (end is None and moment <= now):
            breached_at = moment

    schedule = _schedule_of(final_policy, final_target)
    due_at = _reach(schedule, segments, final_target.minutes, open_tail)
    paused_now = end is None and paused_at_horizon
    if paused_now:
        due_at = None
    warn_at = None
    lead = final_policy.warn_before_minutes if final_policy.warn_before_minutes is not None else default_warn
    if end is None and due_at is not None and lead and lead < final_target.minutes:
        warn_at = _reach(schedule, segments, final_target.minutes - lead, open_tail)
    if breached_at is not None:
        status = "breached"
    elif end is not None:
        status = "fulfilled"
    else:
        status = "paused" if paused_now else "active"
    elapsed = sum(
        business_minutes_between(schedule, lo, hi if hi is not None else horizon) for lo, hi in segments
    )
    return MetricClock(
        metric=metric,
        instance=number,
        policy=final_policy.title,
        priority=final_policy.priority,
        target_minutes=final_target.minutes,
        business_hours=final_target.business_hours,
        schedule=schedule,
        started_at=start,
        ended_at=end,
        due_at=due_at,
        warn_at=warn_at,
        status=status,
        breached_at=breached_at,
        pauses=tuple(pauses),
        running=tuple(segments),
        elapsed_minutes=elapsed,
        changes=tuple(described),
    )


def _schedule_of(policy: AppliedPolicy | None, target: Target | None) -> Schedule:
    if policy is None or target is None or not target.business_hours:
        return CALENDAR
    return policy.schedule
