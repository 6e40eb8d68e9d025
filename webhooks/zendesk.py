"""Zendesk webhooks: ``X-Zendesk-Webhook-Signature`` and the ticket events that move an episode.

Signature (crm-facts §4): ``base64(HMAC-SHA256(secret, timestamp + raw body))``: the key is the
signing secret's own UTF-8 bytes (never base64-decoded), the message is the
``X-Zendesk-Webhook-Signature-Timestamp`` header exactly as received followed by the raw body, with
no separator. Zendesk gives no acceptance window; like ``/v1`` we reject a timestamp more than
300 s from our clock, and deliveries are idempotent by the event's ``id``.

Handled events are Zendesk's event-subscription webhooks (``zen:event-type:ticket.*``):
``status_changed`` (``event.current``, e.g. ``"SOLVED"``), ``merged`` (``event.target_ticket_id``)
and ``comment_added`` (``event.comment`` with ``is_public`` and ``author.is_staff``). Anything else,
including trigger webhooks whose body the admin wrote, is stored and acknowledged, and does nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.domain.body import parse_json
from hub.domain.errors import AuthError, Problem
from webhooks.common import DeliveryItem, MalformedPayload, bounded, invalid, parse_rfc3339

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"
KEPT_HEADERS = (
    "Content-Type",
    "User-Agent",
    "X-Zendesk-Account-Id",
    "X-Zendesk-Webhook-Id",
    INVOCATION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
)
TOLERANCE_SECONDS = 300
TICKET_EVENT_PREFIX = "zen:event-type:ticket."
STATUS_CHANGED = "status_changed"
MERGED = "merged"
COMMENT_ADDED = "comment_added"
# The hub's own comments end with this line (adapters.zendesk.crm.MARKER); a test keeps them equal.
OWN_COMMENT_MARKER = "— CTI Hub · "
# What a well-formed header looks like, checked before any other work: the base64 of a 32-byte
# digest, and unix seconds (at most 10 digits, ASCII only) or an RFC 3339 time of bounded length.
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{43}=")
_UNIX_SECONDS = re.compile(r"[0-9]{1,10}")
_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9:.]{8,32}(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    if not _SIGNATURE.fullmatch(signature) or not timestamp.isascii():
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode("ascii"))


def parse_timestamp(value: str) -> datetime | None:
    """The signature timestamp: RFC 3339 as Zendesk sends it, or unix seconds (ASCII digits only)."""
    text = value.strip()
    if _UNIX_SECONDS.fullmatch(text):
        return datetime.fromtimestamp(int(text), UTC)
    if not _RFC3339.fullmatch(text):
        return None
    return parse_rfc3339(text)


@dataclass(frozen=True)
class TicketEvent:
    """One Zendesk event, reduced to what an episode needs."""

    event_id: str
    type: str  # e.g. "zen:event-type:ticket.status_changed"
    ticket_id: str | None
    occurred_at: datetime | None
    change: str | None = None  # status_changed | merged | comment_added, or None (not handled)
    status: str | None = None  # the new status, lowercase (new, open, pending, hold, solved, closed)
    previous_status: str | None = None
    merged_into_ticket_id: str | None = None
    comment_id: str | None = None
    comment_public: bool | None = None
    author_is_staff: bool | None = None
    written_by_hub: bool = False  # a comment the hub itself wrote (its marker line)
    via_channel: str | None = None
    account_id: str | None = None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    return str(value)


def _ticket_id(payload: Mapping[str, Any], detail: Mapping[str, Any]) -> str | None:
    found = _text(detail.get("id"))
    if found:
        return found
    subject = payload.get("subject")
    if isinstance(subject, str) and subject.startswith("zen:ticket:"):
        return subject.removeprefix("zen:ticket:") or None
    return None


def _status(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def event_from(payload: Any, *, fallback_id: str | None = None) -> TicketEvent:
    if not isinstance(payload, dict):
        raise invalid("the webhook body must be a JSON object")
    event_id = _text(payload.get("id")) or (fallback_id[:200] if fallback_id else None)
    if not event_id:
        raise invalid(
            "the webhook body has no event id",
            [Problem("$.id", f"is required (or the {INVOCATION_HEADER} header)")],
        )
    kind = payload.get("type") if isinstance(payload.get("type"), str) else ""
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    change_data = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    via = detail.get("via") if isinstance(detail.get("via"), dict) else {}
    fields: dict[str, Any] = {
        "event_id": bounded(event_id, "$.id", 200),
        "type": kind[:100],
        "ticket_id": None,
        "occurred_at": parse_rfc3339(payload.get("time")),
        "via_channel": _text(via.get("channel")),
        "account_id": _text(payload.get("account_id")),
    }
    if not kind.startswith(TICKET_EVENT_PREFIX):
        return TicketEvent(**fields)
    fields["ticket_id"] = _ticket_id(payload, detail)
    if fields["ticket_id"] is None:
        raise invalid("a ticket event must name its ticket", [Problem("$.detail.id", "is required")])
    name = kind.removeprefix(TICKET_EVENT_PREFIX)
    if name == STATUS_CHANGED:
        fields["status"] = _status(change_data.get("current")) or _status(detail.get("status"))
        fields["previous_status"] = _status(change_data.get("previous"))
        if fields["status"] is None:
            raise invalid(
                "a status change must carry the new status", [Problem("$.event.current", "is required")]
            )
        fields["change"] = STATUS_CHANGED
    elif name == MERGED:
        fields["merged_into_ticket_id"] = _text(change_data.get("target_ticket_id"))
        fields["change"] = MERGED
    elif name == COMMENT_ADDED:
        comment = change_data.get("comment") if isinstance(change_data.get("comment"), dict) else {}
        author = comment.get("author") if isinstance(comment.get("author"), dict) else {}
        if not isinstance(comment.get("is_public"), bool):
            raise invalid(
                "a comment must say whether it is public",
                [Problem("$.event.comment.is_public", "is required")],
            )
        body = comment.get("body") if isinstance(comment.get("body"), str) else ""
        fields.update(
            change=COMMENT_ADDED,
            comment_id=_text(comment.get("id")),
            comment_public=comment["is_public"],
            author_is_staff=author.get("is_staff") if isinstance(author.get("is_staff"), bool) else None,
            written_by_hub=OWN_COMMENT_MARKER in body,
        )
    return TicketEvent(**fields)


@dataclass(frozen=True)
class ZendeskSource:
    """Entry point ``zendesk`` (group ``cti_hub.webhooks``)."""

    name: str = "zendesk"
    kept_headers: tuple[str, ...] = KEPT_HEADERS
    tolerance_seconds: int = TOLERANCE_SECONDS

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """Raise AuthError unless the body carries a valid, fresh signature. Constant-time compare."""
        signature = headers.get(SIGNATURE_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        if not signature or not timestamp:
            raise AuthError(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
        if not _SIGNATURE.fullmatch(signature):
            raise AuthError(f"{SIGNATURE_HEADER} is not the base64 of an HMAC-SHA256 digest")
        signed_at = parse_timestamp(timestamp)
        if signed_at is None:
            raise AuthError(f"{TIMESTAMP_HEADER} is not an RFC 3339 time or unix seconds")
        if abs((now - signed_at).total_seconds()) > self.tolerance_seconds:
            raise AuthError(
                f"{TIMESTAMP_HEADER} is more than {self.tolerance_seconds} s from the server's clock"
            )
        if not signature_matches(secret, timestamp, body, signature):
            raise AuthError(f"{SIGNATURE_HEADER} does not match the timestamp and body")

    def parse(self, body: bytes, headers: Mapping[str, str] | None = None) -> DeliveryItem:
        payload = parse_json(body, MalformedPayload)
        fallback = (headers or {}).get(INVOCATION_HEADER)
        event = event_from(payload, fallback_id=f"invocation:{fallback}" if fallback else None)
        return DeliveryItem(
            provider_id=event.event_id,
            kind=event.type or "unknown",
            body=body.decode("utf-8"),
            event=event,
        )


SOURCE = ZendeskSource()
