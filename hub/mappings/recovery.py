"""Read ``mappings/recovery.yaml``: policies, caps, extra windows, blocked dates; problems as file:line.

    config = load_recovery_config(Path("mappings"))    # None without the file; ConfigError listing problems
    problems = recovery_problems(Path("mappings"))     # same checks; [] when valid or absent, never raises

Without the file there is no recovery (outreach only where an admin configured it). The Hub gets the
config through ``RecoveryService.for_hub`` (``hub.services.recovery``), which loads it from
``hub.mappings.directory`` when the scheduler's ticks are built; ``ctihub mappings validate`` reports
its problems with the other files'. Intent codes are checked against ``intents.yaml`` and the
RECOVERY_* disposition codes the write-back needs against ``dispositions.yaml`` (read leniently: their
own problems are the main loader's to report).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hub.domain.contact_window import DAY_NAMES, DEFAULT_RULES, PURPOSES, WindowRule, blocked_dates, hhmm
from hub.domain.errors import ConfigError, Problem
from hub.domain.recovery import (
    ANY,
    DEFAULT_CUSTOMER_CAPS,
    DEFAULT_SMS_BODY,
    DISPOSITION_CODES,
    LINK_PLACEHOLDERS,
    SMS_PLACEHOLDERS,
    CapRule,
    Policy,
    RecoveryConfig,
    Step,
)
from hub.mappings import schema
from hub.mappings.area_file import FileProblems, read_document
from hub.mappings.yaml_lines import YamlSyntaxError, load_with_lines

FILE = "recovery.yaml"
KIND = "recovery"
REQUIRED_DISPOSITIONS = DISPOSITION_CODES  # the write-back's codes; dispositions.yaml must have them


def recovery_problems(directory: Path) -> list[Problem]:
    """Every problem in ``<directory>/recovery.yaml``, top to bottom; [] when valid or absent."""
    return _load(Path(directory))[1]


def load_recovery_config(directory: Path) -> RecoveryConfig | None:
    """The checked configuration, None without the file, or ``ConfigError`` listing every problem."""
    directory = Path(directory)
    config, problems = _load(directory)
    if problems:
        count = len(problems)
        raise ConfigError(
            f"{directory / FILE}: {count} problem{'s' if count != 1 else ''}", problems=problems
        )
    return config


def _codes(directory: Path, name: str, key: str) -> set[str] | None:
    """The ``code`` of each item of ``key`` in another admin file, or None when it cannot be read."""
    try:
        data = load_with_lines((directory / name).read_text(encoding="utf-8")).data
    except (OSError, UnicodeDecodeError, YamlSyntaxError):
        return None
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return {item["code"] for item in items if isinstance(item, dict) and isinstance(item.get("code"), str)}


def _load(directory: Path) -> tuple[RecoveryConfig | None, list[Problem]]:
    path = directory / FILE
    if not path.exists():
        return None, []
    found = FileProblems(display=str(path))
    try:
        document = read_document(path, found)
    except ValueError as exc:  # YAML read an unquoted date that is not a calendar day (2026-02-30)
        line, text = _bad_date(path)
        found.add(line, f"{text or 'a date'} is not a calendar date ({exc}); write dates as YYYY-MM-DD")
        return None, found.sorted()
    if document is None:
        return None, found.sorted()
    found.document = document
    _dates_as_text(document.data)
    for duplicate in document.duplicate_keys:
        where = f"{schema.dotted(duplicate.path)}: " if duplicate.path else ""
        found.add(
            duplicate.line,
            f"{where}duplicate key {duplicate.key!r} (first at line {duplicate.first_line}); "
            "YAML keeps only the last",
        )
    schema_file = schema.schema_path(KIND, directory)
    if schema_file is None:
        found.add(None, f"cannot check it: {KIND}.schema.json not found")
    else:
        for line, message in schema.schema_errors(schema.validator_for(schema_file), document):
            found.add(line, message)
    if found.problems:
        return None, found.sorted()
    data: dict[str, Any] = document.data
    _check(directory, data, found)
    if found.problems:
        return None, found.sorted()
    return _build(data), []


_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


def _bad_date(path: Path) -> tuple[int | None, str | None]:
    """The line and text of the first date-shaped word that is not a calendar day."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for match in _DATE.finditer(line.partition("#")[0]):
            try:
                date.fromisoformat(match.group())
            except ValueError:
                return number, match.group()
    return None, None


def _dates_as_text(data: Any) -> None:
    """YAML reads an unquoted 2026-12-25 as a date: the blocked dates are checked as text."""
    windows = data.get("contact_windows") if isinstance(data, dict) else None
    entries = windows.get("blocked_dates") if isinstance(windows, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        dates = entry.get("dates") if isinstance(entry, dict) else None
        if isinstance(dates, list):
            entry["dates"] = [d.isoformat() if isinstance(d, date) else d for d in dates]


def _placeholders(text: str) -> Iterable[str]:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is not None:
            yield name


def _check(directory: Path, data: dict[str, Any], found: FileProblems) -> None:
    caps = data.get("caps") or {}
    limit = caps.get("max_attempts_per_episode", 3)
    intents = _codes(directory, "intents.yaml", "intents")
    names: dict[str, int] = {}
    for index, policy in enumerate(data.get("policies") or []):
        where = f"policies[{index}]"
        line = found.at("policies", index, "name")
        if policy["name"] in names:
            found.add(
                line,
                f"{where}.name: duplicate policy {policy['name']!r} (first at line {names[policy['name']]})",
            )
        else:
            names[policy["name"]] = line
        for i_index, intent in enumerate(policy["match"].get("intent") or []):
            if intents is not None and intent != ANY and intent not in intents:
                found.add(
                    found.at("policies", index, "match", "intent", i_index),
                    f"{where}.match.intent[{i_index}]: unknown intent {intent!r}; expected one of: "
                    f'{", ".join(sorted(intents))} or "*"',
                )
        steps = policy["steps"]
        if len(steps) > limit:
            found.add(
                found.at("policies", index, "steps"),
                f"{where}.steps: {len(steps)} steps, but caps.max_attempts_per_episode is {limit}: "
                f"step {limit + 1} would always be blocked",
            )
        ttl = policy.get("ttl_hours", 72) * 60
        previous = -1.0
        for s_index, step in enumerate(steps):
            step_line = found.at("policies", index, "steps", s_index)
            delay = step["after_minutes"]
            if delay < previous:
                found.add(
                    step_line,
                    f"{where}.steps[{s_index}]: after_minutes {delay:g} is earlier than the step before "
                    f"({previous:g}); list the steps in time order",
                )
            if delay > ttl:
                found.add(
                    step_line,
                    f"{where}.steps[{s_index}]: after_minutes {delay:g} is after the policy's ttl_hours "
                    f"({ttl / 60:g} h): it would never be made",
                )
            previous = max(previous, delay)
    sms = data.get("sms") or {}
    body = sms.get("body", DEFAULT_SMS_BODY)
    link = sms.get("link", "")
    for key, text, allowed in (("body", body, SMS_PLACEHOLDERS), ("link", link, LINK_PLACEHOLDERS)):
        try:
            unknown = [name for name in _placeholders(text) if name not in allowed]
        except ValueError as exc:
            found.add(found.at("sms", key), f"sms.{key}: {exc} (write {{{{ and }}}} for a literal brace)")
            continue
        if unknown:
            found.add(
                found.at("sms", key),
                f"sms.{key}: unknown placeholder {{{unknown[0]}}}; "
                f"use {', '.join('{' + name + '}' for name in allowed)}",
            )
    if "stop" not in body.lower():
        found.add(found.at("sms", "body"), "sms.body: say how to opt out (e.g. 'Reply STOP to opt out.')")
    if link and "{link}" not in body:
        found.add(found.at("sms", "body"), "sms.body: the link is configured but the body has no {link}")
    for index, rule in enumerate((data.get("contact_windows") or {}).get("extra_rules") or []):
        for day in DAY_NAMES:
            for s_index, text in enumerate(rule["days"][day]):
                start, _, end = text.partition("-")
                try:
                    if hhmm(start) >= hhmm(end):
                        raise ValueError(f"{text!r} ends before it starts")
                except ValueError as exc:
                    found.add(
                        found.at("contact_windows", "extra_rules", index, "days", day, s_index),
                        f"contact_windows.extra_rules[{index}].days.{day}[{s_index}]: {exc}",
                    )
    _check_blocked_dates(data, found)
    dispositions = _codes(directory, "dispositions.yaml", "dispositions")
    if dispositions is not None:
        missing = [code for code in REQUIRED_DISPOSITIONS if code not in dispositions]
        if missing:
            found.add(
                1,
                f"dispositions.yaml has no {', '.join(missing)}: recovery writes each result to the "
                "case/ticket with these codes",
            )


def _check_blocked_dates(data: dict[str, Any], found: FileProblems) -> None:
    """Each blocked date is a real calendar day, listed once per entry."""
    for index, entry in enumerate((data.get("contact_windows") or {}).get("blocked_dates") or []):
        seen: dict[date, int] = {}
        for d_index, text in enumerate(entry["dates"]):
            where = f"contact_windows.blocked_dates[{index}].dates[{d_index}]"
            line = found.at("contact_windows", "blocked_dates", index, "dates", d_index)
            try:
                day = date.fromisoformat(text)
            except ValueError:
                found.add(line, f"{where}: {text!r} is not a calendar date (YYYY-MM-DD)")
                continue
            if day in seen:
                found.add(line, f"{where}: {text} is listed twice (first at line {seen[day]})")
            seen.setdefault(day, line)


def _build(data: dict[str, Any]) -> RecoveryConfig:
    caps = data.get("caps") or {}
    customer = tuple(
        CapRule(int(c["limit"]), timedelta(hours=c["window_hours"]), citation="recovery.yaml")
        for c in caps.get("customer") or []
    )
    built_in = tuple(cap for cap in DEFAULT_CUSTOMER_CAPS if cap.jurisdiction != ANY)
    if "customer" not in caps:
        customer = tuple(cap for cap in DEFAULT_CUSTOMER_CAPS if cap.jurisdiction == ANY)
    extra_caps = tuple(
        CapRule(
            int(c["limit"]),
            timedelta(hours=c["window_hours"]),
            c["jurisdiction"],
            c.get("citation", "recovery.yaml"),
        )
        for c in caps.get("jurisdictions") or []
    )
    rules = tuple(
        WindowRule(
            jurisdiction=rule["jurisdiction"],
            days=tuple(
                tuple((hhmm(t.partition("-")[0]), hhmm(t.partition("-")[2])) for t in rule["days"][day])
                for day in DAY_NAMES
            ),
            citation=rule.get("citation", "recovery.yaml"),
            purposes=frozenset(rule.get("purposes") or PURPOSES),
        )
        for rule in (data.get("contact_windows") or {}).get("extra_rules") or []
    )
    rules += tuple(
        blocked_dates(
            entry["jurisdiction"],
            (date.fromisoformat(text) for text in entry["dates"]),
            entry.get("citation", "recovery.yaml"),
            purposes=frozenset(entry.get("purposes") or PURPOSES),
        )
        for entry in (data.get("contact_windows") or {}).get("blocked_dates") or []
    )
    policies = tuple(
        Policy(
            name=item["name"],
            channels=tuple(item["match"].get("channel") or (ANY,)),
            intents=tuple(item["match"].get("intent") or (ANY,)),
            outcomes=tuple(item["match"]["outcome"]),
            steps=tuple(Step(s["action"], timedelta(minutes=s["after_minutes"])) for s in item["steps"]),
            purpose=item.get("purpose", "service"),
            enabled=item.get("enabled", True),
            ttl=timedelta(hours=item.get("ttl_hours", 72)),
        )
        for item in data.get("policies") or []
    )
    sms = data.get("sms") or {}
    return RecoveryConfig(
        policies=policies,
        enabled=data.get("enabled", True),
        max_attempts_per_episode=caps.get("max_attempts_per_episode", 3),
        min_gap=timedelta(minutes=caps.get("min_minutes_between_attempts", 60)),
        customer_caps=customer + built_in + extra_caps,
        windows=DEFAULT_RULES + rules,
        sms_body=sms.get("body", DEFAULT_SMS_BODY),
        sms_link=sms.get("link", ""),
    )
