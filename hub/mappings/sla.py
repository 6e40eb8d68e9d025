"""``mappings/sla.yaml``: the checks a JSON Schema cannot express, and building the ``SlaConfig``.

The loader (``hub.mappings.loader``) reads the file and its schema like every other admin file, then
calls ``check`` (findings at their lines) and, when nothing is wrong anywhere, ``build``. The file is
optional: without it ``Mappings.sla`` is None and the hub keeps no SLA.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

from hub.domain.business_hours import MINUTES_PER_WEEK, Holiday, Schedule, zone
from hub.domain.outcome import CHANNELS, CRMS
from hub.domain.sla import (
    PRIORITIES,
    Condition,
    CrmSlaFields,
    Policy,
    PolicyFilter,
    PolicyMetric,
    SlaAction,
    SlaConfig,
)
from hub.mappings.checks import Document, Finding, items

FILE = "sla.yaml"
KIND = "sla"
# CRMs whose records carry tags (a Salesforce Case has none).
TAGGING_CRMS = ("zendesk",)

# Zendesk's schedule API answers with Rails time-zone names; the common ones are accepted as is.
ZENDESK_TIME_ZONES: Mapping[str, str] = MappingProxyType(
    {
        "Eastern Time (US & Canada)": "America/New_York",
        "Central Time (US & Canada)": "America/Chicago",
        "Mountain Time (US & Canada)": "America/Denver",
        "Pacific Time (US & Canada)": "America/Los_Angeles",
        "Arizona": "America/Phoenix",
        "Alaska": "America/Juneau",
        "Hawaii": "Pacific/Honolulu",
        "Atlantic Time (Canada)": "America/Halifax",
        "UTC": "Etc/UTC",
        "London": "Europe/London",
        "Dublin": "Europe/Dublin",
        "Lisbon": "Europe/Lisbon",
        "Paris": "Europe/Paris",
        "Berlin": "Europe/Berlin",
        "Amsterdam": "Europe/Amsterdam",
        "Madrid": "Europe/Madrid",
        "Rome": "Europe/Rome",
        "Sydney": "Australia/Sydney",
        "Tokyo": "Asia/Tokyo",
        "Singapore": "Asia/Singapore",
        "Mumbai": "Asia/Kolkata",
    }
)
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def iana_zone(name: str) -> str:
    return ZENDESK_TIME_ZONES.get(name, name)


def _clock_time(minutes: int) -> str:
    day, rest = divmod(minutes, 1440)
    return f"{DAYS[day % 7]} {rest // 60:02d}:{rest % 60:02d}"


def _interval_text(start: int, end: int) -> str:
    """``Monday 09:00-17:00``, or ``Monday 16:00-Tuesday 17:00`` across midnight."""
    first, last = _clock_time(start), _clock_time(end)
    if end == (start // 1440 + 1) * 1440:
        return f"{first}-24:00"
    return f"{first}-{last.split()[1]}" if first.split()[0] == last.split()[0] else f"{first}-{last}"


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


# --- checks --------------------------------------------------------------------------------------


def check(doc: Document, intents: Collection[str] = ()) -> Iterator[Finding]:
    """Everything beyond the schema; ``intents`` are the catalog's codes, for filter values."""
    data = doc.data
    if not isinstance(data, dict):
        return
    names: dict[str, int] = {}
    for index, schedule in items(data, "schedules"):
        yield from _check_schedule(doc, index, schedule, names)
    titles: dict[str, int] = {}
    for index, policy in items(data, "policies"):
        yield from _check_policy(doc, index, policy, names, titles, intents)
    crm = data.get("crm")
    if isinstance(crm, dict):
        for name, block in crm.items():
            if isinstance(block, dict):
                yield from _check_crm(doc, str(name), block)


def _check_schedule(
    doc: Document, index: int, schedule: dict[str, Any], names: dict[str, int]
) -> Iterator[Finding]:
    where = f"schedules[{index}]"
    name = schedule.get("name")
    if isinstance(name, str):
        line = doc.line("schedules", index, "name")
        if name in names:
            yield line, f"{where}.name: duplicate schedule {name!r} (first at line {names[name]})"
        else:
            names[name] = line
    time_zone = schedule.get("time_zone")
    if isinstance(time_zone, str):
        try:
            zone(iana_zone(time_zone))
        except ValueError:
            yield (
                doc.line("schedules", index, "time_zone"),
                f"{where}.time_zone: unknown time zone {time_zone!r}; use an IANA name such as "
                "America/New_York",
            )
    seen: list[tuple[int, int, int]] = []
    for i_index, interval in items(schedule, "intervals"):
        start, end = interval.get("start_time"), interval.get("end_time")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool):
            continue  # the schema reports it
        line = doc.line("schedules", index, "intervals", i_index)
        if not 0 <= start < end <= MINUTES_PER_WEEK:
            yield (
                line,
                f"{where}.intervals[{i_index}]: start_time {start} must be before end_time {end}, "
                f"both within 0..{MINUTES_PER_WEEK} (minutes since Sunday 00:00)",
            )
            continue
        for other_start, other_end, other_line in seen:
            if start < other_end and other_start < end:
                yield (
                    line,
                    f"{where}.intervals[{i_index}]: {_interval_text(start, end)} overlaps "
                    f"{_interval_text(other_start, other_end)} (line {other_line})",
                )
                break
        seen.append((start, end, line))
    for h_index, holiday in items(schedule, "holidays"):
        start, end = _date(holiday.get("start_date")), _date(holiday.get("end_date"))
        line = doc.line("schedules", index, "holidays", h_index)
        for key, value, parsed in (
            ("start_date", holiday.get("start_date"), start),
            ("end_date", holiday.get("end_date"), end),
        ):
            if isinstance(value, str) and parsed is None:
                yield line, f"{where}.holidays[{h_index}].{key}: {value!r} is not a calendar date"
        if start is not None and end is not None and end < start:
            yield line, f"{where}.holidays[{h_index}]: ends {end} before it starts {start}"


_FIELD_VALUES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"channel": CHANNELS, "priority": PRIORITIES, "crm": CRMS}
)


def _check_policy(
    doc: Document,
    index: int,
    policy: dict[str, Any],
    schedules: Mapping[str, int],
    titles: dict[str, int],
    intents: Collection[str],
) -> Iterator[Finding]:
    where = f"policies[{index}]"
    title = policy.get("title")
    if isinstance(title, str):
        line = doc.line("policies", index, "title")
        if title in titles:
            yield line, f"{where}.title: duplicate policy title {title!r} (first at line {titles[title]})"
        else:
            titles[title] = line
    schedule = policy.get("schedule")
    if isinstance(schedule, str) and schedule not in schedules:
        known = ", ".join(schedules) or "none"
        yield (
            doc.line("policies", index, "schedule"),
            f"{where}.schedule: unknown schedule {schedule!r} (schedules: {known})",
        )
    flt = policy.get("filter")
    if isinstance(flt, dict):
        for part in ("all", "any"):
            for c_index, condition in items(flt, part):
                yield from _check_condition(doc, (where, index, part, c_index), condition, intents)
    seen: dict[tuple[str, str], int] = {}
    for m_index, metric in items(policy, "policy_metrics"):
        priority, name = metric.get("priority"), metric.get("metric")
        if not (isinstance(priority, str) and isinstance(name, str)):
            continue
        key = (priority, name)
        line = doc.line("policies", index, "policy_metrics", m_index)
        if key in seen:
            yield (
                line,
                f"{where}.policy_metrics[{m_index}]: {key[1]} for priority {key[0]} is already set "
                f"(line {seen[key]})",
            )
        else:
            seen[key] = line


def _check_condition(
    doc: Document,
    at: tuple[str, int, str, int],
    condition: dict[str, Any],
    intents: Collection[str],
) -> Iterator[Finding]:
    where, index, part, c_index = at
    label = f"{where}.filter.{part}[{c_index}]"
    line = doc.line("policies", index, "filter", part, c_index)
    operator, value, name = condition.get("operator"), condition.get("value"), condition.get("field")
    if operator in ("is", "is_not") and isinstance(value, list):
        yield line, f"{label}: operator {operator} takes one value; use includes for a list"
    known = _FIELD_VALUES.get(name) if isinstance(name, str) else None
    if name == "intent" and intents:
        known = tuple(intents)
    if known is None:
        return
    for one in value if isinstance(value, list) else [value]:
        if isinstance(one, str) and one not in known:
            yield line, f"{label}: unknown {name} {one!r}; expected one of: {', '.join(known)}"


def _check_crm(doc: Document, crm: str, block: dict[str, Any]) -> Iterator[Finding]:
    values = block.get("priority_values")
    if isinstance(values, dict):
        for key in values:
            if key not in PRIORITIES:
                yield (
                    doc.line("crm", crm, "priority_values", key),
                    f"crm.{crm}.priority_values: unknown priority {key!r}; expected one of: "
                    f"{', '.join(PRIORITIES)}",
                )
    for kind in ("warning", "breach"):
        action = block.get(kind)
        if not isinstance(action, dict):
            continue
        if action.get("tags") and crm not in TAGGING_CRMS:
            yield doc.line("crm", crm, kind, "tags"), f"crm.{crm}.{kind}.tags: {crm} records have no tags"
        wanted = action.get("raise_priority_to")
        if isinstance(wanted, str) and not block.get("priority_field"):
            yield (
                doc.line("crm", crm, kind, "raise_priority_to"),
                f"crm.{crm}.{kind}.raise_priority_to: set crm.{crm}.priority_field "
                "to say where the priority goes",
            )
        elif isinstance(wanted, str) and isinstance(values, dict) and values and wanted not in values:
            yield (
                doc.line("crm", crm, kind, "raise_priority_to"),
                f"crm.{crm}.{kind}.raise_priority_to: {wanted!r} has no value in crm.{crm}.priority_values",
            )


# --- building (only on a file that passed every check) -------------------------------------------


def build(data: Mapping[str, Any]) -> SlaConfig:
    schedules = {}
    for _, item in items(data, "schedules"):
        schedule = Schedule(
            name=item["name"],
            time_zone=iana_zone(item["time_zone"]),
            intervals=tuple((i["start_time"], i["end_time"]) for _, i in items(item, "intervals")),
            holidays=tuple(
                Holiday(h["name"], date.fromisoformat(h["start_date"]), date.fromisoformat(h["end_date"]))
                for _, h in items(item, "holidays")
            ),
        )
        schedules[schedule.name] = schedule
    policies = tuple(_policy(item) for _, item in items(data, "policies"))
    crm = {name: _crm(block) for name, block in (data.get("crm") or {}).items() if name in CRMS}
    return SlaConfig(schedules=MappingProxyType(schedules), policies=policies, crm=MappingProxyType(crm))


def _condition(item: Mapping[str, Any]) -> Condition:
    value = item["value"]
    return Condition(item["field"], item["operator"], tuple(value) if isinstance(value, list) else value)


def _policy(item: Mapping[str, Any]) -> Policy:
    flt = item.get("filter") or {}
    metrics = tuple(
        PolicyMetric(
            priority=m["priority"],
            metric=m["metric"],
            target=float(m["target"]) if "target" in m else m["target_in_seconds"] / 60,
            business_hours=m["business_hours"],
        )
        for _, m in items(item, "policy_metrics")
    )
    return Policy(
        title=item["title"],
        schedule=item["schedule"],
        filter=PolicyFilter(
            all=tuple(_condition(c) for _, c in items(flt, "all")),
            any=tuple(_condition(c) for _, c in items(flt, "any")),
        ),
        metrics=metrics,
        warn_before_minutes=item.get("warn_before_minutes"),
    )


def _action(data: Any) -> SlaAction:
    if not isinstance(data, dict):
        return SlaAction()
    return SlaAction(
        raise_priority_to=data.get("raise_priority_to"),
        tags=tuple(data.get("tags") or ()),
        case_fields=MappingProxyType(dict(data.get("case_fields") or {})),
        activity_fields=MappingProxyType(dict(data.get("activity_fields") or {})),
    )


def _crm(block: Mapping[str, Any]) -> CrmSlaFields:
    return CrmSlaFields(
        priority_field=block.get("priority_field"),
        priority_values=MappingProxyType(dict(block.get("priority_values") or {})),
        due_field=block.get("due_field"),
        status_field=block.get("status_field"),
        warning=_action(block.get("warning")),
        breach=_action(block.get("breach")),
    )
