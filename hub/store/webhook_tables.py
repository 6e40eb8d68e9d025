"""The channel webhooks' table: every delivery item as received, keyed by the provider's own id."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text, UniqueConstraint, text

from hub.store.tables import BigId, UTCDateTime, metadata

# One row per delivered item: a Twilio message, a Zendesk event, a Sunshine event, a Salesforce
# notification. UNIQUE (source, provider_id) makes a redelivery a no-op. The row is written and
# processed in one transaction, so "received" is never seen committed; "failed" rows are processed
# again when the provider redelivers them or when ``ChannelEvents.retry_failed`` runs.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("source", String(40), nullable=False),  # twilio-sms | zendesk | sunshine | salesforce-outbound
    Column("provider_id", String(200), nullable=False),
    Column("kind", String(100), nullable=False),  # sms, keyword:STOP, zen:event-type:ticket.merged, Case ...
    Column("received_at", UTCDateTime(), nullable=False),
    Column("headers", Text, nullable=False),  # JSON: the kept subset (never a secret)
    Column("body", Text, nullable=False),  # the raw body, or the item's own JSON in a multi-item request
    Column("event", Text, nullable=False),  # JSON of the canonical object, what processing reads
    # received -> processed | ignored | unmatched | failed
    Column("status", String(16), nullable=False),
    Column("detail", Text),  # what processing did, or why it did nothing, or the error
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("processed_at", UTCDateTime()),
    Column("purged_at", UTCDateTime()),  # when body, headers and event were erased (docs/retention.md)
    UniqueConstraint("source", "provider_id"),
    Index("ix_webhook_deliveries_status", "status", "received_at"),
    Index(
        "ix_webhook_deliveries_unpurged",
        "received_at",
        sqlite_where=text("purged_at IS NULL"),
        postgresql_where=text("purged_at IS NULL"),
    ),
)
