"""Contact windows: when a customer may be contacted, by the strictest rule of every place they may be.

A customer may be in several time zones (an area code spanning zones, a mobile number carried to
another state, an address elsewhere) and under several jurisdictions at once (the country of the
number, the state of its area code, the state of the address). An instant is allowed only when it is
inside the window of **every** applicable rule in **every** candidate zone; an unknown zone is never
allowed (fail closed). Local wall-clock time is read through ``zoneinfo``, so DST is honored: a window
boundary is the first instant the local clock shows that time or later (see
``hub.domain.business_hours``).

The rule table is data (``DEFAULT_RULES``): jurisdiction, weekly spans, citation, whether the primary
text was read (``verified``), the purposes it covers and when it is in force. Rules can only narrow:
adding one (the admin's ``contact_windows.extra_rules``) never opens a minute another rule closes.
Holiday bans are admin data: ``blocked_dates`` rules (``contact_windows.blocked_dates`` in
``mappings/recovery.yaml``) close whole local days for a jurisdiction; none ship by default, because
the reference lists the states (AL, LA, MS, PA, RI, UT) and France only from vendor tables.

    location = ContactLocation(zones=("America/New_York",), country="US", states=("FL",))
    is_allowed(at, location, DEFAULT_RULES)          # inside 08:00-20:00 Miami time?
    next_allowed(at, location, DEFAULT_RULES)        # the first allowed instant at or after ``at``
    allowed_until(at, location, DEFAULT_RULES)       # when the current allowed span ends
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hub.domain.business_hours import _wall_to_utc, zone

MINUTES_PER_DAY = 24 * 60
SERVICE = "service"
MARKETING = "marketing"
PURPOSES = (SERVICE, MARKETING)
ANYWHERE = "*"  # a rule for every location (a house rule)
FALLBACK = "default"  # the rule for a country that has no national rule in the table
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HORIZON = timedelta(days=15)  # how far ``next_allowed`` looks: two weeks cover every weekly table

Span = tuple[int, int]  # [start, end) in minutes since local midnight; end may be 1440
DaySpans = tuple[Span, ...]


def hhmm(text: str) -> int:
    """``"08:30"`` -> 510; ``"24:00"`` -> 1440. ValueError for anything else."""
    hours, sep, minutes = text.partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is not a time of day between 00:00 and 24:00")
    return value


def span_text(span: Span) -> str:
    return f"{span[0] // 60:02d}:{span[0] % 60:02d}-{span[1] // 60:02d}:{span[1] % 60:02d}"


@dataclass(frozen=True)
class WindowRule:
    """When one jurisdiction allows contact, by local weekday (Monday first)."""

    jurisdiction: str  # "US" (a country), "US-FL" (a state/province), "*" (everywhere), "default"
    days: tuple[DaySpans, ...]  # seven entries, Monday..Sunday; () = no contact that day
    citation: str
    verified: bool = True  # False: secondary or vendor sources only (see reference/recovery.md)
    purposes: frozenset[str] = frozenset(PURPOSES)
    effective_from: date | None = None  # first local day in force
    effective_to: date | None = None  # last local day in force
    also_zones: tuple[str, ...] = ()  # read the window in these zones too (a statute read as state time)
    closed_dates: frozenset[date] = frozenset()  # local days with no contact at all (holiday bans)

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"{self.jurisdiction}: a rule needs seven days (Monday..Sunday)")
        for spans in self.days:
            for start, end in spans:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(
                        f"{self.jurisdiction}: span {span_text((start, end))} is not a day's span"
                    )
        for name in self.also_zones:
            zone(name)

    def in_force(self, day: date) -> bool:
        if self.effective_from is not None and day < self.effective_from:
            return False
        return self.effective_to is None or day <= self.effective_to

    def allows(self, local: datetime) -> bool:
        """Whether the local wall time ``local`` is inside this rule's window (True when not in force)."""
        if not self.in_force(local.date()):
            return True
        if local.date() in self.closed_dates:
            return False
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return any(start * 60 <= seconds < end * 60 for start, end in self.days[local.weekday()])

    def spans_on(self, day: date) -> DaySpans:
        """The local spans of ``day`` (all day when not in force, none on a closed date)."""
        if not self.in_force(day):
            return ((0, MINUTES_PER_DAY),)
        if day in self.closed_dates:
            return ()
        return self.days[day.weekday()]

    def describe(self) -> str:
        """``US-TX Mon-Sat 09:00-21:00, Sun 12:00-21:00``: the rule in one line, for reasons and audits."""
        parts: list[str] = []
        index = 0
        while index < 7:
            last = index
            while last + 1 < 7 and self.days[last + 1] == self.days[index]:
                last += 1
            names = DAY_NAMES[index][:3].capitalize()
            if last > index:
                names += "-" + DAY_NAMES[last][:3].capitalize()
            spans = ", ".join(span_text(s) for s in self.days[index]) or "none"
            parts.append(f"{names} {spans}")
            index = last + 1
        text = "every day " + parts[0].split(" ", 1)[1] if len(parts) == 1 else ", ".join(parts)
        if self.closed_dates:
            closed = ", ".join(day.isoformat() for day in sorted(self.closed_dates))
            if self.days == ALL_DAY:
                return f"{self.jurisdiction} no contact on {closed}"
            text += f"; no contact on {closed}"
        return f"{self.jurisdiction} {text}"


ALL_DAY: tuple[DaySpans, ...] = tuple(((0, MINUTES_PER_DAY),) for _ in range(7))


def blocked_dates(
    jurisdiction: str,
    dates: Iterable[date],
    citation: str,
    *,
    verified: bool = False,
    purposes: frozenset[str] = frozenset(PURPOSES),
) -> WindowRule:
    """A rule that allows every instant except the given local days (a state's holiday ban)."""
    return WindowRule(
        jurisdiction, ALL_DAY, citation, verified, purposes=purposes, closed_dates=frozenset(dates)
    )


def daily(start: str, end: str) -> tuple[DaySpans, ...]:
    return tuple(((hhmm(start), hhmm(end)),) for _ in range(7))


def week(weekdays: DaySpans, saturday: DaySpans, sunday: DaySpans) -> tuple[DaySpans, ...]:
    return (weekdays,) * 5 + (saturday, sunday)


def spans(*texts: str) -> DaySpans:
    """``spans("10:00-13:00", "14:00-20:00")``."""
    out = []
    for text in texts:
        start, _, end = text.partition("-")
        out.append((hhmm(start), hhmm(end)))
    return tuple(out)


_FED = "47 CFR 64.1200(c)(1) (TCPA); 16 CFR 310.4(c) (TSR); 12 CFR 1006.6(b)(1)(i) (Reg F)"
_VENDOR = "vendor calling-hours tables (ClickPoint, DropCowboy, G2); statute not checked"
_8_20 = spans("08:00-20:00")

# Research notes and sources: /work/shared/reference/recovery.md sections 1.1-1.6. Counsel should sign
# off on this table before it ships; verified=False marks rows taken from secondary or vendor sources.
DEFAULT_RULES: tuple[WindowRule, ...] = (
    WindowRule("US", daily("08:00", "21:00"), _FED),
    WindowRule("US-FL", daily("08:00", "20:00"), "Fla. Stat. 501.616(6)(a) (SB 1120, 2021)"),
    WindowRule(
        "US-OK", daily("08:00", "20:00"), "Okla. Telephone Solicitation Act 2022, 15 O.S. 775C", False
    ),
    WindowRule(
        "US-MD",
        daily("08:00", "20:00"),
        "Md. Stop the Spam Calls Act of 2023 (SB 90)",
        False,
        effective_from=date(2024, 1, 1),
    ),
    WindowRule("US-WA", daily("08:00", "20:00"), "RCW 19.158.040(2)"),
    WindowRule(
        "US-TX",
        week(spans("09:00-21:00"), spans("09:00-21:00"), spans("12:00-21:00")),
        "Tex. Bus. & Com. Code 301.051 (SB 140, 2025); read in Central time as well, as one firm does",
        False,
        also_zones=("America/Chicago",),
    ),
    WindowRule("US-AL", week(_8_20, _8_20, ()), _VENDOR, False),
    WindowRule("US-CT", daily("09:00", "20:00"), _VENDOR + " (vendors disagree: 9-21 or 9-20)", False),
    WindowRule("US-KY", daily("10:00", "21:00"), _VENDOR, False),
    WindowRule("US-LA", week(_8_20, _8_20, ()), _VENDOR, False),
    WindowRule("US-MA", daily("08:00", "20:00"), _VENDOR, False),
    WindowRule("US-MI", daily("09:00", "21:00"), _VENDOR, False),
    WindowRule("US-MN", daily("09:00", "21:00"), _VENDOR, False),
    WindowRule(
        "US-MS", week(_8_20, _8_20, ()), _VENDOR + " (8-20 CST)", False, also_zones=("America/Chicago",)
    ),
    WindowRule("US-NV", daily("09:00", "20:00"), _VENDOR, False),
    WindowRule("US-NM", daily("09:00", "21:00"), _VENDOR, False),
    WindowRule("US-WY", daily("08:00", "20:00"), _VENDOR, False),
    WindowRule(
        "US-PA",
        week(spans("08:00-21:00"), spans("08:00-21:00"), ()),
        _VENDOR + " (Sunday ban from 2026-10-18)",
        False,
        effective_from=date(2026, 10, 18),
    ),
    WindowRule(
        "CA",
        week(spans("09:00-21:30"), spans("10:00-18:00"), spans("10:00-18:00")),
        "CRTC Unsolicited Telecommunications Rules (telemarketing)",
    ),
    WindowRule(
        "FR",
        week(spans("10:00-13:00", "14:00-20:00"), (), ()),
        "Code de la consommation art. D.223-9 (Decret 2022-1313)",
        effective_from=date(2023, 3, 1),
    ),
    WindowRule(
        FALLBACK,
        week(spans("09:00-20:00"), spans("10:00-18:00"), spans("12:00-18:00")),
        "hub default for a country without a rule (reference/recovery.md section 0.2)",
        False,
    ),
)


# --- where the customer may be --------------------------------------------------------------------


@dataclass(frozen=True)
class ContactLocation:
    """Every place the customer may be: candidate time zones and jurisdictions.

    ``zones`` empty means the zone is unknown: no instant is allowed. ``states`` are subdivision codes
    of ``country`` (the number's area code, the customer's postal state), e.g. ("FL",).
    """

    zones: tuple[str, ...] = ()
    country: str | None = None
    states: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.zones)

    def jurisdictions(self) -> tuple[str, ...]:
        if self.country is None:
            return ()
        return (self.country, *(f"{self.country}-{state}" for state in self.states))


def applicable_rules(
    location: ContactLocation, rules: Iterable[WindowRule], purpose: str = SERVICE
) -> tuple[WindowRule, ...]:
    """The rules for this location and purpose: everywhere-rules, the country's (or the fallback when
    the table has none for that country), and each state's."""
    rules = tuple(rule for rule in rules if purpose in rule.purposes)
    places = set(location.jurisdictions())
    national = any(rule.jurisdiction == location.country for rule in rules)
    chosen = []
    for rule in rules:
        if (
            rule.jurisdiction == ANYWHERE
            or rule.jurisdiction in places
            or (rule.jurisdiction == FALLBACK and not national)
        ):
            chosen.append(rule)
    return tuple(chosen)


def _checks(location: ContactLocation, rules: Sequence[WindowRule]) -> list[tuple[WindowRule, ZoneInfo]]:
    pairs: list[tuple[WindowRule, ZoneInfo]] = []
    for rule in rules:
        for name in dict.fromkeys((*location.zones, *rule.also_zones)):
            pairs.append((rule, zone(name)))
    return pairs


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; contact windows need aware datetimes")
    return value.astimezone(UTC)


_NO_RULE = WindowRule(ANYWHERE, ((),) * 7, "no zone or no rule: fail closed")


def blocking_rule(
    at: datetime, location: ContactLocation, rules: Iterable[WindowRule], purpose: str = SERVICE
) -> tuple[WindowRule, str] | None:
    """The first (rule, zone) that forbids ``at``, or None when ``at`` is allowed.

    An unknown location or one no rule covers is blocked by a pseudo-rule (fail closed).
    """
    at = _utc(at)
    chosen = applicable_rules(location, rules, purpose)
    if not location.known or not chosen:
        return _NO_RULE, ""
    for rule, tz in _checks(location, chosen):
        if not rule.allows(at.astimezone(tz)):
            return rule, tz.key
    return None


def is_allowed(
    at: datetime, location: ContactLocation, rules: Iterable[WindowRule], purpose: str = SERVICE
) -> bool:
    return blocking_rule(at, location, rules, purpose) is None


def next_allowed(
    at: datetime,
    location: ContactLocation,
    rules: Iterable[WindowRule],
    purpose: str = SERVICE,
    *,
    horizon: timedelta = HORIZON,
) -> datetime | None:
    """The first allowed instant at or after ``at`` (in UTC), or None within ``horizon`` (never).

    The allowed set is an intersection of spans, so it starts at some rule's span start in some zone
    (or a local midnight, where a rule comes into or out of force): those are the only candidates.
    """
    at = _utc(at)
    rules = applicable_rules(location, rules, purpose)
    if not location.known or not rules:
        return None
    if is_allowed(at, location, rules, purpose):
        return at
    end = at + horizon
    candidates: set[datetime] = set()
    for rule, tz in _checks(location, rules):
        first_day = at.astimezone(tz).date()
        for offset in range(horizon.days + 2):
            day = first_day + timedelta(days=offset)
            starts = [0, *(start for start, _ in rule.spans_on(day))]
            for minute in starts:
                moment = _wall_to_utc(datetime(day.year, day.month, day.day) + timedelta(minutes=minute), tz)
                if at < moment <= end:
                    candidates.add(moment)
    for moment in sorted(candidates):
        if is_allowed(moment, location, rules, purpose):
            return moment
    return None


def allowed_until(
    at: datetime, location: ContactLocation, rules: Iterable[WindowRule], purpose: str = SERVICE
) -> datetime | None:
    """When the allowed span containing ``at`` ends (the earliest end over every rule and zone), or
    None when ``at`` is not allowed. A rule not in force on that day imposes no end."""
    at = _utc(at)
    rules = applicable_rules(location, rules, purpose)
    if not is_allowed(at, location, rules, purpose):
        return None
    ends: list[datetime] = []
    for rule, tz in _checks(location, rules):
        local = at.astimezone(tz)
        if not rule.in_force(local.date()):
            continue
        end = _span_end(rule, local)
        if end is not None:
            ends.append(_wall_to_utc(end, tz))
    return min(ends) if ends else None


def _span_end(rule: WindowRule, local: datetime) -> datetime | None:
    """The local wall time at which the rule's span holding ``local`` ends; a span that runs to 24:00
    goes on into the next day's span starting at 00:00 (a whole-day rule ends at its next closed
    date), looked at for at most a week. None when no span holds ``local``."""
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    day = local.date()
    stop = next((e for s, e in rule.spans_on(day) if s * 60 <= seconds < e * 60), None)
    if stop is None:
        return None
    for _ in range(7):
        if stop < MINUTES_PER_DAY:
            break
        following = rule.spans_on(day + timedelta(days=1))
        if not following or following[0][0] != 0 or not rule.in_force(day + timedelta(days=1)):
            break
        day, stop = day + timedelta(days=1), following[0][1]
    return datetime(day.year, day.month, day.day) + timedelta(minutes=stop)


def describe_rules(rules: Iterable[WindowRule]) -> str:
    return "; ".join(rule.describe() for rule in rules)


# --- time zones of a state or province (for the customer's postal state) ---------------------------

# Every zone a part of the subdivision keeps (a county across a zone line included): country, code, zones.
_SUBDIVISIONS = """
US AL America/Chicago America/New_York
US AK America/Anchorage America/Juneau America/Sitka America/Yakutat America/Nome America/Metlakatla
      America/Adak
US AZ America/Phoenix America/Denver
US AR America/Chicago
US CA America/Los_Angeles
US CO America/Denver
US CT America/New_York
US DE America/New_York
US DC America/New_York
US FL America/New_York America/Chicago
US GA America/New_York
US HI Pacific/Honolulu
US ID America/Boise America/Los_Angeles
US IL America/Chicago
US IN America/Indiana/Indianapolis America/Chicago
US IA America/Chicago
US KS America/Chicago America/Denver
US KY America/New_York America/Chicago
US LA America/Chicago
US ME America/New_York
US MD America/New_York
US MA America/New_York
US MI America/Detroit America/Menominee
US MN America/Chicago
US MS America/Chicago
US MO America/Chicago
US MT America/Denver
US NE America/Chicago America/Denver
US NV America/Los_Angeles America/Denver
US NH America/New_York
US NJ America/New_York
US NM America/Denver
US NY America/New_York
US NC America/New_York
US ND America/Chicago America/Denver America/North_Dakota/Center
US OH America/New_York
US OK America/Chicago
US OR America/Los_Angeles America/Boise
US PA America/New_York
US RI America/New_York
US SC America/New_York
US SD America/Chicago America/Denver
US TN America/Chicago America/New_York
US TX America/Chicago America/Denver
US UT America/Denver
US VT America/New_York
US VA America/New_York
US WA America/Los_Angeles
US WV America/New_York
US WI America/Chicago
US WY America/Denver
US PR America/Puerto_Rico
US GU Pacific/Guam
US VI America/St_Thomas
US AS Pacific/Pago_Pago
US MP Pacific/Saipan
CA AB America/Edmonton
CA BC America/Vancouver America/Edmonton
CA MB America/Winnipeg
CA NB America/Moncton
CA NL America/St_Johns America/Goose_Bay
CA NS America/Halifax
CA NT America/Edmonton
CA NU America/Iqaluit America/Winnipeg America/Edmonton
CA ON America/Toronto America/Winnipeg
CA PE America/Halifax
CA QC America/Toronto America/Halifax
CA SK America/Regina
CA YT America/Whitehorse
"""


def _subdivisions(table: str) -> dict[str, dict[str, tuple[str, ...]]]:
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    country = code = ""
    for line in table.splitlines():
        words = line.split()
        if not words:
            continue
        if not line[0].isspace():
            country, code, words = words[0], words[1], words[2:]
        out.setdefault(country, {})
        out[country][code] = out[country].get(code, ()) + tuple(words)
    return out


SUBDIVISION_ZONES: dict[str, dict[str, tuple[str, ...]]] = _subdivisions(_SUBDIVISIONS)


def locate(
    number_zones: Sequence[str],
    country: str | None,
    number_states: Sequence[str] = (),
    postal_state: str | None = None,
) -> ContactLocation:
    """Where the customer may be: the number's zones and states, plus the postal state's (both apply).

    A postal state adds its zones (a mobile number travels with its owner); a number with no zone
    (invalid, toll-free, non-geographic) gets only the postal state's, and none at all is unknown.
    """
    zones = list(dict.fromkeys(number_zones))
    states = list(dict.fromkeys(s.upper() for s in number_states if s))
    postal = (postal_state or "").strip().upper()
    if postal:
        known = SUBDIVISION_ZONES.get(country or "", {})
        zones += [z for z in known.get(postal, ()) if z not in zones]
        if postal not in states:
            states.append(postal)
    return ContactLocation(zones=tuple(zones), country=country, states=tuple(states))
