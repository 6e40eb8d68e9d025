"""The recovery area's tables: what started each recovery, each attempt, the trail, and the CRM notes.

``recovery_sms_status`` holds Twilio's delivery status of each text (status callbacks).

``recovery_plans`` holds one row per recovery-eligible outcome (failed, abandoned, no response),
written by the link worker in the transaction that records the link: the truth a plan is derived
from, so a plan is never lost. ``status`` recorded -> active (the policy's steps are snapshotted in
``steps``) -> done | cancelled | exhausted | unmatched (no policy).

``recovery_attempts`` holds the attempts, one step at a time: the next step is inserted in the
transaction that finishes the previous one, so at most one attempt of an episode is live
(``uq_recovery_attempts_live``: pending or claimed). The tick claims due attempts through
``ix_recovery_attempts_due`` (partial: pending only), so its cost follows the attempts due, not the
attempts stored; expired claims are found through ``ix_recovery_attempts_claimed``. ``touched_at``
is when an attempt counted as a touch of the customer (its rolling caps read
``ix_recovery_attempts_touches``).

``recovery_episodes`` keeps what the guards ask of an episode: the customer's latest contact (so
"came back on their own" holds whatever order events arrive in), resolution and closing.
``recovery_customers`` holds one row per customer with a plan: the claim locks it (``FOR UPDATE``,
in key order) so two processes never both pass a customer's cap. ``recovery_audit`` is the trail:
every planning, claim, guard evaluation and result. ``recovery_writebacks`` is the outbox of CRM
notes (result, disposition code, guards), written in the transaction that decided the result.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, text

from hub.store.tables import BigId, UTCDateTime, metadata

recovery_plans = Table(
    "recovery_plans",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("trigger_key", String(40), nullable=False, unique=True),  # rt_ + 32 hex of source, event_id
    Column("episode_id", String(40), nullable=False),
    Column("customer_key", String(40), nullable=False),
    Column("source", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("intent", String(100), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("phone", String(40)),  # E.164, when the event carried a valid one
    Column("email", String(320)),
    Column("postal_state", String(10)),
    Column("customer_name", String(200)),
    Column("external_ids", Text),  # JSON: the event's customer.external_ids (CRM contact ids)
    # recorded | active | done | cancelled | exhausted | unmatched
    Column("status", String(16), nullable=False),
    Column("policy", String(200)),
    Column("purpose", String(16)),
    Column("steps", Text),  # JSON snapshot of the policy when planned
    Column("next_step", Integer, nullable=False, server_default="0"),
    Column("expires_at", UTCDateTime()),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("planned_at", UTCDateTime()),
    Column("closed_at", UTCDateTime()),
    Column("close_reason", String(40)),
    Index("ix_recovery_plans_episode", "episode_id", "status"),
    Index(
        "ix_recovery_plans_recorded",
        "id",
        sqlite_where=text("status = 'recorded'"),
        postgresql_where=text("status = 'recorded'"),
    ),
)

recovery_attempts = Table(
    "recovery_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False, unique=True),  # rc_ + 32 hex: the CRM activity key
    Column("plan_id", BigId, nullable=False),
    Column("episode_id", String(40), nullable=False),
    Column("customer_key", String(40), nullable=False),
    Column("step", Integer, nullable=False),  # 0-based index into the plan's steps
    Column("action", String(16), nullable=False),  # sms | callback | email
    Column("channel", String(10), nullable=False),  # sms | voice | email (the consent channel)
    Column("address", String(320)),  # the phone or email the attempt goes to
    Column("planned_for", UTCDateTime(), nullable=False),  # the failure + the step's delay
    Column("due_at", UTCDateTime(), nullable=False),  # when to claim it (moved when rescheduled)
    # pending -> claimed -> sent | blocked | cancelled | failed (and claimed -> pending to retry)
    Column("status", String(16), nullable=False),
    Column("reason", String(60)),
    Column("detail", Text),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    Column("claims", Integer, nullable=False, server_default="0"),
    Column("reschedules", Integer, nullable=False, server_default="0"),
    Column("send_started", Boolean, nullable=False, server_default=text("false")),
    Column("touched_at", UTCDateTime()),  # counted as a touch of the customer from then on
    Column("finished_at", UTCDateTime()),
    Column("provider_id", String(100)),
    Column("case_id", String(100)),
    Column("activity_id", String(100)),
    Column("guards", Text),  # JSON: the last evaluation's checks
    Column("created_at", UTCDateTime(), nullable=False),
    # /metrics counts attempts by status and blocks by reason: index-only, no table scan
    Index("ix_recovery_attempts_status_reason", "status", "reason"),
    Index(
        "uq_recovery_attempts_live",
        "episode_id",
        unique=True,
        sqlite_where=text("status IN ('pending', 'claimed')"),
        postgresql_where=text("status IN ('pending', 'claimed')"),
    ),
    Index(
        "ix_recovery_attempts_due",
        "due_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(
        "ix_recovery_attempts_claimed",
        "lease_until",
        sqlite_where=text("status = 'claimed'"),
        postgresql_where=text("status = 'claimed'"),
    ),
    Index("ix_recovery_attempts_status", "status", "due_at"),
    Index("ix_recovery_attempts_episode", "episode_id", "status"),
    Index("ix_recovery_attempts_touches", "customer_key", "touched_at"),
    Index("ix_recovery_attempts_plan", "plan_id", "step"),
    Index("ix_recovery_attempts_provider", "provider_id"),  # a delivery status finds its attempt
)

recovery_sms_status = Table(
    "recovery_sms_status",
    metadata,
    # Twilio's delivery status of each text, by its MessageSid (an attempt's ``provider_id``): kept by
    # message, not by attempt, because a status callback can arrive before the tick that sent the text
    # has recorded its MessageSid. Statuses only move forward (``rank``): a late "sent" never
    # overwrites "delivered".
    Column("message_sid", String(64), primary_key=True),
    Column("status", String(20), nullable=False),  # queued | sending | sent | delivered | undelivered | ...
    Column("rank", Integer, nullable=False),
    Column("error_code", String(10)),  # Twilio's ErrorCode (e.g. 30003, 21610)
    Column("first_at", UTCDateTime(), nullable=False),  # the first callback
    Column("updated_at", UTCDateTime(), nullable=False),  # when the status in force arrived
)

recovery_customers = Table(
    "recovery_customers",
    metadata,
    Column("customer_key", String(40), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

recovery_episodes = Table(
    "recovery_episodes",
    metadata,
    Column("episode_id", String(40), primary_key=True),
    Column("last_contact_at", UTCDateTime()),  # the customer's latest contact, on any channel
    Column("resolved_at", UTCDateTime()),  # a "resolved" outcome
    Column("closed_at", UTCDateTime()),  # the case/ticket was solved, closed or merged
    Column("closed_reason", String(40)),
)

recovery_audit = Table(
    "recovery_audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("plan_id", BigId, nullable=False),
    Column("attempt_id", BigId),
    Column("episode_id", String(40), nullable=False),
    # recorded | planned | unmatched | claimed | rescheduled | blocked | cancelled | sent | failed |
    # retry | superseded | written_back
    Column("event", String(20), nullable=False),
    Column("reason", String(60)),
    Column("detail", Text),
    Column("guards", Text),  # JSON list of {guard, passed, detail, reason}
    Column("actor", String(64)),  # the process that did it
    Index("ix_recovery_audit_attempt", "attempt_id", "id"),
    Index("ix_recovery_audit_episode", "episode_id", "id"),
)

recovery_writebacks = Table(
    "recovery_writebacks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("key", String(40), nullable=False, unique=True),  # rc_ + 32 hex: the CRM activity key
    Column("attempt_id", BigId, nullable=False),
    Column("episode_id", String(40), nullable=False),
    Column("result", String(20), nullable=False),  # sent | blocked | rescheduled | failed | cancelled
    Column("disposition", String(100), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(12), nullable=False),  # pending | done | failed
    Column("tries", Integer, nullable=False, server_default="0"),
    Column("due_at", UTCDateTime(), nullable=False),
    Column("lease_until", UTCDateTime()),
    Column("last_error", Text),
    Column("case_id", String(100)),
    Column("activity_id", String(100)),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime()),
    Index(
        "ix_recovery_writebacks_due",
        "due_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index("ix_recovery_writebacks_attempt", "attempt_id"),
)
