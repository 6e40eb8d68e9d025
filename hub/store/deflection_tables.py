"""The deflection area's table: every decision ``POST /v1/deflection/offer`` made, so acceptance and
recontact can be measured later (an outcome that cites the decision's ``jti``)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from hub.store.tables import BigId, UTCDateTime, metadata

deflection_decisions = Table(
    "deflection_decisions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # The context token's ``jti``: what an outcome cites (metadata.deflection_id) to say it followed.
    Column("jti", String(64), nullable=False, unique=True),
    Column("decided_at", UTCDateTime(), nullable=False),
    Column("intent", String(100), nullable=False),
    Column("customer_key", String(40)),
    Column("episode_id", String(40)),
    Column("mode", String(20), nullable=False),  # escalate | chat_first | after_hours | deflect | voice_first
    Column("inputs", Text, nullable=False),  # JSON: what the rules saw (phone masked, never raw)
    Column(
        "offers", Text, nullable=False
    ),  # JSON: the ordered offers and the withheld channels, with reasons
    Column("token_expires_at", UTCDateTime(), nullable=False),
    Index("ix_deflection_decisions_customer", "customer_key", "decided_at"),
    Index("ix_deflection_decisions_episode", "episode_id"),
)
