"""The episode claim under interleaved transactions: a read that is stale by the time of the write.

Each test runs connection A's claim up to its read of the open episode, then lets connection B
commit (another worker extending the episode, or a webhook closing it), then lets A write. On
PostgreSQL these are two real connections with their own transactions; SQLite serializes writers
(``BEGIN IMMEDIATE``), so there B cannot commit inside A's transaction and A is handed the stale
read directly, which is what a deferred reader could have seen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, select, update

from hub.store import customers, episodes
from hub.store.tables import episodes as episodes_table

T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
KEY = "cus_race"


def _claim(connection: Connection, at: datetime, new_id: str) -> tuple[episodes.Episode, bool]:
    return episodes.claim_episode(
        connection,
        customer_key=KEY,
        family="billing",
        intent="billing_question",
        occurred_at=at,
        window=WINDOW,
        new_id=new_id,
        now=at,
    )


def _setup(engine: Engine) -> None:
    with engine.begin() as connection:
        customers.resolve_customer(connection, [], name=None, fallback_key=KEY, now=T0)
        _claim(connection, T0, "ep_first")  # closes at T0 + 72 h


def _row(engine: Engine, episode_id: str) -> dict:
    with engine.connect() as connection:
        return dict(
            connection.execute(select(episodes_table).where(episodes_table.c.id == episode_id)).one()._mapping
        )


def _between_read_and_write(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, other: Callable[[Connection], None]
) -> None:
    """Make the next claim's first read return what it reads, then run ``other`` in a second
    connection and commit it, before the claim writes (on SQLite: hand back the read from before)."""
    real = episodes.open_episode
    calls = {"n": 0}

    def read_then_interleave(connection: Connection, customer_key: str, family: str):
        calls["n"] += 1
        if calls["n"] > 1:
            return real(connection, customer_key, family)
        if engine.dialect.name == "postgresql":
            seen = real(connection, customer_key, family)
            with engine.begin() as second:
                other(second)
            return seen
        seen = real(connection, customer_key, family)  # SQLite: read, then B's change, then A writes
        other(connection)
        return seen

    monkeypatch.setattr(episodes, "open_episode", read_then_interleave)


def test_a_racing_extension_is_never_moved_backwards(engine, monkeypatch):
    _setup(engine)
    far = T0 + timedelta(hours=60)  # B: an event at +60 h extends the window to +132 h

    def other_worker(connection: Connection) -> None:
        joined, created = _claim(connection, far, "ep_b")
        assert (joined.id, created) == ("ep_first", False)

    _between_read_and_write(monkeypatch, engine, other_worker)
    with engine.begin() as connection:  # A: an event at +1 h read closes_at = +72 h
        episode, created = _claim(connection, T0 + timedelta(hours=1), "ep_a")
    assert (episode.id, created) == ("ep_first", False)
    row = _row(engine, "ep_first")
    assert row["closes_at"] == far + WINDOW
    assert row["last_event_at"] == far
    assert episode.closes_at == far + WINDOW  # what A returns is what the row holds


def test_an_event_never_joins_an_episode_a_webhook_just_closed(engine, monkeypatch):
    _setup(engine)

    def webhook_closes(connection: Connection) -> None:
        connection.execute(
            update(episodes_table)
            .where(episodes_table.c.id == "ep_first")
            .values(status="closed", closed_at=T0, closed_reason="crm_closed")
        )

    _between_read_and_write(monkeypatch, engine, webhook_closes)
    with engine.begin() as connection:
        episode, created = _claim(connection, T0 + timedelta(hours=1), "ep_a")
    assert (episode.id, created) == ("ep_a", True)
    first = _row(engine, "ep_first")
    assert (first["status"], first["closed_reason"]) == ("closed", "crm_closed")
    assert first["closes_at"] == T0 + WINDOW  # untouched by A
    assert _row(engine, "ep_a")["status"] == "open"


def test_an_elapsed_episode_extended_meanwhile_is_joined_not_closed(engine, monkeypatch):
    _setup(engine)
    late = T0 + WINDOW + timedelta(hours=1)  # after the window A read

    def other_worker(connection: Connection) -> None:
        connection.execute(
            update(episodes_table)
            .where(episodes_table.c.id == "ep_first")
            .values(closes_at=late + WINDOW, last_event_at=late)
        )

    _between_read_and_write(monkeypatch, engine, other_worker)
    with engine.begin() as connection:
        episode, created = _claim(connection, late, "ep_a")
    assert (episode.id, created) == ("ep_first", False)
    assert _row(engine, "ep_first")["status"] == "open"
