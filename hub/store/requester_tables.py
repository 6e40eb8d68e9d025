"""The CRM requesters the hub adopted or made, per customer: shared by every process, surviving
restarts, and the claim that lets one worker at a time look a customer's user up or make it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, PrimaryKeyConstraint, String, Table

from hub.store.tables import UTCDateTime, metadata

crm_requesters = Table(
    "crm_requesters",
    metadata,
    Column("crm", String(20), nullable=False),
    Column("customer_key", String(40), nullable=False),
    Column("user_id", BigInteger),  # NULL while a worker holds the claim and looks it up
    Column("how", String(20)),  # adopted (found by phone) | created | given (platform's id)
    Column("claimed_by", String(64)),
    Column("claimed_until", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("crm", "customer_key"),
)
