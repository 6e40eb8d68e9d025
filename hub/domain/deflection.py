"""Deflection decisions: which channels to offer a customer, in what order, and why.

Pick the intent, then the channel; give every path an escape route; protect the voice queue only
when it needs protecting; never lock the door (voice is always offered, possibly last).

``decide(request)`` is pure and deterministic. The caller (``hub.services.deflection``) gathers the
facts: the intent's eligible channels from the taxonomy, the episode's earlier attempts from the
hub's store, SMS consent from the consent ledger, and whether the business-hours schedule is open.

Which channels may be offered (each one left out is reported in ``withheld`` with its reason):

- only channels the intent taxonomy lists for the intent; voice is always offered, whatever it lists;
- SMS only with a standing SMS consent (none on record, or revoked: not offered);
- self-service not again once it failed ``self_service_failures`` times (default 2) in this episode.

In what order (the first rule that applies decides the mode):

1. ``escalate``: chat failed in this episode, or the sentiment is negative: voice first, with context
   (the context token hands the trail to the agent); the other channels follow as alternatives.
2. ``chat_first``: self-service failed ``self_service_failures`` times: chat first (a person answers
   in writing), then voice; voice first when chat cannot be offered.
3. ``after_hours``: the schedule is closed: self-service (available around the clock), then the
   asynchronous channels with the honest time of an answer (the next opening plus the backlog
   minutes), voice last with the time the lines open.
4. ``deflect``: the voice queue needs help (no agent idle, the estimated wait above the threshold,
   and, when a service-level target is set, the service level below it): digital channels first.
5. ``voice_first``: otherwise (an agent is idle, or the wait is within the threshold): no push.

Within a mode the customer's preference comes first where the mode allows it (never ahead of an
escape rule, and never voice first after hours), then the default order self-service, chat, SMS; a
channel that already failed in this episode goes after the ones that did not.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType

SELF_SERVICE = "self_service"
CHAT = "chat"
SMS = "sms"
VOICE = "voice"
OFFER_CHANNELS = (SELF_SERVICE, SMS, CHAT, VOICE)
DIGITAL_ORDER = (SELF_SERVICE, CHAT, SMS)  # default order of the channels that are not voice
ASYNC_CHANNELS = (CHAT, SMS)  # answered by a person, in writing: async after hours

# Outcomes of an earlier attempt that mean the channel did not solve the problem.
UNRESOLVED_OUTCOMES = frozenset({"failed", "abandoned", "no_response", "escalated"})
SENTIMENTS = ("negative", "neutral", "positive")

ESCALATE = "escalate"
CHAT_FIRST = "chat_first"
AFTER_HOURS = "after_hours"
DEFLECT = "deflect"
VOICE_FIRST = "voice_first"
MODES = (ESCALATE, CHAT_FIRST, AFTER_HOURS, DEFLECT, VOICE_FIRST)

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_LABELS = {SELF_SERVICE: "self-service", CHAT: "chat", SMS: "SMS", VOICE: "voice"}


@dataclass(frozen=True)
class ResponseTime:
    """How soon a person answers an asynchronous channel.

    In business hours: within ``business_hours_minutes``. After hours: ``after_hours_minutes`` after
    the schedule next opens (the overnight backlog is worked first).
    """

    business_hours_minutes: int
    after_hours_minutes: int


DEFAULT_RESPONSE_TIMES: Mapping[str, ResponseTime] = MappingProxyType(
    {CHAT: ResponseTime(2, 30), SMS: ResponseTime(10, 60)}
)


@dataclass(frozen=True)
class Thresholds:
    """The admin's knobs (``mappings/deflection.yaml``); the defaults are the built-in ones."""

    wait_threshold_seconds: int = 120  # deflect only when the estimated voice wait is above this
    idle_agents: int = 1  # voice is idle when at least this many agents are available
    service_level_target: float | None = None  # when set, deflect only while the queue misses it
    self_service_failures: int = 2  # this many self-service failures in an episode: chat first
    response_times: Mapping[str, ResponseTime] = field(default_factory=lambda: DEFAULT_RESPONSE_TIMES)


@dataclass(frozen=True)
class DeflectionConfig:
    """``mappings/deflection.yaml``, built. Absent file: these defaults.

    ``schedule_name`` names the business-hours schedule to read from ``sla.yaml`` (one calendar for
    SLA clocks and deflection promises); None means always open.
    """

    thresholds: Thresholds = field(default_factory=Thresholds)
    schedule_name: str | None = None
    token_lifetime: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Attempt:
    """An earlier contact in this episode: its channel, its outcome (contract v1 vocabulary)."""

    channel: str
    outcome: str
    at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.outcome in UNRESOLVED_OUTCOMES


@dataclass(frozen=True)
class Hours:
    """The business-hours schedule at the moment of the decision.

    ``next_open`` is aware and in the schedule's own time zone, so the times shown to the customer
    read as the schedule's local time. ``schedule`` is None when none is configured (always open).
    """

    open: bool = True
    next_open: datetime | None = None
    schedule: str | None = None


@dataclass(frozen=True)
class DeflectionRequest:
    intent: str
    eligible_channels: frozenset[str]
    estimated_wait_seconds: int
    agents_available: int
    now: datetime
    service_level: float | None = None  # 0..1, share of contacts answered within the queue's target
    preference: str | None = None
    attempts: tuple[Attempt, ...] = ()
    sentiment: str | None = None
    sms_consent: bool | None = None  # True: granted; False: revoked; None: nothing on record
    hours: Hours = field(default_factory=Hours)
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class Offer:
    channel: str
    reason: str
    expected_response: str  # "available now", "about 2 minutes", "by Monday 30 November 09:30 EST"
    expected_by: datetime | None = None  # set when the answer comes at a known time (after hours)
    context_token: str | None = None


@dataclass(frozen=True)
class Withheld:
    channel: str
    reason: str


@dataclass(frozen=True)
class Decision:
    mode: str
    summary: str  # the rule that decided the order, for a supervisor
    offers: tuple[Offer, ...]
    withheld: tuple[Withheld, ...] = ()

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(offer.channel for offer in self.offers)

    def with_context_token(self, token: str) -> Decision:
        return replace(self, offers=tuple(replace(o, context_token=token) for o in self.offers))


# --- wording ----------------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """An exact, readable length: ``90 seconds``, ``2 minutes``, ``1 hour``."""
    seconds = int(seconds)
    if seconds % 3600 == 0 and seconds >= 3600:
        hours = seconds // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds % 60 == 0 and seconds >= 60:
        minutes = seconds // 60
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def about(seconds: float) -> str:
    """A rounded estimate: ``under a minute``, ``about 6 minutes``, ``about 2 hours``."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"about {hours} hour{'s' if hours != 1 else ''}"


def local_time(moment: datetime) -> str:
    """``Monday 30 November 09:30 EST``: day, date and time in the moment's own zone (no locale)."""
    zone = moment.tzname() or ""
    text = f"{_DAYS[moment.weekday()]} {moment.day} {_MONTHS[moment.month - 1]} {moment:%H:%M}"
    return f"{text} {zone}".rstrip()


def _percent(value: float) -> str:
    return f"{round(value * 100)}%"


# --- the rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the rules look at, computed once from the request."""

    failures: Counter[str]
    idle: bool
    above_threshold: bool
    misses_target: bool

    @property
    def queue_needs_help(self) -> bool:
        return not self.idle and self.above_threshold and self.misses_target


def _facts(request: DeflectionRequest) -> _Facts:
    t = request.thresholds
    target = t.service_level_target
    # No target (or no measurement): the wait alone decides.
    misses = target is None or request.service_level is None or request.service_level < target
    return _Facts(
        failures=Counter(a.channel for a in request.attempts if a.failed),
        idle=request.agents_available >= t.idle_agents,
        above_threshold=request.estimated_wait_seconds > t.wait_threshold_seconds,
        misses_target=misses,
    )


def _offerable(request: DeflectionRequest, facts: _Facts) -> tuple[list[str], list[Withheld]]:
    """The digital channels that may be offered, in default order, and the ones withheld, with why."""
    offerable: list[str] = []
    withheld: list[Withheld] = []
    limit = request.thresholds.self_service_failures
    for channel in DIGITAL_ORDER:
        if channel not in request.eligible_channels:
            withheld.append(
                Withheld(
                    channel,
                    f"not eligible: the intent taxonomy does not list {_LABELS[channel]} "
                    f"for {request.intent!r}",
                )
            )
        elif channel == SMS and request.sms_consent is not True:
            reason = (
                "SMS consent was revoked; no texts until the customer opts in again"
                if request.sms_consent is False
                else "no SMS consent on record for this number; SMS is offered only with consent"
            )
            withheld.append(Withheld(channel, reason))
        elif channel == SELF_SERVICE and facts.failures[SELF_SERVICE] >= limit:
            withheld.append(
                Withheld(
                    channel,
                    f"self-service already failed {facts.failures[SELF_SERVICE]} times in this episode; "
                    "not offered again",
                )
            )
        else:
            offerable.append(channel)
    return offerable, withheld


def _ordered(channels: list[str], facts: _Facts, preference: str | None) -> list[str]:
    """Preference first, then channels that have not failed in this episode, each in default order."""
    return sorted(
        channels,
        key=lambda c: (c != preference, facts.failures[c] > 0, DIGITAL_ORDER.index(c)),
    )


def decide(request: DeflectionRequest) -> Decision:
    facts = _facts(request)
    digital, withheld = _offerable(request, facts)
    mode, summary = _mode(request, facts, digital)
    preference = request.preference if request.preference in (*digital, VOICE) else None

    if mode == ESCALATE:
        order = [VOICE, *_ordered(digital, facts, preference)]
    elif mode == CHAT_FIRST:
        rest = _ordered([c for c in digital if c != CHAT], facts, preference)
        order = [CHAT, VOICE, *rest] if CHAT in digital else [VOICE, *rest]
    elif mode == AFTER_HOURS:
        order = [*_ordered(digital, facts, preference), VOICE]
    elif mode == DEFLECT:
        order = (
            [VOICE, *_ordered(digital, facts, None)]
            if preference == VOICE
            else [*_ordered(digital, facts, preference), VOICE]
        )
    else:  # VOICE_FIRST: no push; a digital channel the customer asked for still comes first
        if preference in digital:
            order = [preference, VOICE, *_ordered([c for c in digital if c != preference], facts, None)]
        else:
            order = [VOICE, *_ordered(digital, facts, None)]

    offers = tuple(
        _offer(channel, index, mode, summary, request, facts) for index, channel in enumerate(order)
    )
    return Decision(mode=mode, summary=summary, offers=offers, withheld=tuple(withheld))


def _mode(request: DeflectionRequest, facts: _Facts, digital: list[str]) -> tuple[str, str]:
    t = request.thresholds
    handoff = "voice first, with the trail handed to the agent"
    if facts.failures[CHAT] > 0 and request.sentiment == "negative":
        return ESCALATE, f"chat failed earlier in this episode and the sentiment is negative: {handoff}"
    if facts.failures[CHAT] > 0:
        return ESCALATE, f"chat failed earlier in this episode: {handoff}"
    if request.sentiment == "negative":
        return ESCALATE, f"the customer's sentiment is negative: {handoff}"
    if facts.failures[SELF_SERVICE] >= t.self_service_failures:
        failed = f"self-service failed {facts.failures[SELF_SERVICE]} times in this episode"
        if CHAT in digital:
            return CHAT_FIRST, f"{failed}: chat first, so a person picks it up"
        return CHAT_FIRST, f"{failed} and chat cannot be offered: voice first"
    if not request.hours.open:
        opens = (
            f"; opens {local_time(request.hours.next_open)}" if request.hours.next_open is not None else ""
        )
        name = f" (schedule {request.hours.schedule}{opens})" if request.hours.schedule else opens
        return (
            AFTER_HOURS,
            f"outside business hours{name}: self-service now, written channels with the time they are "
            "answered, voice when the lines open",
        )
    wait = about(request.estimated_wait_seconds)
    threshold = duration(t.wait_threshold_seconds)
    if facts.idle:
        return (
            VOICE_FIRST,
            f"voice is idle ({request.agents_available} agent{'s' if request.agents_available != 1 else ''} "
            "available): no deflection, voice first",
        )
    if not facts.above_threshold:
        return (
            VOICE_FIRST,
            f"estimated voice wait {wait} is within the threshold of {threshold}: no deflection, voice first",
        )
    if not facts.misses_target:
        assert request.service_level is not None and t.service_level_target is not None
        return (
            VOICE_FIRST,
            f"the queue meets its service level ({_percent(request.service_level)}, target "
            f"{_percent(t.service_level_target)}): no deflection, voice first",
        )
    level = f", service level {_percent(request.service_level)}" if request.service_level is not None else ""
    return (
        DEFLECT,
        f"voice queue under pressure (estimated wait {wait}, above the threshold of {threshold}; "
        f"no agent available{level}): digital channels first",
    )


def _expected(channel: str, request: DeflectionRequest, facts: _Facts) -> tuple[str, datetime | None]:
    hours = request.hours
    if channel == SELF_SERVICE:
        return ("available now" if hours.open else "available now, around the clock"), None
    if channel == VOICE:
        if not hours.open:
            if hours.next_open is None:
                return "when the lines open", None
            return f"lines open {local_time(hours.next_open)}", hours.next_open
        return ("an agent is available now" if facts.idle else about(request.estimated_wait_seconds)), None
    times = request.thresholds.response_times.get(channel, DEFAULT_RESPONSE_TIMES[channel])
    if hours.open:
        return about(times.business_hours_minutes * 60), None
    if hours.next_open is None:
        return "when we next open", None
    by = hours.next_open + timedelta(minutes=times.after_hours_minutes)
    return f"by {local_time(by)}", by


def _offer(
    channel: str, index: int, mode: str, summary: str, request: DeflectionRequest, facts: _Facts
) -> Offer:
    expected, by = _expected(channel, request, facts)
    return Offer(channel, _reason(channel, index, mode, summary, request, facts, expected), expected, by)


def _reason(
    channel: str,
    index: int,
    mode: str,
    summary: str,
    request: DeflectionRequest,
    facts: _Facts,
    expected: str,
) -> str:
    parts: list[str] = []
    if index == 0:
        parts.append(summary)
    if channel == request.preference:
        parts.append(f"the customer prefers {_LABELS[channel]}")
    if channel == VOICE:
        if index > 0:
            parts.append("always offered, never a locked door")
        if mode == ESCALATE or index == 0:
            parts.append("the agent receives the context token with the episode's trail")
        if not request.hours.open:
            parts.append(f"the lines are closed; they open {expected.removeprefix('lines open ')}")
        else:
            parts.append(expected if facts.idle else f"expected wait {expected}")
        return "; ".join(parts)
    parts.append(f"eligible for {request.intent!r}")
    failures = facts.failures[channel]
    if failures:
        times = "" if failures == 1 else f" {failures} times"
        parts.append(f"did not resolve this{times} earlier in this episode, so it comes after the others")
    if channel == SMS:
        parts.append("standing SMS consent on record")
    if channel == SELF_SERVICE:
        parts.append(f"{expected}")
    elif request.hours.open:
        parts.append(f"a person answers in {expected}")
    else:
        parts.append(f"written now, answered {expected}")
    if mode == DEFLECT and request.preference != VOICE:
        parts.append(f"instead of waiting {about(request.estimated_wait_seconds)} for voice")
    return "; ".join(parts)
