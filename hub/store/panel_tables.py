"""The agent panel's tables, and the indexes its reads need on other areas' tables.

``disposition_corrections``: every disposition an agent set or corrected from the panel, beside the
code the hub recorded for the event (``original_code``); the latest row of an event is in force. The
metrics area computes disposition accuracy from it, so its column names are fixed.

``panel_actions``: one row per agent action, keyed by the client's action id, so a double click or a
retried request does the action once and answers the same.

The indexes below serve the panel's reads, each keyed by what the panel's record leads to: the
hub's link to a CRM record, an episode's events, a customer's ambiguity and duplicate cases.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from hub.store.dedup_tables import ambiguous_matches, dedup_audit, dedup_links
from hub.store.tables import BigId, UTCDateTime, episode_cases, inbox, metadata

disposition_corrections = Table(
    "disposition_corrections",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("inbox_id", BigId, nullable=False),  # the event whose disposition was set or corrected
    Column("episode_id", String(40), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("record_id", String(100), nullable=False),  # the case/ticket it was written to
    Column("original_code", String(100)),  # what the hub recorded for the event (None: no code)
    Column("corrected_code", String(100), nullable=False),
    Column("corrected_by", String(200), nullable=False),  # the agent's Principal.subject
    Column("reason", Text),
    Column("corrected_at", UTCDateTime(), nullable=False),
    Index("ix_disposition_corrections_inbox", "inbox_id", "id"),
    Index("ix_disposition_corrections_episode", "episode_id", "id"),
)

panel_actions = Table(
    "panel_actions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("action_id", String(64), nullable=False, unique=True),  # chosen by the client, once per click
    # disposition | recovery_pause | recovery_resume | recovery_cancel | resolve
    Column("kind", String(20), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("record_id", String(100), nullable=False),
    Column("episode_id", String(40), nullable=False),
    Column("actor", String(200), nullable=False),  # Principal.subject
    Column("actor_name", String(200), nullable=False),
    Column("request", Text, nullable=False),  # JSON: what was asked (code, reason, ...)
    Column("status", String(12), nullable=False),  # started | done | failed
    Column("result", Text),  # JSON answered to the client once done
    Column("error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime()),
    Index("ix_panel_actions_episode", "episode_id", "id"),
)

# Reads of other areas' tables (created by migration 0012 as well).
Index("ix_episode_cases_record", episode_cases.c.crm, episode_cases.c.case_id)
Index("ix_inbox_episode", inbox.c.episode_id, inbox.c.id)
Index("ix_ambiguous_matches_assigned", ambiguous_matches.c.assigned_key)
Index("ix_dedup_links_master", dedup_links.c.crm, dedup_links.c.master_id)
Index("ix_dedup_audit_customer", dedup_audit.c.customer_key, dedup_audit.c.intent_family)
