"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), a fixed clock, the app."""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from hub.domain.redaction import SECRET_MASK
from hub.logs import REDACTOR, RedactingFilter
from hub.services.clock import FixedClock
from hub.store import migrate
from hub.store.db import make_engine
from hub.store.schema import metadata

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MAPPINGS = PROJECT_ROOT / "mappings"
POSTGRES_ADMIN_URL = os.environ.get(
    "CTIHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, dropped at the end of the session.

    Skips when the server is unreachable, except in CI (CI=true), where that is a failure.
    """
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"ctihub_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL is unreachable at {POSTGRES_ADMIN_URL} and CI=true: {exc}")
        pytest.skip(
            f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL} (set CTIHUB_TEST_POSTGRES_URL); skipping"
        )
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The same repository tests run on both backends."""
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_engine")
        return
    engine = request.getfixturevalue("postgres_engine")
    _truncate(engine)
    yield engine
    _truncate(engine)


# --- no personal data in logs ---------------------------------------------------------------------

# Independent of the masking patterns in hub.domain.redaction: what a leak looks like.
LEAK_PATTERNS = {
    "phone": re.compile(r"\+\d{10,15}|%2[Bb]\d{8,15}|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b|\b\d{10,15}\b"),
    "email": re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}"),
}
# The secrets the suite configures (and whatever a built hub registered as a secret).
TEST_SECRETS = (
    "test-webhook-secret-0123456789abcdef",
    "test-api-token",
    "acme-consumer-secret-6A1F",
    "00DAcme!first-minted-token",
    "00DAcme!second-minted-token",
    "00DAcme!sf-session-secret",
    "zd-api-token-secret",
    "twilio-auth-token",
    "zendesk-signing-secret",
    "sunshine-webhook-secret",
    "outbound-token",
)


class LeakCapture(logging.Handler):
    """Every record, as a production handler would write it (through the RedactingFilter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.mask: logging.Filter | None = RedactingFilter()
        self.texts: list[str] = []
        self.line = logging.Formatter("%(levelname)s %(name)s: %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        copy = logging.makeLogRecord(record.__dict__)
        if self.mask is not None:
            self.mask.filter(copy)
        self.texts.append(self.line.format(copy))

    def leaks(self) -> list[str]:
        secrets = set(TEST_SECRETS) | set(REDACTOR.secrets)
        found = []
        for line in self.texts:
            line = line.replace(SECRET_MASK, "")
            for kind, pattern in LEAK_PATTERNS.items():
                found += [f"{kind} {match!r} in: {line[:300]}" for match in pattern.findall(line)]
            found += [f"secret {s[:4]}... in: {line[:300]}" for s in secrets if s in line]
        return found


@pytest.fixture(autouse=True)
def no_personal_data_in_logs() -> Iterator[LeakCapture]:
    """Runs every test with logging captured at DEBUG; fails it on an unmasked phone, email or secret."""
    capture = LeakCapture()
    root = logging.getLogger()
    quiet = logging.getLogger("sqlalchemy")  # statement echo: off in production too (hub.logs)
    levels = (root.level, quiet.level)
    root.handlers.insert(0, capture)  # first: it sees each record before any handler's filter runs
    root.setLevel(logging.DEBUG)
    quiet.setLevel(logging.WARNING)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(levels[0])
        quiet.setLevel(levels[1])
    leaks = capture.leaks()
    if leaks:
        pytest.fail(f"{len(leaks)} unmasked value(s) in the logs:\n" + "\n".join(leaks[:10]))
