"""Read ``mappings/deflection.yaml``: thresholds, promises, schedule; problems as file:line.

    config = load_deflection_config(Path("mappings"))    # ConfigError listing every problem
    problems = deflection_problems(Path("mappings"))     # same checks; [] when valid, never raises

An absent file means the built-in defaults (``DeflectionConfig()``). ``business_hours`` names the
schedule to read: the inline ``schedule:`` of this file when it has that name, otherwise one of the
``schedules`` of ``sla.yaml``. Here the name is only checked against that file; the schedule itself
is the one the SLA loader builds (``Mappings.sla.schedules``), so SLA clocks and deflection promises
read the same calendar.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hub.domain.deflection import (
    CHAT,
    DEFAULT_RESPONSE_TIMES,
    SMS,
    DeflectionConfig,
    ResponseTime,
    Thresholds,
)
from hub.domain.errors import Problem
from hub.mappings.area_file import FileProblems, check_document, problems_error, read_document

DEFLECTION_FILE = "deflection.yaml"
SLA_FILE = "sla.yaml"
KIND = "deflection"


def deflection_problems(directory: Path) -> list[Problem]:
    """Every problem in ``<directory>/deflection.yaml``, top to bottom; [] when valid or absent."""
    return _load(Path(directory))[1]


def load_deflection_config(directory: Path) -> DeflectionConfig:
    """The checked configuration (defaults without the file), or ``ConfigError`` listing every problem."""
    directory = Path(directory)
    config, problems = _load(directory)
    if config is None:
        raise problems_error(directory / DEFLECTION_FILE, problems)
    return config


def _load(directory: Path) -> tuple[DeflectionConfig | None, list[Problem]]:
    path = directory / DEFLECTION_FILE
    if not path.exists():
        return DeflectionConfig(), []
    found = FileProblems(display=str(path))
    document = read_document(path, found)
    if document is None:
        return None, found.sorted()
    check_document(found, document, KIND, directory)
    if found.problems:
        return None, found.sorted()
    config = _build(directory, document.data if document.data is not None else {}, found)
    return (None, found.sorted()) if found.problems else (config, [])


def _build(directory: Path, data: dict[str, Any], found: FileProblems) -> DeflectionConfig:
    defaults = Thresholds()
    queue = data.get("queue", {})
    responses = data.get("expected_response", {})
    times = {}
    for channel in (CHAT, SMS):
        given = responses.get(channel, {})
        default = DEFAULT_RESPONSE_TIMES[channel]
        times[channel] = ResponseTime(
            business_hours_minutes=given.get("in_hours_minutes", default.business_hours_minutes),
            after_hours_minutes=given.get("after_hours_minutes", default.after_hours_minutes),
        )
    thresholds = Thresholds(
        wait_threshold_seconds=queue.get("wait_threshold_seconds", defaults.wait_threshold_seconds),
        idle_agents=queue.get("idle", {}).get("agents_available", defaults.idle_agents),
        service_level_target=queue.get("service_level_target"),
        self_service_failures=data.get("escape", {}).get(
            "self_service_failures", defaults.self_service_failures
        ),
        response_times=MappingProxyType(times),
    )
    name = data.get("business_hours")
    if name is not None:
        _check_sla_schedule(directory, name, found)
    lifetime = data.get("context_token", {}).get("lifetime_minutes", 15)
    return DeflectionConfig(
        thresholds=thresholds,
        schedule_name=name,
        token_lifetime=timedelta(minutes=lifetime),
    )


def _check_sla_schedule(directory: Path, name: str, found: FileProblems) -> None:
    """A problem at ``business_hours`` when ``sla.yaml`` has no schedule ``name``.

    A malformed ``sla.yaml`` is reported by its own loader: here it only means "cannot tell".
    """
    line = found.at("business_hours")
    path = directory / SLA_FILE
    if not path.exists():
        found.add(
            line,
            f"business_hours: schedule {name!r} is not defined: there is no {SLA_FILE}",
        )
        return
    document = read_document(path, FileProblems(display=str(path)))
    schedules = document.data.get("schedules") if document and isinstance(document.data, dict) else None
    if not isinstance(schedules, list):
        return
    names = [item.get("name") for item in schedules if isinstance(item, dict)]
    if name not in names:
        known = ", ".join(str(n) for n in names if isinstance(n, str)) or "none"
        found.add(line, f"business_hours: no schedule {name!r} in {SLA_FILE} (schedules: {known})")
