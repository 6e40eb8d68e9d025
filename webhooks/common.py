"""What every channel source shares: the delivery item, the two input errors, plain-data round trips.

A provider's request carries one item (a Twilio message, a Zendesk event) or several (Sunshine
events, Salesforce notifications). Each item is keyed by the provider's own id, the idempotency key,
and carries a canonical object defined by its source module. Canonical objects are flat frozen
dataclasses whose fields are str, bool, int, datetime, tuples of str or str-to-str mappings, so
``to_plain``/``from_plain`` can store them as JSON and rebuild them for a later retry.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from hub.domain.body import Unparseable
from hub.domain.errors import Forbidden, Problem, ValidationFailed


class MalformedPayload(Unparseable):
    """The body cannot be parsed at all (not JSON, XML or a form; not UTF-8): HTTP 400."""

    code = "malformed_body"


class InvalidPayload(ValidationFailed):
    """The body parses but lacks what the source always sends, or holds what cannot be stored: 422."""

    code = "invalid_body"


class SenderNotAllowed(Forbidden):
    """The request is well-formed but comes from a sender that is not on the allow-list (HTTP 403)."""


@dataclass(frozen=True)
class DeliveryItem:
    """One thing a provider delivered.

    ``provider_id`` is the provider's own id for it (MessageSid, Zendesk event id, Sunshine event id,
    Salesforce notification Id); ``kind`` says what it is in a few words (``sms``,
    ``keyword:STOP``, ``zen:event-type:ticket.status_changed``, ``Case``); ``body`` is what is kept
    as received: the raw body for single-item requests, the item's own JSON for multi-item ones
    (never secrets such as a Salesforce SessionId); ``event`` is the canonical object.
    """

    provider_id: str
    kind: str
    body: str
    event: Any


def malformed(message: str, problems: Iterable[Problem] = ()) -> MalformedPayload:
    return MalformedPayload(message, list(problems))


def invalid(message: str, problems: Iterable[Problem] = ()) -> InvalidPayload:
    return InvalidPayload(message, list(problems))


def bounded(value: str, path: str, limit: int) -> str:
    """``value`` when it fits the column that will hold it, else InvalidPayload (422) naming ``path``.

    Never truncated: two ids that differ after the limit would become one.
    """
    if len(value) > limit:
        raise invalid(
            f"{path} is longer than {limit} characters", [Problem(path, f"is {len(value)} characters")]
        )
    return value


def kept_headers(headers: Mapping[str, str], names: Iterable[str]) -> dict[str, str]:
    """The named headers that are present, under their canonical spelling; secrets are never named."""
    kept = {}
    for name in names:
        value = headers.get(name)
        if value is not None:
            kept[name] = value
    return kept


def parse_rfc3339(value: object) -> datetime | None:
    """An aware datetime from an RFC 3339 string (``Z`` or an offset; nanoseconds are cut), else None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    date, sep, rest = text.partition("T")
    if sep and "." in rest:
        # Python parses at most 6 fractional digits; Zendesk sends 9.
        clock, _, fraction_and_zone = rest.partition(".")
        digits = ""
        for char in fraction_and_zone:
            if not char.isdigit():
                break
            digits += char
        rest = f"{clock}.{digits[:6].ljust(6, '0')}{fraction_and_zone[len(digits) :]}"
        text = f"{date}T{rest}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def to_plain(event: Any) -> dict[str, Any]:
    """A canonical object as JSON-ready data (datetimes as RFC 3339, tuples as lists)."""
    plain: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        plain[field.name] = value
    return plain


def from_plain(cls: type[Any], data: Mapping[str, Any]) -> Any:
    """Rebuild a canonical object stored with ``to_plain``."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        if field.name not in data:
            continue
        value = data[field.name]
        hint = str(hints[field.name])
        if value is not None and "datetime" in hint and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, dict):
            value = MappingProxyType(dict(value))
        values[field.name] = value
    return cls(**values)
