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
    query = (
        select(func.count(func.distinct(corrections.inbox_id)))
        .select_from(disposition_corrections.join(metric_inquiries, i.episode_id == corrections.episode_id))
        .where(i.day >= first, i.day <= last)
        .where(corrections.original_code.is_distinct_from(corrections.corrected_code))  # not a re-save
    )
    if channel:
        query = query.where(i.channel == channel)
    if intent:
        query = query.where(i.intent == intent)
    return int(connection.execute(query).scalar_one())
