"""Versioned admin configuration: every version of the document set, and the append-only audit log.

A version holds the whole set of admin documents (``intents.yaml``, ``fields.zendesk.yaml``, ...)
as one JSON object ``{file name: YAML text}``. At most one version is ``published`` (a partial unique
index guarantees it on both backends); publishing is a conditional update on the version it
replaces, so two admins publishing at once cannot both win.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, text

from hub.store.tables import BigId, UTCDateTime, metadata

config_versions = Table(
    "config_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # 1, 2, 3 ... (max + 1)
    Column("state", String(12), nullable=False),  # draft | published | superseded
    Column("documents", Text, nullable=False),  # JSON {name: YAML text}
    Column("based_on", Integer),  # the version this one was edited from (or rolled back to)
    Column("note", Text, nullable=False, server_default=""),
    Column("created_by", String(200), nullable=False),  # principal subject
    Column("created_by_name", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("published_by", String(200)),
    Column("published_at", UTCDateTime()),
    Index(
        "ix_config_versions_one_published",
        "state",
        unique=True,
        postgresql_where=text("state = 'published'"),
        sqlite_where=text("state = 'published'"),
    ),
)

config_audit = Table(
    "config_audit",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_name", String(200), nullable=False, server_default=""),
    Column("action", String(20), nullable=False),  # save-draft | publish | rollback | import | seed
    Column("version", Integer),
    Column("previous_version", Integer),
    Column("summary", Text, nullable=False, server_default=""),
)
