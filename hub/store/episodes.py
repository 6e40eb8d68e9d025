"""Episodes: one customer, one intent family, one open window. The unique index decides races."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, case, select, update
from sqlalchemy.exc import IntegrityError

from hub.store.tables import episodes

CLAIM_ROUNDS = 5  # each lost round is a commit by another worker in between; 5 is plenty


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


def open_episode(connection: Connection, customer_key: str, family: str) -> Episode | None:
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

    Race-proof without a lock held across the read. What was read only picks the candidate; every
    write is conditional on the row as it is when written (PostgreSQL re-checks the WHERE clause
    against the latest committed row once it holds the row lock):

    - joining extends the episode with ``closes_at``/``last_event_at`` moved forward only, and only
      while it is still open and its window still covers the event. A racing worker can never move
      ``closes_at`` backwards, and an event never lands in an episode a webhook has just closed: the
      update then touches nothing and the claim starts over (and opens a new episode);
    - an open episode whose window ended before the event is closed, unless another worker extended
      it meanwhile (then the next round joins it);
    - two workers creating the same episode collide on ``uq_episodes_open``: the loser rolls back
      its savepoint and joins the winner's episode.
    """
    for _ in range(CLAIM_ROUNDS):
        current = open_episode(connection, customer_key, family)
        if current is not None and occurred_at <= current.closes_at:
            joined = _extend(connection, current, occurred_at, occurred_at + window)
            if joined is not None:
                return joined, False
            continue  # closed (or, impossibly, shortened) since the read: look again
        if current is not None:
            connection.execute(
                update(episodes)
                .where(
                    and_(
                        episodes.c.id == current.id,
                        episodes.c.status == "open",
                        episodes.c.closes_at < occurred_at,
                    )
                )
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
    raise RuntimeError(f"could not claim an episode for {customer_key}/{family} after {CLAIM_ROUNDS} tries")


def _extend(
    connection: Connection, current: Episode, occurred_at: datetime, closes_at: datetime
) -> Episode | None:
    """Join ``current`` if it is still open and covers ``occurred_at``: move its window end and last
    event forward (never backwards) in one conditional statement. None when it no longer qualifies."""
    row = connection.execute(
        update(episodes)
        .where(
            and_(
                episodes.c.id == current.id,
                episodes.c.status == "open",
                episodes.c.closes_at >= occurred_at,
            )
        )
        .values(
            closes_at=case((episodes.c.closes_at < closes_at, closes_at), else_=episodes.c.closes_at),
            last_event_at=case(
                (episodes.c.last_event_at < occurred_at, occurred_at), else_=episodes.c.last_event_at
            ),
        )
        .returning(*(episodes.c[name] for name in Episode.__dataclass_fields__))
    ).first()
    return Episode(**row._mapping) if row is not None else None


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
