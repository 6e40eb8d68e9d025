"""The same calls against PostgreSQL (a fresh database per test; skipped when the server is absent)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from adapters.sandbox import Sandbox

from .scenarios import (
    concurrent_salesforce_upserts,
    concurrent_zendesk_idempotent_creates,
    concurrent_zendesk_users,
    salesforce_round_trip,
    zendesk_round_trip,
)

pytestmark = pytest.mark.postgres


def test_sandbox_on_postgres(pg_engine: Engine) -> None:
    sb = Sandbox(pg_engine)
    sb.ensure_schema()
    sb.ensure_schema()  # idempotent
    salesforce_round_trip(sb)
    zendesk_round_trip(sb)
    concurrent_salesforce_upserts(sb)
    concurrent_zendesk_idempotent_creates(sb)
    concurrent_zendesk_users(sb)
    # Records live in the database: a second Sandbox on the same engine sees them.
    assert len(Sandbox(pg_engine).records("salesforce", "Case")) == 2
    sb.reset()
    assert sb.records("zendesk", "ticket") == []
