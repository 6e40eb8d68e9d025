"""Validate a raw outcome body against contract v1 and the configured catalogs, reporting every problem."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from hub.domain.body import Unparseable, parse_json
from hub.domain.catalog import Catalog
from hub.domain.crm_ids import CASE_ID_RULES
from hub.domain.errors import Problem, ValidationFailed
from hub.domain.event_time import EventWindow
from hub.domain.identity import EXTERNAL_PREFIX


class MalformedBody(Unparseable):
    """The body is not JSON at all (HTTP 400), as opposed to JSON that breaks the contract (422)."""

    code = "malformed_json"


def load_outcome_schema() -> dict[str, Any]:
    text = resources.files("hub.contract").joinpath("outcome-event.schema.json").read_text()
    return json.loads(text)


_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _aware_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value.upper():
        raise ValueError("not an RFC 3339 date-time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("has no UTC offset (naive times are rejected)")
    return True


def _problem(error: ValidationError) -> list[Problem]:
    path = error.json_path
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in (error.instance or {})]
        return [Problem(f"{path}.{name}", "is required") for name in missing]
    if error.validator == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - allowed)
        return [Problem(f"{path}.{name}", "is not a known property") for name in extra]
    if error.validator == "format":
        cause = f": {error.cause}" if error.cause else ""
        return [Problem(path, f"{error.instance!r} is not a valid {error.validator_value}{cause}")]
    return [Problem(path, error.message)]


def _is_aware_datetime(value: str) -> bool:
    try:
        return _aware_datetime(value)
    except ValueError:
        return False


def _compile_fast(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """A compiled validator for the happy path (about 20x faster than jsonschema's).

    The contract uses nothing newer than draft 7, so fastjsonschema compiles it as such; jsonschema
    remains the judge that words every problem (``tests/unit/test_validation.py`` checks the two
    agree).
    """
    draft7 = {**schema, "$schema": "http://json-schema.org/draft-07/schema#"}
    return fastjsonschema.compile(draft7, formats={"date-time": _is_aware_datetime})


# customer_identifiers.kind is String(64) and holds "ext:<name>": a longer name would be accepted
# here and then fail the link on PostgreSQL, every retry, until dead-lettered.
MAX_EXTERNAL_ID_NAME = 64 - len(EXTERNAL_PREFIX)


def _external_id_name_problems(payload: dict[str, Any]) -> list[Problem]:
    customer = payload.get("customer")
    external = customer.get("external_ids") if isinstance(customer, dict) else None
    if not isinstance(external, dict):
        return []
    return [
        Problem(
            "$.customer.external_ids", f"the name {name[:20]!r}... is over {MAX_EXTERNAL_ID_NAME} characters"
        )
        for name in external
        if len(name) > MAX_EXTERNAL_ID_NAME
    ]


@dataclass(frozen=True)
class OutcomeValidator:
    schema: dict[str, Any]
    catalog: Catalog
    window: EventWindow = field(default_factory=EventWindow)  # bounds occurred_at, captured_at

    def __post_init__(self) -> None:
        object.__setattr__(self, "_validator", Draft202012Validator(self.schema, format_checker=_formats))
        object.__setattr__(self, "_fast", _compile_fast(self.schema))

    def conforms(self, payload: Any) -> bool:
        """True when the payload satisfies the contract schema (catalog checks aside)."""
        try:
            self._fast(payload)  # type: ignore[attr-defined]
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def parse(self, body: bytes, *, now: datetime | None = None) -> dict[str, Any]:
        """The validated payload, or ValidationFailed listing every problem with its JSON path.

        With ``now``, the event's own times must also lie in ``window`` around it (``times``)."""
        payload = parse_json(body, MalformedBody)
        problems = self.problems(payload)
        if not problems and now is not None:
            problems = self.times(payload, now)
        if problems:
            count = len(problems)
            raise ValidationFailed(
                f"the outcome event has {count} problem{'s' if count > 1 else ''}", problems
            )
        return payload

    def times(self, payload: dict[str, Any], now: datetime) -> list[Problem]:
        """The times of a conforming payload that lie outside the event window around ``now``."""
        found: list[Problem] = []
        consent = payload.get("consent") or {}
        for path, value in (
            ("$.occurred_at", payload["occurred_at"]),
            ("$.consent.captured_at", consent.get("captured_at")),
        ):
            if value is None:
                continue
            why = self.window.problem(datetime.fromisoformat(value), now)
            if why:
                found.append(Problem(path, f"{value!r} {why}"))
        return found

    def problems(self, payload: Any) -> list[Problem]:
        found: list[Problem] = []
        if not self.conforms(payload):
            validator: Draft202012Validator = self._validator  # type: ignore[attr-defined]
            found = [p for error in validator.iter_errors(payload) for p in _problem(error)]
        if isinstance(payload, dict):
            intent = payload.get("intent")
            if isinstance(intent, str) and intent and intent not in self.catalog.intents:
                known = ", ".join(sorted(self.catalog.intents))
                found.append(Problem("$.intent", f"unknown intent {intent!r}; configured intents: {known}"))
            hint = payload.get("case_hint")
            found.extend(_external_id_name_problems(payload))
            crm = hint.get("crm") if isinstance(hint, dict) else None
            rule = CASE_ID_RULES.get(crm) if isinstance(crm, str) else None
            if rule is not None and isinstance(hint.get("id"), str):
                problem = rule(hint["id"])
                if problem:
                    found.append(Problem("$.case_hint.id", f"{hint['id'][:40]!r} {problem}"))
            disposition = payload.get("disposition")
            if isinstance(disposition, str) and disposition not in self.catalog.dispositions:
                found.append(
                    Problem("$.disposition", f"unknown disposition {disposition!r}; see GET /v1/catalog")
                )
        return sorted(found, key=lambda p: p.path)
