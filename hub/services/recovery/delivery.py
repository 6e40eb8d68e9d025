"""Delivery statuses of recovery texts: Twilio's status callbacks, on the ``twilio-sms`` webhook.

The Twilio sender asks for them (``StatusCallback``, when ``CTIHUB_PUBLIC_URL`` is set) and each
callback is stored once per (MessageSid, status, ErrorCode) by the webhook layer (a second "failed"
with another error, such as 21610, is news), then recorded here in the same transaction:

- the status is kept per message (``recovery_sms_status``) when it moves the message forward
  (queued < sending < sent < delivered | undelivered | failed < read): callbacks arrive out of order
  and a late "sent" must not overwrite "delivered". It is kept even before the tick that sent the
  text has recorded its MessageSid on the attempt (the callback can be faster): the attempt's
  delivery result is always read through its ``provider_id``;
- a text that was not delivered (undelivered, failed, canceled) gets a note on the case, so the
  agent knows it never arrived (written when the callback arrives, or when the attempt is recorded
  if the callback came first); the attempt's trail gets a ``delivery`` row either way;
- error 21610 (the recipient had replied STOP to this sender or service) is an SMS opt-out for the
  consent ledger, whatever the attempt.

The recovery metrics read delivered texts as connected touches (``recovery_metrics``).

Two transactions meet here: the webhook's (status kept, then the attempt looked up by MessageSid)
and the tick's (MessageSid recorded on the attempt, then ``catch_up`` looks for a status). On
PostgreSQL (READ COMMITTED) each could miss the other's uncommitted row, and then neither would
write the note. Both take a transaction-scoped advisory lock on the MessageSid first
(``store.lock_message``), so the second waits for the first to commit and then sees its row: one of
them always acts, and the note's writeback key makes a second one harmless. A lock rather than a
reconciliation pass: the window is a few milliseconds, the lock is two statements on paths that
already write, and nothing has to scan ``recovery_sms_status`` on every tick. (SQLite has one
writer at a time, so the two never overlap there.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from hub.domain.consent import ConsentDecision
from hub.store import consent as consent_store
from hub.store import recovery as store

from .recording import audit_attempt, note_result

# Twilio's message statuses, in the order a message moves through them (equal ranks never replace
# each other: the first final status stays).
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "read": 5,
}
DELIVERED = ("delivered", "read")
NOT_DELIVERED = ("undelivered", "failed", "canceled")
OPTED_OUT = "21610"  # "Attempt to send to unsubscribed recipient"
ACTOR = "twilio-status-callback"
NOTE_SEQ = 1  # the delivery note's writeback key differs from a send-time failure's


@dataclass(frozen=True)
class DeliveryRecorded:
    kept: bool  # the status moved the message forward
    matched: bool  # the text is a recovery attempt's (its MessageSid is recorded)
    opted_out: bool  # an SMS revocation went to the consent ledger
    detail: str


def is_delivery_status(status: str) -> bool:
    return status.lower() in STATUS_RANK


def record_delivery(
    connection: Connection,
    *,
    message_sid: str,
    status: str,
    error_code: str | None,
    phone: str | None,
    at: datetime,
    now: datetime,
) -> DeliveryRecorded:
    """One status callback. ``phone`` is the recipient (E.164) when the callback names a valid one."""
    status = status.lower()
    error_code = (error_code or "").strip() or None
    store.lock_message(connection, message_sid)  # before both its write and its look-up: see above
    kept = store.record_sms_status(connection, message_sid, status, STATUS_RANK[status], error_code, at=at)
    attempt = store.attempt_by_provider(connection, message_sid)
    if kept and attempt is not None:
        _on_attempt(connection, attempt, status, error_code, now)
    opted_out = False
    address = phone or (attempt.address if attempt is not None else None)
    if error_code == OPTED_OUT and address:
        opted_out = consent_store.record_consent(
            connection,
            ConsentDecision(
                "sms",
                address,
                False,
                at,
                f"twilio:{OPTED_OUT}",
                f"status callback for {message_sid}: {status}, error {OPTED_OUT} (recipient unsubscribed)",
            ),
            now=now,
            customer_key=attempt.customer_key if attempt is not None else None,
            source_ref=f"{message_sid}:{OPTED_OUT}",
        )
    shown = status + (f" (error {error_code})" if error_code else "")
    detail = f"{message_sid} {shown}: " + ("kept" if kept else "not newer than the status already kept")
    detail += f"; recovery attempt {attempt.key}" if attempt is not None else "; no recovery attempt (yet)"
    if opted_out:
        detail += "; SMS consent revoked (21610)"
    return DeliveryRecorded(kept, attempt is not None, opted_out, detail)


def catch_up(
    connection: Connection, attempt: store.Attempt, plan: store.Plan, provider_id: str, now: datetime
) -> None:
    """When a sent text is recorded: act on a status callback that arrived before it."""
    store.lock_message(connection, provider_id)  # a callback being recorded now commits first
    found = store.sms_status(connection, provider_id)
    if found is not None:
        _on_attempt(connection, attempt, found.status, found.error_code, now, plan=plan)


def _on_attempt(
    connection: Connection,
    attempt: store.Attempt,
    status: str,
    error_code: str | None,
    now: datetime,
    *,
    plan: store.Plan | None = None,
) -> None:
    shown = status + (f", error {error_code}" if error_code else "")
    audit_attempt(
        connection,
        attempt,
        "delivery",
        now=now,
        actor=ACTOR,
        reason=f"sms_{status}",
        detail=f"Twilio: {shown}",
    )
    if status in NOT_DELIVERED:
        plan = plan or store.get_plan(connection, attempt.plan_id)
        detail = f"Twilio reported the text {status}" + (f" (error {error_code})" if error_code else "")
        note_result(
            connection,
            plan,
            attempt,
            "failed",
            f"sms_{status}",
            now=now,
            actor=ACTOR,
            detail=detail,
            seq=NOTE_SEQ,
        )
