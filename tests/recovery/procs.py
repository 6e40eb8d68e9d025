"""Scheduler processes for ``test_processes_postgres.py``: each builds its own engine and service.

Spawned children import this module by name (``tests.recovery.procs``), with the parent's sys.path.
Sends are counted in a table of the shared PostgreSQL database, so a second send of one attempt by
any process would show.
"""

from __future__ import annotations

import traceback
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text

from hub.mappings import load_mappings
from hub.mappings.recovery import load_recovery_config
from hub.ports import SmsMessage, SmsReceipt
from hub.services.clock import FixedClock
from hub.services.recovery import RecoveryService, RecoverySettings
from hub.store.db import make_engine
from tests.conftest import MAPPINGS
from tests.fakes import FakeCRM

SENDS_TABLE = "recovery_test_sends"
CREATE_SENDS = (
    f"CREATE TABLE IF NOT EXISTS {SENDS_TABLE} (id bigserial PRIMARY KEY, key text NOT NULL, "
    "to_number text NOT NULL, body text NOT NULL, process text NOT NULL)"
)


class PgSender:
    """An ``SmsSender`` that records each send as a row of the shared database."""

    name = "pg-test"

    def __init__(self, engine: Engine, process: str) -> None:
        self.engine = engine
        self.process = process

    def send(self, message: SmsMessage) -> SmsReceipt:
        with self.engine.begin() as connection:
            sent_id = connection.execute(
                text(
                    "INSERT INTO recovery_test_sends (key, to_number, body, process) "
                    "VALUES (:key, :to, :body, :process) RETURNING id"
                ),
                {"key": message.key, "to": message.to, "body": message.body, "process": self.process},
            ).scalar_one()
        return SmsReceipt(provider=self.name, id=f"SM{sent_id:032d}", status="queued")

    def find(self, message: SmsMessage) -> SmsReceipt | None:
        with self.engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT id FROM recovery_test_sends WHERE to_number = :to AND body = :body "
                    "ORDER BY id LIMIT 1"
                ),
                {"to": message.to, "body": message.body},
            ).scalar()
        return None if found is None else SmsReceipt(self.name, f"SM{found:032d}", "queued", found=True)


def service_for(
    engine: Engine, now: datetime, owner: str, **settings: Any
) -> tuple[RecoveryService, FakeCRM]:
    mappings = load_mappings(MAPPINGS)
    config = load_recovery_config(MAPPINGS)
    assert config is not None
    crm = FakeCRM(name="zendesk")
    service = RecoveryService(
        engine=engine,
        config=config,
        clock=FixedClock(now),
        crm=crm,
        mapping=mappings.crm("zendesk"),
        catalog=mappings.catalog,
        sender=PgSender(engine, owner),
        owner=owner,
        settings=RecoverySettings(**settings),
    )
    return service, crm


def process_main(url: str, now_iso: str, barrier: Any, results: Any, index: int) -> None:
    engine = make_engine(url, pool_size=2, max_overflow=2)
    try:
        now = datetime.fromisoformat(now_iso)
        service, crm = service_for(engine, now, f"proc-{index}", batch=5)
        barrier.wait(timeout=120)
        claimed = 0
        while True:
            report = service.run_due(now)
            claimed += report.claimed
            if report.claimed == 0:
                break
        tasks = [key for call, key in crm.calls if call == "create_case"]
        results.put((index, "ok", claimed, tasks))
    except Exception:
        results.put((index, "error", traceback.format_exc(), []))
    finally:
        engine.dispose()
