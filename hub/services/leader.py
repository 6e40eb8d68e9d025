"""Which scheduler process runs the ticks: exactly one leader among any number of processes.

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) taken on a dedicated
  connection held for as long as the process leads. A leader killed with -9 loses its connection,
  and PostgreSQL releases the lock at once; a follower takes it at its next check. The leader runs
  ``SELECT 1`` on that connection at each check, so a leader whose connection broke steps down.
- SQLite (and as a fallback anywhere): a lease row (``hub.store.leases``) renewed at each check and
  valid for ``ttl``; a dead leader's lease runs out and a follower takes it over.

Checks run every quarter interval and a lease lasts half an interval, so a killed leader is
replaced within three quarters of an interval, and the new leader runs every tick at once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from hub.ports import Clock
from hub.services.worker import worker_name
from hub.store import leases

log = logging.getLogger(__name__)
SCHEDULER = "scheduler"


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``, from the role's name."""
    return int.from_bytes(hashlib.sha256(f"ctihub:{name}".encode()).digest()[:8], "big", signed=True)


class Leadership(Protocol):
    owner: str

    @property
    def leading(self) -> bool: ...

    def check(self) -> bool:
        """Take or keep the role; True while this process holds it."""
        ...

    def release(self) -> None: ...


@dataclass
class LeaseLeadership:
    engine: Engine
    clock: Clock
    ttl: timedelta
    name: str = SCHEDULER
    owner: str = field(default_factory=worker_name)
    leading: bool = False

    def check(self) -> bool:
        try:
            with self.engine.begin() as connection:
                held = leases.acquire(
                    connection, self.name, owner=self.owner, now=self.clock.now(), ttl=self.ttl
                )
        except SQLAlchemyError:
            log.exception("leadership check failed; not leading until the next check")
            held = False
        _log_change(self.name, self.owner, self.leading, held)
        self.leading = held
        return held

    def release(self) -> None:
        if self.leading:
            with self.engine.begin() as connection:
                leases.release(connection, self.name, owner=self.owner)
            self.leading = False
            log.info("%s left the %s role", self.owner, self.name)


@dataclass
class AdvisoryLockLeadership:
    engine: Engine
    name: str = SCHEDULER
    owner: str = field(default_factory=worker_name)
    connection: Connection | None = None
    _dedicated: Engine | None = None

    @property
    def leading(self) -> bool:
        return self.connection is not None

    def _engine(self) -> Engine:
        # A connection of its own, outside the pool, in autocommit: the lock lives with it.
        if self._dedicated is None:
            self._dedicated = create_engine(
                self.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT", hide_parameters=True
            )
        return self._dedicated

    def check(self) -> bool:
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError:
                log.warning("%s lost its %s lock connection; stepping down", self.owner, self.name)
                self._drop()
                return False
        connection = None
        try:
            connection = self._engine().connect()
            got = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": advisory_key(self.name)}
            ).scalar()
        except SQLAlchemyError:
            log.exception("leadership check failed; not leading until the next check")
            got = False
        if got:
            self.connection = connection
            _log_change(self.name, self.owner, False, True)
            return True
        if connection is not None:
            connection.close()
        return False

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except SQLAlchemyError:
                log.debug("closing a broken lock connection failed", exc_info=True)
            self.connection = None

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": advisory_key(self.name)}
                )
            except SQLAlchemyError:
                log.debug("unlocking failed; closing the connection releases the lock", exc_info=True)
            self._drop()
            log.info("%s left the %s role", self.owner, self.name)
        if self._dedicated is not None:
            self._dedicated.dispose()


def _log_change(name: str, owner: str, before: bool, now: bool) -> None:
    if now and not before:
        log.info("%s became the %s leader", owner, name)
    elif before and not now:
        log.warning("%s is no longer the %s leader", owner, name)


def leadership_for(engine: Engine, clock: Clock, interval_seconds: float) -> Leadership:
    if engine.dialect.name == "postgresql":
        return AdvisoryLockLeadership(engine)
    return LeaseLeadership(engine, clock, ttl=timedelta(seconds=interval_seconds / 2))
