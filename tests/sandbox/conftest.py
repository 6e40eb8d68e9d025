"""Fixtures: a sandbox on a fresh SQLite file, and the real clients pointed at it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import simple_salesforce
import zenpy
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from adapters.sandbox import SALESFORCE_INSTANCE_URL, Sandbox

PG_URL = os.environ.get("CTIHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: Any) -> None:
        self.moment += timedelta(**kwargs)


def sqlite_engine(path: str, *, hub_style: bool = True) -> Engine:
    """An engine configured as the hub's embedded default (WAL, BEGIN IMMEDIATE, busy timeout)."""
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})
    if hub_style:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(tmp_path: Any) -> Iterator[Engine]:
    eng = sqlite_engine(str(tmp_path / "hub.db"))
    yield eng
    eng.dispose()


@pytest.fixture
def sb(engine: Engine, clock: FakeClock) -> Sandbox:
    sandbox = Sandbox(engine, clock=clock)
    sandbox.ensure_schema()
    return sandbox


def salesforce_client(sandbox: Sandbox, version: str | None = None) -> simple_salesforce.Salesforce:
    kwargs: dict[str, Any] = {"version": version} if version else {}
    return simple_salesforce.Salesforce(
        instance_url=SALESFORCE_INSTANCE_URL, session_id="sandbox", session=sandbox.session(), **kwargs
    )


def zendesk_client(sandbox: Sandbox) -> zenpy.Zenpy:
    # zenpy 2.0.57 sleeps out a 429's Retry-After unless a budget is set: budget 1 makes it raise
    # RatelimitBudgetExceeded instead, so no test ever waits.
    return zenpy.Zenpy(
        subdomain="sandbox",
        email="agent@example.com",
        token="t",
        session=sandbox.session(),
        ratelimit_budget=1,
        disable_cache=True,
    )


@pytest.fixture
def sf(sb: Sandbox) -> simple_salesforce.Salesforce:
    return salesforce_client(sb)


@pytest.fixture
def zd(sb: Sandbox) -> zenpy.Zenpy:
    return zendesk_client(sb)


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    """A fresh PostgreSQL database, dropped afterwards; skipped when the server is unreachable."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"sandbox_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is not there
        admin.dispose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {exc}")
        pytest.skip(
            f"PostgreSQL at {PG_URL} is unreachable ({type(exc).__name__}); set CI=true to make this fail"
        )
    eng = create_engine(make_url(PG_URL).set(database=name), pool_size=10, max_overflow=10)
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
