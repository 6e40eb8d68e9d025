"""Dedup tables: the per-episode case-creation claim, ambiguous identity matches, identifiers known
to be shared, the hub-side duplicate links, and the audit log of every repair action.

    case_claims          who creates the case/ticket of an episode (one row per episode and CRM)
    ambiguous_matches    an event whose identifiers could not name one customer; an agent chooses
    shared_identifiers   an identifier several people use (one phone on two CRM contacts): never joins
    dedup_links          a duplicate case/ticket and the master the hub treats as the case of record
    dedup_audit          every plan and action of ``ctihub dedup``: planned, applied, failed, undone
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, PrimaryKeyConstraint, String, Table, Text

from hub.store.tables import BigId, UTCDateTime, metadata

case_claims = Table(
    "case_claims",
    metadata,
    Column("episode_id", String(40), nullable=False),
    Column("crm", String(20), nullable=False),
    # creating: ``inbox_id``'s worker is creating the case until ``expires_at``; done: it is recorded
    # in episode_cases. Rows are kept: a claim that vanished could be won a second time.
    Column("state", String(12), nullable=False),
    Column("inbox_id", BigId),
    Column("owner", String(64)),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("takeovers", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("episode_id", "crm"),
)

ambiguous_matches = Table(
    "ambiguous_matches",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("event_ref", String(310), nullable=False, unique=True),  # source:event_id; once per event
    Column("inbox_id", BigId),
    # conflicting_customers | shared_identifier | name_only
    Column("reason", String(40), nullable=False),
    Column("identifiers", Text, nullable=False),  # JSON [{"kind", "value"}]
    Column("candidates", Text, nullable=False),  # JSON [customer key or CRM person ref]
    Column("assigned_key", String(40), nullable=False),  # the customer the event was given
    Column("at", UTCDateTime(), nullable=False),
    Column("resolved_key", String(40)),
    Column("resolved_at", UTCDateTime()),
    Index("ix_ambiguous_matches_open", "resolved_at", "at"),
)

shared_identifiers = Table(
    "shared_identifiers",
    metadata,
    Column("kind", String(64), nullable=False),
    Column("value", String(320), nullable=False),
    Column("candidates", Text, nullable=False),  # JSON [customer key or CRM person ref]
    Column("source", String(100), nullable=False),  # e.g. salesforce:Contact, zendesk:user
    Column("noted_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("kind", "value"),
)

dedup_links = Table(
    "dedup_links",
    metadata,
    Column("crm", String(20), nullable=False),
    Column("duplicate_id", String(100), nullable=False),
    Column("master_id", String(100), nullable=False),
    Column("plan_id", String(40), nullable=False, index=True),
    Column("linked_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("crm", "duplicate_id"),
)

dedup_audit = Table(
    "dedup_audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("plan_id", String(40), nullable=False),
    # planned | applied | failed | skipped | undone | undo_failed
    Column("state", String(16), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("customer_key", String(40), nullable=False),
    Column("intent_family", String(100), nullable=False),
    Column("policy", String(16), nullable=False),  # attach | link_only | merge
    Column("master_id", String(100), nullable=False),
    Column("duplicate_ids", Text, nullable=False),  # JSON list
    Column("irreversible", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", Text, nullable=False, server_default="{}"),  # JSON: what undo needs, job ids
    Column("actor", String(100)),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_dedup_audit_plan", "plan_id", "id"),
)
