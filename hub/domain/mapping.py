"""Field mappings: canonical fields to CRM fields through a fixed set of named transforms.

There is deliberately no expression language. A rule names a canonical source field, a CRM target
field and one transform from ``TRANSFORMS``; anything richer belongs in code, reviewed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Canonical fields a rule may read. ``metadata.<key>`` reads the event's free-form metadata.
SOURCE_FIELDS = frozenset(
    {
        "event.source",
        "event.event_id",
        "event.key",
        "event.channel",
        "event.direction",
        "event.outcome",
        "event.intent",
        "event.summary",
        "event.step",
        "event.sentiment",
        "event.priority",
        "event.attempts",
        "event.occurred_at",
        "intent.code",
        "intent.label",
        "intent.family",
        "disposition.code",
        "disposition.label",
        "disposition.outcome_class",
        "disposition.value",
        "disposition.tags",
        "customer.key",
        "customer.phone",
        "customer.email",
        "customer.name",
        "episode.id",
        "episode.opened_at",
        "activity.subject",
        "activity.body",
    }
)
METADATA_PREFIX = "metadata."


def is_known_source(name: str) -> bool:
    return name in SOURCE_FIELDS or (name.startswith(METADATA_PREFIX) and len(name) > 9)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _truncate(value: Any, options: Mapping[str, Any]) -> str:
    text = _text(value)
    limit = int(options["max_length"])
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def _value_map(value: Any, options: Mapping[str, Any]) -> Any:
    values: Mapping[str, Any] = options["values"]
    key = _text(value)
    if key in values:
        return values[key]
    return options.get("default")


def _iso8601(value: Any, options: Mapping[str, Any]) -> str:
    return value.isoformat() if isinstance(value, datetime) else _text(value)


def _date(value: Any, options: Mapping[str, Any]) -> str:
    return value.date().isoformat() if isinstance(value, datetime) else _text(value)[:10]


def _slug(value: Any, options: Mapping[str, Any]) -> Any:
    def one(item: Any) -> str:
        ascii_text = unicodedata.normalize("NFKD", _text(item)).encode("ascii", "ignore").decode()
        return re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")

    if isinstance(value, list | tuple):
        return [one(item) for item in value]
    return one(value)


def _join(value: Any, options: Mapping[str, Any]) -> str:
    separator = options.get("separator", ", ")
    return separator.join(_text(v) for v in value) if isinstance(value, list | tuple) else _text(value)


TRANSFORMS: Mapping[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "copy": lambda value, options: value,
    "lowercase": lambda value, options: _text(value).lower(),
    "uppercase": lambda value, options: _text(value).upper(),
    "truncate": _truncate,
    "value_map": _value_map,
    "iso8601": _iso8601,
    "date": _date,
    "slug": _slug,
    "join": _join,
    "constant": lambda value, options: options["value"],
}
# Options each transform requires; the loader reports a missing one with file:line.
REQUIRED_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "truncate": ("max_length",),
    "value_map": ("values",),
    "constant": ("value",),
}


@dataclass(frozen=True)
class FieldRule:
    """Write ``transform(context[source])`` to ``target``.

    ``when`` is ``always`` or ``create`` (only when the case/ticket is created, so an agent's later
    edit of e.g. the subject is never overwritten).
    """

    target: str
    source: str | None = None
    transform: str = "copy"
    options: Mapping[str, Any] = field(default_factory=dict)
    when: str = "always"

    def value(self, context: Mapping[str, Any]) -> Any:
        raw = context.get(self.source) if self.source else None
        if raw is None or raw == "" or raw == [] or raw == ():
            if self.transform == "constant":
                return self.options["value"]
            return self.options.get("default")
        return TRANSFORMS[self.transform](raw, self.options)


@dataclass(frozen=True)
class ObjectMapping:
    """How the hub writes one CRM object (Case, Task, ticket, comment)."""

    object: str
    rules: tuple[FieldRule, ...] = ()
    key_field: str | None = None

    def apply(self, context: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """CRM fields for this write. Tags-like list targets from several rules are merged."""
        fields: dict[str, Any] = {}
        for rule in self.rules:
            if rule.when == "create" and not creating:
                continue
            value = rule.value(context)
            if value is None:
                continue
            if isinstance(value, list | tuple) and isinstance(fields.get(rule.target), list):
                fields[rule.target] = [
                    *fields[rule.target],
                    *(v for v in value if v not in fields[rule.target]),
                ]
            else:
                fields[rule.target] = list(value) if isinstance(value, list | tuple) else value
        return fields


@dataclass(frozen=True)
class CrmMapping:
    crm: str
    case: ObjectMapping
    activity: ObjectMapping
