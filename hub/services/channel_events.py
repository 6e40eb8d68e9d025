"""Channel webhooks after verification: store each delivered item once, and act on it, in one transaction.

Processing model. Everything a channel webhook does touches only the hub's database: an SMS consent
decision, an episode status, an inbox row that the link worker turns into a CRM activity. So each
item is stored and processed in the same transaction, committed, and only then acknowledged:

- a crash before the commit leaves nothing behind, and the provider (which got no answer) retries;
- after the commit there is nothing left to do, so there is no window to recover from, and an SMS
  opt-out is in force in the ledger before Twilio hears back;
- a redelivery finds the provider id in ``webhook_deliveries`` and changes nothing;
- an item whose processing raises is rolled back to a savepoint and stored as ``failed`` with the
  error (the raw delivery is never lost); the request answers 5xx so providers that retry do,
  a redelivery of a failed item processes it again, and ``retry_failed`` (for the scheduler) does
  the same for providers that never retry (Twilio).

The CRM is never called here: a chat message or an SMS that must reach the case/ticket becomes an
inbox event (contract v1, outcome ``in_progress``) that the link worker links like any other.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine

from hub.domain.consent import SALESFORCE_FLAG_SOURCE, ConsentDecision, crm_evidence
from hub.domain.errors import ConfigError, ExternalCallError, HubError, Problem, ValidationFailed
from hub.domain.identity import EMAIL, PHONE, normalize_email
from hub.ports import Clock
from hub.services.episode_events import (
    AGENT_REPLY,
    CUSTOMER_MESSAGE,
    MERGED,
    STATUS_CHANGED,
    EpisodeEvent,
    apply_episode_event,
)
from hub.services.identity import normalize_phone
from hub.services.log_context import log_ids
from hub.services.recovery.delivery import is_delivery_status, record_delivery
from hub.services.validation import OutcomeValidator
from hub.settings import PREFIX, Settings, secret_problem
from hub.store import consent, inbox
from hub.store import webhook_deliveries as deliveries
from webhooks import salesforce_outbound, sunshine, twilio_sms, zendesk
from webhooks.common import DeliveryItem, from_plain, to_plain

log = logging.getLogger(__name__)

TWILIO_SMS = twilio_sms.SOURCE.name
ZENDESK = zendesk.SOURCE.name
SUNSHINE = sunshine.SOURCE.name
SALESFORCE_OUTBOUND = salesforce_outbound.SOURCE.name

DEFAULT_INTENT = "general_inquiry"
# In the detail of an outbound message whose cleared flag was not applied (counted by recovery metrics).
LIFT_NOT_APPLIED = "not applied: CTIHUB_SALESFORCE_OUTBOUND_TOKEN is not set"
ZENDESK_STATUSES = frozenset({"new", "open", "pending", "hold", "solved", "closed"})
# Zendesk's via.channel for a customer's comment -> the hub's channel names.
_ZENDESK_CHANNELS = {
    "email": "email",
    "mail": "email",
    "web": "email",
    "web_form": "email",
    "sms": "sms",
    "text_message": "sms",
    "twilio_sms": "sms",
    "connect_sms": "sms",
    "chat": "chat",
    "native_messaging": "messaging",
    "voice": "voice",
    "phone_call_inbound": "voice",
}
_CANONICAL: dict[str, type[Any]] = {
    TWILIO_SMS: twilio_sms.InboundSms,
    ZENDESK: zendesk.TicketEvent,
    SUNSHINE: sunshine.ConversationEvent,
    SALESFORCE_OUTBOUND: salesforce_outbound.Notification,
}


# --- settings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSettings:
    """The channel webhooks' settings (``CTIHUB_<NAME>``, or ``CTIHUB_<NAME>_FILE`` for secrets)."""

    public_url: str | None = None  # PUBLIC_URL: the hub's URL as Twilio calls it, behind any proxy
    twilio_auth_token: str | None = field(default=None, repr=False)  # TWILIO_AUTH_TOKEN
    twilio_default_intent: str = DEFAULT_INTENT  # TWILIO_DEFAULT_INTENT: for inbound SMS
    zendesk_webhook_secret: str | None = field(default=None, repr=False)  # ZENDESK_WEBHOOK_SECRET
    sunshine_api_key: str | None = field(default=None, repr=False)  # SUNSHINE_API_KEY (X-API-Key)
    sunshine_default_intent: str = DEFAULT_INTENT  # SUNSHINE_DEFAULT_INTENT
    salesforce_org_ids: tuple[str, ...] = ()  # SALESFORCE_ORG_IDS: comma-separated 15/18-char ids
    salesforce_outbound_token: str | None = field(default=None, repr=False)  # SALESFORCE_OUTBOUND_TOKEN

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelSettings:
        orgs = settings.value("SALESFORCE_ORG_IDS") or ""
        return cls(
            public_url=settings.value("PUBLIC_URL"),
            twilio_auth_token=settings.value("TWILIO_AUTH_TOKEN"),
            twilio_default_intent=settings.value("TWILIO_DEFAULT_INTENT", DEFAULT_INTENT) or DEFAULT_INTENT,
            zendesk_webhook_secret=settings.value("ZENDESK_WEBHOOK_SECRET"),
            sunshine_api_key=settings.value("SUNSHINE_API_KEY"),
            sunshine_default_intent=settings.value("SUNSHINE_DEFAULT_INTENT", DEFAULT_INTENT)
            or DEFAULT_INTENT,
            salesforce_org_ids=tuple(part.strip() for part in orgs.split(",") if part.strip()),
            salesforce_outbound_token=settings.value("SALESFORCE_OUTBOUND_TOKEN"),
        )

    def problems(self, source: str) -> list[Problem]:
        """What keeps ``source`` from accepting anything: each missing or invalid secret or URL.

        A default intent that is not in the catalog does not stop a source (an SMS STOP must never
        wait on it): only the items that need it fail, are kept, and are retried once it is fixed.
        """
        found: list[Problem] = []

        def need(name: str, value: object) -> None:
            if not value:
                found.append(Problem(PREFIX + name, "is not set"))
            elif isinstance(value, str) and (short := secret_problem(name, value)):
                found.append(short)

        if source == TWILIO_SMS:
            need("TWILIO_AUTH_TOKEN", self.twilio_auth_token)
            need("PUBLIC_URL", self.public_url)
            if self.public_url:
                parts = urlsplit(self.public_url)
                if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
                    found.append(
                        Problem(
                            PREFIX + "PUBLIC_URL",
                            "must be an http(s) base URL such as https://hub.example.com",
                        )
                    )
        elif source == ZENDESK:
            need("ZENDESK_WEBHOOK_SECRET", self.zendesk_webhook_secret)
        elif source == SUNSHINE:
            need("SUNSHINE_API_KEY", self.sunshine_api_key)
        elif source == SALESFORCE_OUTBOUND:
            need("SALESFORCE_OUTBOUND_TOKEN", self.salesforce_outbound_token)
            need("SALESFORCE_ORG_IDS", self.salesforce_org_ids)
            for org_id in self.salesforce_org_ids:
                try:
                    salesforce_outbound.check_org_id(org_id)
                except ValueError as exc:
                    found.append(Problem(PREFIX + "SALESFORCE_ORG_IDS", str(exc)))
        return found


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    status: str  # processed | ignored | unmatched
    detail: str
    inbox_event: bool = False
    # What the sender may read when ``detail`` (kept for operators) holds another system's text.
    public: str | None = None


@dataclass(frozen=True)
class ItemReceipt:
    provider_id: str
    kind: str
    status: str  # processed | ignored | unmatched | failed
    duplicate: bool
    detail: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.provider_id,
            "kind": self.kind,
            "status": "duplicate" if self.duplicate else "accepted",
            "result": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Receipt:
    items: tuple[ItemReceipt, ...]

    @property
    def failed(self) -> list[ItemReceipt]:
        return [item for item in self.items if item.status == deliveries.FAILED]


# --- the service ----------------------------------------------------------------------------------


@dataclass
class ChannelEvents:
    engine: Engine
    clock: Clock
    validator: OutcomeValidator
    settings: ChannelSettings
    default_region: str = "US"
    on_inbox_event: Callable[[], None] = lambda: None  # wakes an in-process link worker

    @classmethod
    def for_hub(cls, hub: Any) -> ChannelEvents:
        """Built from a ``hub.bootstrap.Hub`` (the web routes; a scheduler tick for ``retry_failed``)."""
        return cls(
            engine=hub.engine,
            clock=hub.clock,
            validator=hub.ingest.validator,
            settings=ChannelSettings.from_settings(hub.settings),
            default_region=hub.settings.default_region,
            on_inbox_event=hub.wake_worker.set,
        )

    def receive(self, source: str, headers: Mapping[str, str], items: Sequence[DeliveryItem]) -> Receipt:
        """Store and process verified items in one transaction; return what became of each."""
        now = self.clock.now()
        receipts: list[ItemReceipt] = []
        woke = False
        with self.engine.begin() as connection:
            for item in items:
                stored = deliveries.store(
                    connection,
                    source=source,
                    provider_id=item.provider_id,
                    kind=item.kind,
                    received_at=now,
                    headers=headers,
                    body=item.body,
                    event=to_plain(item.event),
                )
                if not stored.inserted and stored.status != deliveries.FAILED:
                    receipts.append(
                        ItemReceipt(item.provider_id, item.kind, stored.status, True, stored.detail)
                    )
                    continue
                with log_ids(delivery_id=stored.id):
                    handled = self._process(
                        connection, stored.id, source, item.event, now, stored.received_at
                    )
                woke |= handled.inbox_event
                receipts.append(
                    ItemReceipt(
                        item.provider_id,
                        item.kind,
                        handled.status,
                        not stored.inserted,
                        handled.public or handled.detail,
                    )
                )
        if woke:
            self.on_inbox_event()
        return Receipt(tuple(receipts))

    def retry_failed(self, *, limit: int = 100, max_attempts: int = 10) -> int:
        """Process failed deliveries again (a scheduler tick); returns how many were tried.

        A delivery that failed ``max_attempts`` times stays ``failed`` for an operator to look at
        (a provider's own redelivery still processes it again).
        """
        now = self.clock.now()
        woke = False
        with self.engine.begin() as connection:
            rows = deliveries.claim_failed(connection, limit=limit, max_attempts=max_attempts)
            for row in rows:
                event = from_plain(_CANONICAL[row.source], json.loads(row.event))
                woke |= self._process(connection, row.id, row.source, event, now, row.received_at).inbox_event
        if woke:
            self.on_inbox_event()
        return len(rows)

    def _process(
        self,
        connection: Connection,
        delivery_id: int,
        source: str,
        event: Any,
        now: datetime,
        received_at: datetime,
    ) -> Handled:
        """Act on one item. Handlers get ``received_at`` (when the provider first delivered it) as
        their ``at``: what the customer did is dated then, even when it is processed again later."""
        handlers: dict[str, Callable[[Connection, Any, datetime], Handled]] = {
            TWILIO_SMS: self._sms,
            ZENDESK: self._zendesk,
            SUNSHINE: self._sunshine,
            SALESFORCE_OUTBOUND: self._salesforce,
        }
        try:
            with connection.begin_nested():
                handled = handlers[source](connection, event, received_at)
        except Exception as exc:  # stored as failed, never lost; see the module docstring
            log.exception("processing a %s delivery failed", source)
            message = exc.message if isinstance(exc, HubError) else str(exc)
            # The hub's own messages may be shown to the sender; a database's or a CRM's text (which
            # may echo a phone number or an email) stays in the delivery row and the masked log.
            ours = isinstance(exc, HubError) and not isinstance(exc, ExternalCallError)
            public = message if ours else f"{type(exc).__name__}; details are in the hub's log"
            handled = Handled(deliveries.FAILED, f"{type(exc).__name__}: {message}"[:2000], public=public)
        deliveries.finish(connection, delivery_id, status=handled.status, detail=handled.detail, now=now)
        return handled

    # --- Twilio SMS -------------------------------------------------------------------------------

    def _sms(self, connection: Connection, message: twilio_sms.InboundSms, at: datetime) -> Handled:
        if message.status_callback:
            return self._sms_status(connection, message, at)
        if message.keyword_kind == twilio_sms.HELP:
            return Handled(deliveries.PROCESSED, f"{message.keyword}: help keyword; consent unchanged")
        if message.keyword_kind in (twilio_sms.OPT_OUT, twilio_sms.OPT_IN):
            return self._consent(connection, message, at)
        intent = self._default_intent("TWILIO_DEFAULT_INTENT", self.settings.twilio_default_intent)
        return self._to_inbox(connection, self._sms_outcome(message, at), intent, at)

    def _sms_status(self, connection: Connection, message: twilio_sms.InboundSms, at: datetime) -> Handled:
        """A delivery-status callback of a text (``hub.services.recovery.delivery``)."""
        status = message.status_callback or ""
        if not is_delivery_status(status):
            return Handled(deliveries.IGNORED, f"MessageStatus {status!r} is not a delivery status")
        phone, channel = self._sms_phone(message.recipient) if message.recipient else (None, "sms")
        recorded = record_delivery(
            connection,
            message_sid=message.message_sid,
            status=status,
            error_code=message.error_code,
            phone=phone if channel == "sms" else None,
            at=at,
            now=self.clock.now(),
        )
        return Handled(deliveries.PROCESSED if recorded.matched else deliveries.UNMATCHED, recorded.detail)

    def _default_intent(self, setting: str, intent: str) -> str:
        if intent not in self.validator.catalog.intents:
            raise ConfigError(f"{PREFIX}{setting} names {intent!r}, which is not in mappings/intents.yaml")
        return intent

    def _sms_phone(self, sender: str) -> tuple[str | None, str]:
        """(E.164 phone or None, channel) for a Twilio address like +1..., rcs:+1... or whatsapp:+1..."""
        prefix, sep, number = sender.partition(":")
        channel = "sms"
        if sep:
            channel = "sms" if prefix.lower() in ("sms", "mms", "rcs") else "messaging"
        else:
            number = sender
        identifier = normalize_phone(number, self.default_region)
        return (identifier.value if identifier.kind == PHONE else None), channel

    def _consent(self, connection: Connection, message: twilio_sms.InboundSms, at: datetime) -> Handled:
        phone, channel = self._sms_phone(message.sender)
        if phone is None or channel != "sms":
            return Handled(
                deliveries.IGNORED,
                f"{message.keyword} from {message.sender!r}, which is not an SMS phone number: "
                "no SMS consent to change",
            )
        granted = message.keyword_kind == twilio_sms.OPT_IN
        decision = ConsentDecision(
            channel="sms",
            address=phone,
            granted=granted,
            decided_at=at,
            source=f"twilio:{message.keyword}",
            evidence=f"inbound SMS {message.message_sid} to {message.recipient}: {message.body[:200]!r}",
        )
        recorded = consent.record_consent(
            connection,
            decision,
            now=self.clock.now(),  # when it was written; decided_at is when the customer sent it
            customer_key=deliveries.customer_with(connection, PHONE, phone),
            source_ref=message.message_sid,
        )
        verb = "granted" if granted else "revoked"
        return Handled(
            deliveries.PROCESSED,
            f"SMS consent {verb} by {message.keyword}" + ("" if recorded else " (already in the ledger)"),
        )

    def _sms_outcome(self, message: twilio_sms.InboundSms, at: datetime) -> dict[str, Any]:
        phone, channel = self._sms_phone(message.sender)
        text = message.body
        if message.num_media:
            text = f"{text}\n[{message.num_media} media attachment(s)]".strip()
        metadata: dict[str, Any] = {"twilio_to": message.recipient, "twilio_num_media": message.num_media}
        if message.account_sid:
            metadata["twilio_account_sid"] = message.account_sid
        if message.messaging_service_sid:
            metadata["twilio_messaging_service_sid"] = message.messaging_service_sid
        for index, url in enumerate(message.media_urls[:10]):
            metadata[f"twilio_media_url_{index}"] = url
        return {
            "event_id": message.message_sid,
            "source": TWILIO_SMS,
            "occurred_at": at.isoformat(),
            "channel": channel,
            "direction": "inbound",
            "customer": {
                "phone": (phone or message.sender.partition(":")[2] or message.sender)[:40],
                "proof": {"phone": "carrier"},  # Twilio's From: the number the carrier delivered from
            },
            "outcome": "in_progress",
            "summary": text[:10000],
            "transcript": [{"from": "customer", "text": text[:20000], "at": at.isoformat()}],
            "metadata": metadata,
        }

    # --- Sunshine Conversations -------------------------------------------------------------------

    def _sunshine(self, connection: Connection, event: sunshine.ConversationEvent, at: datetime) -> Handled:
        if event.type != sunshine.MESSAGE:
            return Handled(deliveries.IGNORED, f"{event.type} events do not reach the case")
        if not event.is_customer_message:
            return Handled(
                deliveries.IGNORED,
                f"a message by {event.author_type or 'an unknown author'}: "
                "only customers' messages become activities",
            )
        intents = self.validator.catalog.intents
        intent = (
            event.intent_hint
            if event.intent_hint in intents
            else self._default_intent("SUNSHINE_DEFAULT_INTENT", self.settings.sunshine_default_intent)
        )
        occurred = self.validator.window.bounded(event.received_at or event.created_at, at)
        customer: dict[str, Any] = {}
        external: dict[str, str] = {}
        if event.user_id:
            external["messaging"] = event.user_id[:200]
        if event.user_external_id:
            external["sunshine_external_id"] = event.user_external_id[:200]
        if not external and event.conversation_id:
            external["sunshine_conversation"] = event.conversation_id[:200]
        if external:
            customer["external_ids"] = external
        if event.email:  # from the user's profile, which the user (or any SDK client) sets: unproven
            customer["email"] = event.email[:320]
            customer["proof"] = {"email": "asserted"}
        if event.display_name:
            customer["name"] = event.display_name[:200]
        metadata: dict[str, Any] = dict(list(event.metadata.items())[:50])
        metadata.update(
            {
                "sunshine_app_id": event.app_id,
                "sunshine_conversation_id": event.conversation_id,
                "sunshine_message_id": event.message_id,
                "sunshine_channel": event.channel_type,
                "sunshine_content_type": event.content_type,
            }
        )
        if event.intent_hint and event.intent_hint not in intents:
            metadata["sunshine_unknown_intent"] = event.intent_hint
        text = event.text or ""
        payload = {
            "event_id": event.message_id,
            "source": SUNSHINE,
            "occurred_at": occurred.isoformat(),
            "channel": "messaging",
            "direction": "inbound",
            "customer": customer or {"external_ids": {}},
            "outcome": "in_progress",
            "summary": text[:10000],
            "transcript": [{"from": "customer", "text": text[:20000], "at": occurred.isoformat()}],
            "metadata": {k: v for k, v in metadata.items() if v is not None},
        }
        return self._to_inbox(connection, payload, intent, at)

    def _to_inbox(
        self, connection: Connection, payload: dict[str, Any], intent: str, at: datetime
    ) -> Handled:
        payload = {**payload, "intent": intent}
        problems = self.validator.problems(payload)
        if problems:
            raise ValidationFailed("the outcome built from this delivery breaks contract v1", problems)
        added = inbox.add_event(
            connection,
            source=payload["source"],
            event_id=payload["event_id"],
            payload=json.dumps(payload, separators=(",", ":"), ensure_ascii=False),
            now=at,
        )
        key = f"{payload['source']}:{payload['event_id']}"
        if not added:
            return Handled(deliveries.PROCESSED, f"inbox event {key} was already there")
        return Handled(deliveries.PROCESSED, f"inbox event {key} (intent {intent})", inbox_event=True)

    # --- Zendesk ----------------------------------------------------------------------------------

    def _zendesk(self, connection: Connection, event: zendesk.TicketEvent, at: datetime) -> Handled:
        if event.change is None or event.ticket_id is None:
            return Handled(deliveries.IGNORED, f"{event.type or 'this event'} does not move an episode")
        if event.change == zendesk.COMMENT_ADDED and event.written_by_hub:
            return Handled(deliveries.IGNORED, "a comment the hub wrote itself")
        episode_id = deliveries.episode_of_case(connection, "zendesk", event.ticket_id)
        if episode_id is None:
            return Handled(deliveries.UNMATCHED, f"ticket {event.ticket_id} is not linked to an episode")
        when = self.validator.window.bounded(event.occurred_at, at)
        if event.change == zendesk.STATUS_CHANGED:
            if event.status not in ZENDESK_STATUSES:
                return Handled(
                    deliveries.IGNORED, f"ticket {event.ticket_id}: status {event.status!r} is not tracked"
                )
            update = EpisodeEvent(episode_id, STATUS_CHANGED, when, status=event.status)
            detail = f"episode {episode_id}: ticket {event.ticket_id} is {event.status}"
        elif event.change == zendesk.MERGED:
            target = (
                deliveries.episode_of_case(connection, "zendesk", event.merged_into_ticket_id)
                if event.merged_into_ticket_id
                else None
            )
            update = EpisodeEvent(episode_id, MERGED, when, merged_into=target)
            detail = (
                f"episode {episode_id}: ticket {event.ticket_id} merged into {event.merged_into_ticket_id}"
                + (f" (episode {target})" if target else " (not linked to an episode)")
            )
        else:
            if event.author_is_staff is None:
                return Handled(deliveries.IGNORED, "the comment does not say whether its author is an agent")
            visibility = "public" if event.comment_public else "private"
            if event.author_is_staff:
                update = EpisodeEvent(episode_id, AGENT_REPLY, when, public=bool(event.comment_public))
                detail = f"episode {episode_id}: agent {visibility} comment on ticket {event.ticket_id}"
            else:
                channel = _ZENDESK_CHANNELS.get(event.via_channel or "")
                update = EpisodeEvent(
                    episode_id, CUSTOMER_MESSAGE, when, public=bool(event.comment_public), channel=channel
                )
                detail = f"episode {episode_id}: customer comment on ticket {event.ticket_id}"
        apply_episode_event(connection, update, now=at)
        return Handled(deliveries.PROCESSED, detail)

    # --- Salesforce -------------------------------------------------------------------------------

    def _salesforce(
        self, connection: Connection, note: salesforce_outbound.Notification, at: datetime
    ) -> Handled:
        if note.is_person:
            return self._crm_flags(connection, note, at)
        if not note.is_case:
            return Handled(deliveries.IGNORED, f"{note.sobject_type} notifications do not move an episode")
        if note.is_closed is None:
            return Handled(
                deliveries.IGNORED,
                f"Case {note.record_id}: the message has no IsClosed; "
                "add Case.IsClosed to the outbound message's fields",
            )
        episode_id = deliveries.episode_of_case(connection, "salesforce", note.record_id)
        if episode_id is None:
            return Handled(deliveries.UNMATCHED, f"Case {note.record_id} is not linked to an episode")
        status = "closed" if note.is_closed else "open"
        when = self.validator.window.bounded(_dated(note, at), at)
        apply_episode_event(connection, EpisodeEvent(episode_id, STATUS_CHANGED, when, status=status), now=at)
        shown = f" ({note.status})" if note.status else ""
        return Handled(
            deliveries.PROCESSED, f"episode {episode_id}: Case {note.record_id} is {status}{shown}"
        )

    def _crm_flags(
        self, connection: Connection, note: salesforce_outbound.Notification, at: datetime
    ) -> Handled:
        """A Contact's (Lead's, Person Account's) ``DoNotCall`` / ``HasOptedOutOfEmail`` into the consent
        ledger, once per notification and naming the record: a set flag blocks the channel for each of
        the record's addresses, a cleared one lifts that record's block only (never consent;
        ``hub.domain.consent``).

        Dated by the record's LastModifiedDate, so a late redelivery of an older state does not win
        over a newer one, but never later than the message was received: a date in the future would
        outrank every real decision to come. Outbound messages are not signed: the endpoint accepts
        nothing until ``CTIHUB_SALESFORCE_OUTBOUND_TOKEN`` is set, and checks it first. A delivery
        processed without it (stored by an older hub, retried by ``retry_failed``) still never lifts
        a block: the lift is logged and counted (``LIFT_NOT_APPLIED``), and the block stands.
        """
        flags = note.consent_flags()
        where = f"{note.sobject_type} {note.record_id}"
        if not flags:
            return Handled(
                deliveries.IGNORED,
                f"{where}: no do-not-contact flag with an address; add DoNotCall / HasOptedOutOfEmail "
                "and Phone / MobilePhone / Email to the outbound message's fields",
            )
        decided_at = _dated(note, at)
        said: list[str] = []
        applied = False
        for flag in flags:
            addresses = self._flag_addresses(flag)
            if not flag.set and not self.settings.salesforce_outbound_token:
                log.warning(
                    "salesforce outbound message %s: %s %s=false %s; the block stands",
                    note.notification_id,
                    where,
                    flag.field,
                    LIFT_NOT_APPLIED,
                )
                said.append(f"{flag.channel} block lift by {flag.field} {LIFT_NOT_APPLIED}")
                continue
            for kind, address in addresses:
                consent.record_consent(
                    connection,
                    ConsentDecision(
                        channel=flag.channel,
                        address=address,
                        granted=not flag.set,
                        decided_at=decided_at,
                        source=SALESFORCE_FLAG_SOURCE,
                        evidence=crm_evidence(
                            f"outbound message {note.notification_id}: {where} "
                            f"{flag.field}={'true' if flag.set else 'false'}",
                            [note.record_id],
                        ),
                    ),
                    now=self.clock.now(),
                    customer_key=deliveries.customer_with(connection, kind, address),
                    source_ref=f"sfom:{note.notification_id}:{flag.channel}:{address}"[:300],
                )
            applied = True
            state = "blocked" if flag.set else "block lifted"
            said.append(f"{flag.channel} {state} by {flag.field} for {len(addresses)} address(es)")
        status = deliveries.PROCESSED if applied else deliveries.IGNORED
        return Handled(status, f"{where}: " + "; ".join(said))

    def _flag_addresses(self, flag: salesforce_outbound.ConsentFlag) -> list[tuple[str, str]]:
        """(identifier kind, normalized address) of each address a flag covers; unparseable ones are
        skipped (the ledger is keyed by E.164 phones and case-folded emails)."""
        found: list[tuple[str, str]] = []
        for raw in flag.addresses:
            if flag.channel == "email":
                identifier = normalize_email(raw)
                if identifier.valid:
                    found.append((EMAIL, identifier.value))
            else:
                identifier = normalize_phone(raw, self.default_region)
                if identifier.kind == PHONE:
                    found.append((PHONE, identifier.value))
        return list(dict.fromkeys(found))


def _dated(note: salesforce_outbound.Notification, received_at: datetime) -> datetime:
    """When the record changed: its LastModifiedDate, bounded by when the message was received."""
    modified = note.last_modified_at
    return received_at if modified is None else min(modified, received_at)
