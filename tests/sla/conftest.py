"""SLA fixtures: the shipped policies, a service on a fake CRM, episodes seeded into the store."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from hub.domain.outcome import Outcome
from hub.domain.sla import SlaConfig
from hub.mappings import load_mappings
from hub.services import sla as sla_service
from hub.services.clock import FixedClock
from hub.services.sla import SlaService
from hub.store.tables import customers, episode_cases, episodes
from tests.conftest import MAPPINGS
from tests.fakes import FakeCRM

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.fixture(scope="session")
def shipped_sla() -> SlaConfig:
    config = load_mappings(MAPPINGS).sla
    assert config is not None
    return config


@pytest.fixture
def crm() -> FakeCRM:
    return FakeCRM()


@pytest.fixture
def sla_clock() -> FixedClock:
    return FixedClock(ny(2026, 11, 23, 9, 0))  # a Monday, New York time


@pytest.fixture
def service(engine: Engine, shipped_sla: SlaConfig, sla_clock: FixedClock, crm: FakeCRM) -> SlaService:
    return SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=crm)


def seed_episode(
    engine: Engine, episode_id: str, opened_at: datetime, *, case_id: str | None = None, crm: str = "zendesk"
) -> None:
    """An episode (and optionally its case) as the link worker would have left it."""
    with engine.begin() as connection:
        key = f"cust-{episode_id}"
        connection.execute(customers.insert().values(key=key, name="Jane", created_at=opened_at))
        connection.execute(
            episodes.insert().values(
                id=episode_id,
                customer_key=key,
                intent_family="billing",
                intent="billing",
                status="open",
                opened_at=opened_at,
                last_event_at=opened_at,
                closes_at=opened_at + timedelta(hours=72),
            )
        )
    if case_id is not None:
        link_case(engine, episode_id, case_id, crm=crm, at=opened_at)


def link_case(engine: Engine, episode_id: str, case_id: str, *, crm: str = "zendesk", at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            episode_cases.insert().values(
                episode_id=episode_id,
                crm=crm,
                object="ticket",
                case_id=case_id,
                created_by_hub=True,
                linked_at=at,
            )
        )


def contact(
    engine: Engine,
    episode_id: str,
    at: datetime,
    *,
    event_id: str | None = None,
    crm: str = "zendesk",
    **fields: Any,
) -> None:
    """Record a customer contact the way the link worker does."""
    payload: dict[str, Any] = {
        "event_id": event_id or f"{episode_id}-{at.isoformat()}",
        "source": "web-chat",
        "occurred_at": at.isoformat(),
        "channel": "chat",
        "customer": {"phone": "+14155550100"},
        "intent": "billing",
        "outcome": "failed",
    }
    payload.update(fields)
    with engine.begin() as connection:
        sla_service.record_outcome(connection, episode_id, Outcome.from_payload(payload), crm=crm, now=at)
