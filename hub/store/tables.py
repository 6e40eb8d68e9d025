"""The hub's tables. The inbox row is the truth for every event; links record what the CRM holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on every backend; always returned timezone-aware (UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


inbox = Table(
    "inbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
    # pending -> processing -> linked | failed (retry scheduled) | dead (gave up; see last_error)
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    Column("last_error", Text),
    Column("customer_key", String(40)),
    Column("episode_id", String(40)),
    Column("disposition", String(100)),
    Column("linked_at", UTCDateTime()),
    # when the payload was cut down to what links and metrics need (docs/retention.md)
    Column("purged_at", UTCDateTime()),
    Column("config_version", Integer),  # the admin configuration version it was linked with
    UniqueConstraint("source", "event_id"),
    Index("ix_inbox_due", "status", "next_attempt_at"),
    Index("ix_inbox_linked_at", "linked_at"),  # the metrics rollup reads what was linked since
    Index(
        "ix_inbox_unpurged",
        "received_at",
        sqlite_where=text("purged_at IS NULL"),
        postgresql_where=text("purged_at IS NULL"),
    ),
)

customers = Table(
    "customers",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("name", String(200)),
    Column("created_at", UTCDateTime(), nullable=False),
)

customer_identifiers = Table(
    "customer_identifiers",
    metadata,
    Column("kind", String(64), nullable=False),
    Column("value", String(320), nullable=False),
    Column("raw", String(320), nullable=False),
    Column("valid", Boolean, nullable=False),
    Column("customer_key", String(40), ForeignKey("customers.key"), nullable=False, index=True),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    # carrier | platform | verified | asserted (hub.domain.identity): an asserted row joins no one,
    # and a proven claim of the same identifier takes it over
    Column("proof", String(16), nullable=False, server_default="verified"),
    PrimaryKeyConstraint("kind", "value"),
)

episodes = Table(
    "episodes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("customer_key", String(40), ForeignKey("customers.key"), nullable=False),
    Column("intent_family", String(100), nullable=False),
    Column("intent", String(100), nullable=False),
    Column("status", String(16), nullable=False),  # open | closed
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("last_event_at", UTCDateTime(), nullable=False),
    Column("closes_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime()),
    Column("closed_reason", String(40)),
    # One open episode per customer and intent family: the database, not a lock, decides the race.
    Index(
        "uq_episodes_open",
        "customer_key",
        "intent_family",
        unique=True,
        sqlite_where=text("status = 'open'"),
        postgresql_where=text("status = 'open'"),
    ),
    Index("ix_episodes_customer", "customer_key", "opened_at"),
)

episode_cases = Table(
    "episode_cases",
    metadata,
    Column("episode_id", String(40), ForeignKey("episodes.id"), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("object", String(40), nullable=False),
    Column("case_id", String(100), nullable=False),
    Column("created_by_hub", Boolean, nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("episode_id", "crm"),
)

event_links = Table(
    "event_links",
    metadata,
    Column("inbox_id", BigId, ForeignKey("inbox.id"), nullable=False),
    Column("crm", String(20), nullable=False),
    Column("case_object", String(40), nullable=False),
    Column("case_id", String(100), nullable=False),
    Column("case_created", Boolean, nullable=False),
    Column("activity_object", String(40), nullable=False),
    Column("activity_id", String(100), nullable=False),
    Column("activity_created", Boolean, nullable=False),
    Column("linked_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("inbox_id", "crm"),
)

consent_ledger = Table(
    "consent_ledger",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(10), nullable=False),  # sms | voice | email
    Column("address", String(320), nullable=False),  # E.164 phone or case-folded email
    Column("customer_key", String(40)),
    Column("granted", Boolean, nullable=False),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("source", String(100), nullable=False),
    Column("evidence", Text),
    # The provider's own id for the decision (a Twilio MessageSid, source:event_id:channel): a
    # redelivered webhook or a replayed event records nothing twice.
    Column("source_ref", String(300), unique=True),
    Index("ix_consent_ledger_lookup", "channel", "address", "decided_at"),
)
