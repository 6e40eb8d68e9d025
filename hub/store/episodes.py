"""Episodes: one customer, one intent family, one open window. The unique index decides races."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.exc import IntegrityError

from hub.store.tables import episodes


@dataclass(frozen=True)
class Episode:
    id: str
    customer_key: str
    intent_family: str
    intent: str
    status: str
    opened_at: datetime
    last_event_at: datetime
    closes_at: datetime


def _open_episode(connection: Connection, customer_key: str, family: str) -> Episode | None:
    row = connection.execute(
        select(episodes).where(
            and_(
                episodes.c.customer_key == customer_key,
                episodes.c.intent_family == family,
                episodes.c.status == "open",
            )
        )
    ).first()
    return Episode(**{k: row._mapping[k] for k in Episode.__dataclass_fields__}) if row else None


def claim_episode(
    connection: Connection,
    *,
    customer_key: str,
    family: str,
    intent: str,
    occurred_at: datetime,
    window: timedelta,
    new_id: str,
    now: datetime,
) -> tuple[Episode, bool]:
    """The open episode this event belongs to, or a new one; returns (episode, created).

    An open episode whose window ended before the event is closed first. Two workers creating the
    same episode at once collide on ``uq_episodes_open``: the loser rolls back its savepoint and
    joins the winner's episode.
    """
    for _ in range(3):
        current = _open_episode(connection, customer_key, family)
        if current is not None and occurred_at <= current.closes_at:
            closes_at = max(current.closes_at, occurred_at + window)
            last = max(current.last_event_at, occurred_at)
            connection.execute(
                update(episodes)
                .where(episodes.c.id == current.id)
                .values(closes_at=closes_at, last_event_at=last)
            )
            return Episode(**{**current.__dict__, "closes_at": closes_at, "last_event_at": last}), False
        if current is not None:
            connection.execute(
                update(episodes)
                .where(and_(episodes.c.id == current.id, episodes.c.status == "open"))
                .values(status="closed", closed_at=now, closed_reason="window_elapsed")
            )
        episode = Episode(
            id=new_id,
            customer_key=customer_key,
            intent_family=family,
            intent=intent,
            status="open",
            opened_at=occurred_at,
            last_event_at=occurred_at,
            closes_at=occurred_at + window,
        )
        savepoint = connection.begin_nested()
        try:
            connection.execute(episodes.insert().values(**episode.__dict__))
            savepoint.commit()
            return episode, True
        except IntegrityError:
            savepoint.rollback()
    raise RuntimeError(f"could not claim an episode for {customer_key}/{family} after 3 tries")


def get_episode(connection: Connection, episode_id: str) -> Episode | None:
    row = connection.execute(select(episodes).where(episodes.c.id == episode_id)).first()
    return Episode(**{k: row._mapping[k] for k in Episode.__dataclass_fields__}) if row else None


def close_elapsed(connection: Connection, now: datetime) -> int:
    """Close open episodes whose window has passed; returns how many were closed."""
    result = connection.execute(
        update(episodes)
        .where(and_(episodes.c.status == "open", episodes.c.closes_at < now))
        .values(status="closed", closed_at=now, closed_reason="window_elapsed")
    )
    return result.rowcount or 0
