"""The canonical outcome event (contract v1) as an immutable value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

CHANNELS = ("chat", "sms", "self_service", "voice", "email", "messaging")
OUTCOMES = ("resolved", "failed", "abandoned", "escalated", "deflected", "in_progress", "no_response")
CRMS = ("salesforce", "zendesk")
HANDLED_BY = ("bot", "agent")
DEFAULT_SOURCE = "generic"
DEFAULT_PRIORITY = "normal"


def parse_timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp with an offset; naive times are an error."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return parsed


@dataclass(frozen=True)
class CustomerRef:
    """The identifiers an event carries, as sent (normalization happens in identity)."""

    phone: str | None = None
    email: str | None = None
    name: str | None = None
    external_ids: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None
    postal_state: str | None = None
    proof: Mapping[str, str] = field(default_factory=dict)  # "phone"/"email" -> carrier|verified|asserted


@dataclass(frozen=True)
class TranscriptLine:
    sender: str
    text: str
    at: datetime | None = None


@dataclass(frozen=True)
class CaseHint:
    crm: str
    id: str


@dataclass(frozen=True)
class Outcome:
    source: str
    event_id: str
    occurred_at: datetime
    channel: str
    customer: CustomerRef
    intent: str
    outcome: str
    direction: str = "inbound"
    disposition: str | None = None
    summary: str | None = None
    transcript: tuple[TranscriptLine, ...] = ()
    attempts: int | None = None
    step: str | None = None
    sentiment: str | None = None
    priority: str = DEFAULT_PRIORITY
    consent: Mapping[str, Any] = field(default_factory=dict)
    case_hint: CaseHint | None = None
    handled_by: str | None = None  # "bot" | "agent" (contract v1, optional)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The idempotency key: unique per source."""
        return f"{self.source}:{self.event_id}"

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Outcome:
        """Build from a payload that already passed schema validation."""
        customer = payload["customer"]
        hint = payload.get("case_hint")
        return cls(
            source=payload.get("source") or DEFAULT_SOURCE,
            event_id=payload["event_id"],
            occurred_at=parse_timestamp(payload["occurred_at"]),
            channel=payload["channel"],
            direction=payload.get("direction", "inbound"),
            customer=CustomerRef(
                phone=customer.get("phone"),
                email=customer.get("email"),
                name=customer.get("name"),
                external_ids=MappingProxyType(dict(customer.get("external_ids", {}))),
                region=customer.get("region"),
                postal_state=customer.get("postal_state"),
                proof=MappingProxyType(dict(customer.get("proof", {}))),
            ),
            intent=payload["intent"],
            outcome=payload["outcome"],
            disposition=payload.get("disposition"),
            summary=payload.get("summary"),
            transcript=tuple(
                TranscriptLine(
                    sender=line["from"],
                    text=line["text"],
                    at=parse_timestamp(line["at"]) if line.get("at") else None,
                )
                for line in payload.get("transcript", ())
            ),
            attempts=payload.get("attempts"),
            step=payload.get("step"),
            sentiment=payload.get("sentiment"),
            priority=payload.get("priority") or DEFAULT_PRIORITY,
            consent=MappingProxyType(dict(payload.get("consent", {}))),
            case_hint=CaseHint(crm=hint["crm"], id=hint["id"]) if hint else None,
            handled_by=payload.get("handled_by"),
            metadata=MappingProxyType(dict(payload.get("metadata", {}))),
        )
