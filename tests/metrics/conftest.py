"""A hub on both databases with a fake CRM, and a way to tell it what customers did, when."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hub.bootstrap import Hub, build_hub
from hub.settings import Settings
from hub.store import deflection as deflection_store
from hub.store.tables import inbox
from tests.conftest import MAPPINGS
from tests.fakes import FakeCRM

TOKEN = "metrics-token"


def hub_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_secret": "secret",
        "api_token": TOKEN,
        "mappings_dir": MAPPINGS,
        "crm": "zendesk",
    }
    values.update(overrides)
    return Settings(**values)


class World:
    """Customers' contacts, linked by the real worker at the moment they happen."""

    def __init__(self, hub: Hub, clock: Any) -> None:
        self.hub, self.clock = hub, clock
        self.ids = itertools.count(1)

    def contact(
        self,
        who: str,
        at: datetime,
        *,
        channel: str,
        outcome: str,
        intent: str = "billing",
        linked_at: datetime | None = None,
        **extra: Any,
    ) -> str:
        """An event from customer ``who`` (a phone suffix) at ``at``, linked at ``linked_at`` (at
        once by default); returns its episode."""
        event_id = f"e{next(self.ids)}"
        event = {
            "event_id": event_id,
            "source": "test",
            "occurred_at": at.isoformat(),
            "channel": channel,
            "customer": {"phone": f"+1415555{who}"},
            "intent": intent,
            "outcome": outcome,
            **extra,
        }
        self.clock.set(linked_at or at)
        self.hub.ingest.accept(json.dumps(event).encode())
        assert self.hub.new_worker().drain() == 1
        with self.hub.engine.connect() as connection:
            row = connection.execute(
                select(inbox.c.episode_id, inbox.c.customer_key, inbox.c.status).where(
                    inbox.c.event_id == event_id
                )
            ).one()
        assert row.status == "linked"
        return row.episode_id

    def customer_key(self, who: str) -> str:
        with self.hub.engine.connect() as connection:
            return connection.execute(
                select(inbox.c.customer_key).where(inbox.c.payload.contains(f"+1415555{who}")).limit(1)
            ).scalar_one()

    def offer(self, at: datetime, *, customer_key: str | None, episode_id: str | None = None,
              channels: tuple[str, ...] = ("chat", "sms"), intent: str = "billing") -> str:  # fmt: skip
        jti = f"jti-{next(self.ids)}"
        with self.hub.engine.begin() as connection:
            deflection_store.record_decision(
                connection,
                deflection_store.DecisionRecord(
                    jti=jti,
                    decided_at=at,
                    intent=intent,
                    customer_key=customer_key,
                    episode_id=episode_id,
                    mode="deflect",
                    inputs={},
                    offers={
                        "offers": [{"rank": n + 1, "channel": c} for n, c in enumerate((*channels, "voice"))]
                    },
                    token_expires_at=at + timedelta(minutes=15),
                ),
            )
        return jti

    def rollup(self, at: datetime) -> Any:
        self.clock.set(at)
        return self.hub.deflection_rollup().tick()


@pytest.fixture
def world(engine, clock) -> Iterator[World]:
    hub = build_hub(hub_settings(), clock=clock, crm=FakeCRM(), engine=engine)
    yield World(hub, clock)
