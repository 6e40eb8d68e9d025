"""PostgreSQL engine settings a production operator sizes: pool per process, statement timeout."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from hub.settings import Settings
from hub.store.db import make_engine

pytestmark = pytest.mark.postgres


def test_a_statement_over_the_timeout_is_cancelled(postgres_url):
    engine = make_engine(postgres_url, statement_timeout_ms=200)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "200ms"
            with pytest.raises(OperationalError, match="statement timeout"):
                connection.execute(text("SELECT pg_sleep(2)"))
    finally:
        engine.dispose()


def test_the_pool_follows_the_settings(postgres_url):
    settings = Settings.from_env({"CTIHUB_DB_POOL_SIZE": "3", "CTIHUB_DB_MAX_OVERFLOW": "1"})
    engine = make_engine(postgres_url, **settings.engine_options())
    try:
        assert (engine.pool.size(), engine.pool._max_overflow) == (3, 1)  # type: ignore[attr-defined]
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
    finally:
        engine.dispose()
