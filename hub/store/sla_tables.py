"""The SLA area's tables: the history clocks are derived from, the derived clocks, and the actions taken.

``sla_events`` is the truth: one row per thing that happened to an episode (customer message, agent
reply or note, status change, merge), with the attributes policies match on and, once matched, the
policy snapshot in force from that event on (``applied``; ``assigned_at`` NULL = not matched yet).
``sla_clocks`` is a cache of the latest instance of each metric, rebuilt from the history whenever it
changes, so the scheduler can find what is due with one indexed query. ``sla_actions`` records each
warning and breach acted on, under a unique key, before the CRM is written. ``sla_field_writes``
keeps each case's mapped SLA fields in step with the clocks.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from hub.store.tables import BigId, UTCDateTime, metadata

sla_events = Table(
    "sla_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("episode_id", String(40), nullable=False),
    # customer_message | agent_reply | status_changed | merged
    Column("kind", String(20), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("public", Boolean, nullable=False),
    Column("status", String(16)),
    Column("merged_into", String(40)),
    Column("channel", String(32)),
    Column("intent", String(100)),
    Column("priority", String(16)),
    Column("crm", String(20)),
    Column("tier", String(64)),
    # What makes a redelivery the same event: the outcome's source:event_id, or a digest of the rest.
    Column("event_key", String(300), nullable=False, unique=True),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("applied", Text),  # AppliedPolicy.as_dict() as JSON; "null" when no policy matched
    Column("assigned_at", UTCDateTime()),
    Index("ix_sla_events_episode", "episode_id", "at"),
    Index("ix_sla_events_unassigned", "assigned_at"),
    Index("ix_sla_events_merged_into", "merged_into"),
)

sla_clocks = Table(
    "sla_clocks",
    metadata,
    Column("episode_id", String(40), nullable=False),
    Column("metric", String(40), nullable=False),
    Column("instance", Integer, nullable=False),
    Column("policy", String(200), nullable=False),
    Column("target_minutes", Float, nullable=False),
    Column("business_hours", Boolean, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime()),
    Column("due_at", UTCDateTime()),
    Column("warn_at", UTCDateTime()),
    Column("status", String(16), nullable=False),  # active | paused | fulfilled | breached
    Column("breached_at", UTCDateTime()),
    Column("computed_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("episode_id", "metric"),
    Index("ix_sla_clocks_due", "status", "due_at"),
    Index("ix_sla_clocks_warn", "status", "warn_at"),
    Index("ix_sla_clocks_computed", "computed_at"),  # the metrics rollup reads what changed since
)

sla_actions = Table(
    "sla_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("episode_id", String(40), nullable=False),
    Column("metric", String(40), nullable=False),
    Column("instance", Integer, nullable=False),
    Column("kind", String(10), nullable=False),  # warning | breach
    Column("key", String(40), nullable=False, unique=True),  # the CRM activity key: sla_ + 32 hex
    Column("due_at", UTCDateTime()),
    Column("breached_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_until", UTCDateTime()),
    Column("next_attempt_at", UTCDateTime()),
    Column("last_error", Text),
    Column("done_at", UTCDateTime()),
    Column("case_id", String(100)),
    Column("activity_id", String(100)),
    Index("uq_sla_actions_once", "episode_id", "metric", "instance", "kind", unique=True),
    Index("ix_sla_actions_pending", "done_at", "next_attempt_at"),
    Index("ix_sla_actions_kind", "kind"),  # /metrics counts actions by kind (an index-only count)
)

# The mapped SLA fields (due time, status) of each episode's case/ticket: what they should say
# (``wanted``, from the latest derivation) and what was last written there (by the link path, a
# warning/breach action, or the field sync), so a change reaches the CRM once. ``pending`` is
# wanted != written; a field sync claims pending rows like actions (``claimed_until``), under a token
# of its own (``claimed_by``): only the holder writes, finishes or retries the change.
sla_field_writes = Table(
    "sla_field_writes",
    metadata,
    Column("episode_id", String(40), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("wanted", Text, nullable=False),  # the fields as canonical JSON
    Column("wanted_at", UTCDateTime(), nullable=False),
    Column("written", Text),  # NULL: nothing written yet
    Column("written_at", UTCDateTime()),
    Column("written_by", String(10)),  # link | action | sync
    Column("case_id", String(100)),
    Column("pending", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),  # failed writes of this change
    Column("claimed_until", UTCDateTime()),
    Column("next_attempt_at", UTCDateTime()),
    Column("last_error", Text),
    Column("claimed_by", String(64)),  # the claim's token (one per claim); NULL: not claimed
    PrimaryKeyConstraint("episode_id", "crm"),
    Index("ix_sla_field_writes_pending", "pending", "next_attempt_at"),
)
