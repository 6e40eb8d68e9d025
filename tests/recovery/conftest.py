"""Recovery fixtures: the real link path and recovery engine on a fake CRM and a recording SMS sender."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from hub.domain.consent import ConsentDecision
from hub.domain.errors import OutreachError
from hub.domain.recovery import RecoveryConfig
from hub.mappings import Mappings, load_mappings
from hub.mappings.recovery import load_recovery_config
from hub.ports import SmsMessage, SmsReceipt
from hub.services.clock import FixedClock
from hub.services.link import Linker
from hub.services.recovery import RecoveryService
from hub.services.worker import Worker
from hub.store import consent, inbox
from hub.store import recovery as store
from tests.conftest import MAPPINGS, T0
from tests.fakes import FakeCRM

NY_PHONE = "+12125550100"  # America/New_York; T0 (15:00Z Monday) is 10:00 there


@dataclass
class FakeSender:
    """An ``SmsSender`` that records what it sends; ``fail_next`` raises once each."""

    name: str = "fake"
    sent: list[SmsMessage] = field(default_factory=list)
    fail_next: list[OutreachError] = field(default_factory=list)
    lookups: int = 0
    while_sending: list = field(default_factory=list)  # callables run as each message is sent

    def send(self, message: SmsMessage) -> SmsReceipt:
        for hook in self.while_sending:
            hook()
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.sent.append(message)
        return SmsReceipt(provider=self.name, id=f"SM{len(self.sent):032d}", status="queued")

    def find(self, message: SmsMessage) -> SmsReceipt | None:
        self.lookups += 1
        for index, sent in enumerate(self.sent, start=1):
            if sent.to == message.to and sent.body == message.body:
                return SmsReceipt(provider=self.name, id=f"SM{index:032d}", status="queued", found=True)
        return None


@pytest.fixture(scope="session")
def shipped_mappings() -> Mappings:
    return load_mappings(MAPPINGS)


@pytest.fixture(scope="session")
def shipped_recovery() -> RecoveryConfig:
    config = load_recovery_config(MAPPINGS)
    assert config is not None
    return config


class Harness:
    """Events go through the real Linker (FakeCRM), recovery through the real service."""

    def __init__(
        self,
        engine: Engine,
        clock: FixedClock,
        mappings: Mappings,
        config: RecoveryConfig,
        *,
        crm: str = "zendesk",
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.mappings = mappings
        self.crm = FakeCRM(name=crm)
        numbers = itertools.count(1)
        self.linker = Linker(
            engine=engine,
            crm=self.crm,
            mapping=mappings.crm(crm),
            catalog=mappings.catalog,
            clock=clock,
            make_episode_id=lambda: f"ep_{next(numbers):04d}",
        )
        self.worker = Worker(engine=engine, linker=self.linker, clock=clock, owner="test-worker")
        self.sender = FakeSender()
        self.service = self.recovery(config)
        self._events = itertools.count(1)

    def recovery(self, config: RecoveryConfig | None = None, **overrides: Any) -> RecoveryService:
        values: dict[str, Any] = {
            "engine": self.engine,
            "config": config or self.service.config,
            "clock": self.clock,
            "crm": self.crm,
            "mapping": self.mappings.crm(self.crm.name),
            "catalog": self.mappings.catalog,
            "sender": self.sender,
            "owner": "test-recovery",
        }
        values.update(overrides)
        return RecoveryService(**values)

    def event(self, **changes: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_id": f"evt-{next(self._events)}",
            "source": "ivr",
            "occurred_at": self.clock.now().isoformat(),
            "channel": "self_service",
            "customer": {"phone": NY_PHONE, "name": "Jo"},
            "intent": "billing",
            "outcome": "failed",
            "consent": {"sms": True, "voice": True, "email": True},
        }
        event.update(changes)
        return event

    def link(self, **changes: Any) -> dict[str, Any]:
        event = self.event(**changes)
        with self.engine.begin() as connection:
            inbox.add_event(
                connection,
                source=event["source"],
                event_id=event["event_id"],
                payload=json.dumps(event),
                now=self.clock.now(),
            )
        assert self.worker.drain() >= 1
        return event

    def consent(self, channel: str, address: str, granted: bool, *, source: str = "test") -> None:
        with self.engine.begin() as connection:
            consent.record_consent(
                connection,
                ConsentDecision(channel, address, granted, self.clock.now(), source),
                now=self.clock.now(),
            )

    def tick(self, service: RecoveryService | None = None) -> Any:
        return (service or self.service).tick()

    def at(self, moment: datetime) -> None:
        self.clock.set(moment)

    def advance(self, **delta: float) -> None:
        self.clock.advance(**delta)

    def attempts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return store.all_attempts(connection)

    def plans(self, episode_id: str) -> list[store.Plan]:
        with self.engine.connect() as connection:
            return store.plans_of_episode(connection, episode_id)

    def writebacks(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return store.writebacks(connection)

    def trail(self, **where: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return store.trail(connection, **where)


@pytest.fixture
def harness(
    engine: Engine, clock: FixedClock, shipped_mappings: Mappings, shipped_recovery: RecoveryConfig
) -> Harness:
    return Harness(engine, clock, shipped_mappings, shipped_recovery)


def config_with(base: RecoveryConfig, **changes: Any) -> RecoveryConfig:
    return replace(base, **changes)


__all__ = ["NY_PHONE", "T0", "FakeSender", "Harness", "config_with", "timedelta"]
