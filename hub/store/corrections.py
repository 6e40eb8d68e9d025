"""Disposition corrections made by agents in the panel (``disposition_corrections``, owned by the
panel), as the deflection metrics read them."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from hub.store.metrics_tables import metric_inquiries
from hub.store.panel_tables import disposition_corrections


def corrected_activities(
    connection: Connection, first: str, last: str, *, channel: str | None = None, intent: str | None = None
) -> int:
    """Activities (events) of the inquiries first contacted in [first, last] whose disposition an
    agent corrected, each counted once however often it was corrected."""
    corrections, i = disposition_corrections.c, metric_inquiries.c
    # Driven from the corrections (few) into the inquiries by primary key, never the other way.
    inquiry = select(i.episode_id).where(
        i.episode_id == corrections.episode_id, i.day >= first, i.day <= last
    )
    if channel:
        inquiry = inquiry.where(i.channel == channel)
    if intent:
        inquiry = inquiry.where(i.intent == intent)
    query = select(func.count(func.distinct(corrections.inbox_id))).where(
        inquiry.exists(),
        corrections.original_code.is_distinct_from(corrections.corrected_code),  # not a re-save
    )
    return int(connection.execute(query).scalar_one())
