"""Sunshine Conversations webhooks: the ``X-API-Key`` shared secret and ``conversation:message`` events.

Sunshine signs nothing: each webhook has a secret that arrives as the ``X-API-Key`` header
(Sunshine OpenAPI, "Securing Sunshine Conversations Webhooks"), compared here in constant time.
A payload carries several events (``{app, webhook, events: [...]}``); each event's ``id`` is the
documented idempotency key. Sunshine retries anything but a 2xx, except 400, 401, 403, 404 and 406,
up to 5 times in 15 minutes: a bad key (401) or an unreadable body (400) is never retried.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from hub.domain.body import parse_json
from hub.domain.errors import AuthError, Problem
from webhooks.common import DeliveryItem, MalformedPayload, bounded, invalid, parse_rfc3339

HEADER = "X-API-Key"
KEPT_HEADERS = ("Content-Type", "User-Agent")  # never X-API-Key: it is the secret
MESSAGE = "conversation:message"
USER, BUSINESS = "user", "business"
METADATA_INTENT_KEYS = ("intent", "ctihub_intent")
MAX_KEY_LENGTH = 512  # a longer X-API-Key is refused before it is compared


@dataclass(frozen=True)
class ConversationEvent:
    """One Sunshine event; the message fields are set for ``conversation:message`` only."""

    event_id: str
    type: str
    created_at: datetime | None = None
    app_id: str | None = None
    conversation_id: str | None = None
    message_id: str | None = None
    received_at: datetime | None = None
    author_type: str | None = None  # user | business
    user_id: str | None = None
    user_external_id: str | None = None
    display_name: str | None = None
    email: str | None = None
    content_type: str | None = None
    text: str | None = None
    channel_type: str | None = None  # source.type: web, ios, whatsapp, telegram, messenger ...
    intent_hint: str | None = None  # message or conversation metadata "intent", as sent
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def is_customer_message(self) -> bool:
        return self.type == MESSAGE and self.author_type == USER and bool(self.message_id)


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _content_text(content: Mapping[str, Any]) -> str:
    kind = _str(content.get("type")) or "unknown"
    text = _str(content.get("text")) or _str(content.get("altText"))
    if kind == "text" and text:
        return text
    media = _str(content.get("mediaUrl"))
    parts = [f"[{kind}]", text, media]
    return " ".join(p for p in parts if p)


def _flat(metadata: Mapping[str, Any]) -> dict[str, str]:
    """Sunshine metadata is flat (strings, numbers, booleans); anything else is dropped."""
    return {
        str(k)[:100]: str(v)[:1000]
        for k, v in list(metadata.items())[:50]
        if isinstance(v, str | int | float | bool)
    }


def event_from(app_id: str | None, raw: Any, index: int) -> ConversationEvent:
    if not isinstance(raw, dict):
        raise invalid("each event must be a JSON object", [Problem(f"$.events[{index}]", "is not an object")])
    event_id = _str(raw.get("id"))
    kind = _str(raw.get("type"))
    if not event_id or not kind:
        missing = [n for n, v in (("id", event_id), ("type", kind)) if not v]
        raise invalid(
            "an event lacks its id or type",
            [Problem(f"$.events[{index}].{n}", "is required") for n in missing],
        )
    base = ConversationEvent(
        event_id=bounded(event_id, f"$.events[{index}].id", 200),
        type=kind[:100],
        created_at=parse_rfc3339(raw.get("createdAt")),
        app_id=app_id,
    )
    if kind != MESSAGE:
        return base
    payload = _obj(raw.get("payload"))
    conversation = _obj(payload.get("conversation"))
    message = _obj(payload.get("message"))
    author = _obj(message.get("author"))
    user = _obj(author.get("user"))
    profile = _obj(user.get("profile"))
    content = _obj(message.get("content"))
    if not _str(message.get("id")) or not _str(author.get("type")):
        raise invalid(
            "a conversation:message event must carry the message id and author type",
            [Problem(f"$.events[{index}].payload.message", "needs id and author.type")],
        )
    message_meta = _obj(message.get("metadata"))
    conversation_meta = _obj(conversation.get("metadata"))
    intent = next(
        (
            str(meta[key])
            for meta in (message_meta, conversation_meta)
            for key in METADATA_INTENT_KEYS
            if isinstance(meta.get(key), str) and meta[key]
        ),
        None,
    )
    name = _str(author.get("displayName")) or " ".join(
        p for p in (_str(profile.get("givenName")), _str(profile.get("surname"))) if p
    )
    return ConversationEvent(
        event_id=base.event_id,
        type=base.type,
        created_at=base.created_at,
        app_id=app_id,
        conversation_id=_str(conversation.get("id")),
        message_id=bounded(message["id"], f"$.events[{index}].payload.message.id", 200),
        received_at=parse_rfc3339(message.get("received")),
        author_type=author["type"],
        user_id=_str(author.get("userId")) or _str(user.get("id")),
        user_external_id=_str(user.get("externalId")),
        display_name=name or None,
        email=_str(profile.get("email")),
        content_type=_str(content.get("type")),
        text=_content_text(content),
        channel_type=_str(_obj(message.get("source")).get("type")),
        intent_hint=intent,
        metadata=MappingProxyType(_flat(message_meta)),
    )


@dataclass(frozen=True)
class SunshineSource:
    """Entry point ``sunshine`` (group ``cti_hub.webhooks``)."""

    name: str = "sunshine"
    kept_headers: tuple[str, ...] = KEPT_HEADERS

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """Raise AuthError unless ``X-API-Key`` is the webhook's secret. Constant-time compare."""
        given = headers.get(HEADER)
        if not given:
            raise AuthError(f"missing {HEADER} header")
        if len(given) > MAX_KEY_LENGTH or not given.isascii():
            raise AuthError(f"{HEADER} is not this webhook's secret")
        if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            raise AuthError(f"{HEADER} is not this webhook's secret")

    def parse(self, body: bytes) -> list[DeliveryItem]:
        payload = parse_json(body, MalformedPayload)
        if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
            raise invalid(
                "the body must be {app, webhook, events: [...]}", [Problem("$.events", "must be a list")]
            )
        app = _obj(payload.get("app"))
        app_id = _str(app.get("id"))
        items = []
        for index, raw in enumerate(payload["events"]):
            event = event_from(app_id, raw, index)
            kept = {"app": app, "webhook": _obj(payload.get("webhook")), "event": raw}
            items.append(
                DeliveryItem(
                    provider_id=event.event_id,
                    kind=event.type,
                    body=json.dumps(kept, ensure_ascii=False, separators=(",", ":")),
                    event=event,
                )
            )
        return items


SOURCE = SunshineSource()
