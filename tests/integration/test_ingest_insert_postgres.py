"""The ingest's one insert on PostgreSQL runs in autocommit (one round trip), is committed when it
returns, and leaves the pooled connection as it found it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text

from hub.store import inbox, migrate
from hub.store.db import make_engine
from hub.store.tables import inbox as inbox_table

NOW = datetime(2026, 12, 7, 2, 40, tzinfo=UTC)


@pytest.fixture
def one_connection(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)  # every use gets the same one
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(inbox_table.delete())
    yield engine
    engine.dispose()


def count(engine: Engine) -> int:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with other.connect() as connection:  # another session sees only what was committed
            return connection.execute(select(func.count()).select_from(inbox_table)).scalar_one()
    finally:
        other.dispose()


def test_an_accepted_event_is_committed_and_the_pooled_connection_is_transactional_again(
    one_connection: Engine,
) -> None:
    assert inbox.accept_event(one_connection, source="s", event_id="e1", payload="{}", now=NOW) is True
    assert inbox.accept_event(one_connection, source="s", event_id="e1", payload="{}", now=NOW) is False
    assert count(one_connection) == 1

    raw = one_connection.raw_connection()
    try:
        assert raw.dbapi_connection.autocommit is False
    finally:
        raw.close()
    with pytest.raises(RuntimeError), one_connection.begin() as connection:  # the same connection
        connection.execute(
            text(
                "INSERT INTO inbox (source, event_id, payload, received_at, next_attempt_at, status, "
                "attempts) VALUES ('s', 'e2', '{}', now(), now(), 'pending', 0)"
            )
        )
        raise RuntimeError("rolled back")
    assert count(one_connection) == 1  # the rollback undid it: not in autocommit any more
