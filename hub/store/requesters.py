"""``StoredRequesters``: the ``RequesterDirectory`` port over the ``crm_requesters`` table.

A row is a customer's CRM user (``user_id`` set) or a claim to find or make it (``user_id`` NULL,
``claimed_by`` and ``claimed_until`` set). The claim is the first INSERT (ON CONFLICT DO NOTHING,
so two processes cannot both win it), taken over only once expired (its holder died) by a
conditional UPDATE; a batch claims, records and releases all its customers in one transaction
each. The holder is the process and thread, so two worker threads of one process
never share a claim.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Collection, Mapping
from datetime import timedelta

from sqlalchemy import Engine, and_, delete, select, update

from hub.ports import Clock, RequesterClaim
from hub.store.requester_tables import crm_requesters as table
from hub.store.sql import insert_ignoring_conflicts

CLAIM_TTL = timedelta(seconds=60)  # a lookup and a user creation, retries included, end well inside


def claimant() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"[:64]


class StoredRequesters:
    def __init__(self, engine: Engine, clock: Clock, *, ttl: timedelta = CLAIM_TTL) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = ttl

    def known(self, crm: str, customer_keys: Collection[str]) -> dict[str, int]:
        keys = sorted(set(customer_keys))
        found: dict[str, int] = {}
        with self.engine.connect() as connection:
            for start in range(0, len(keys), 500):
                rows = connection.execute(
                    select(table.c.customer_key, table.c.user_id).where(
                        table.c.crm == crm,
                        table.c.customer_key.in_(keys[start : start + 500]),
                        table.c.user_id.is_not(None),
                    )
                )
                found.update({key: int(user_id) for key, user_id in rows})
        return found

    def claim(self, crm: str, customer_keys: Collection[str]) -> dict[str, RequesterClaim]:
        keys = sorted(set(customer_keys))
        if not keys:
            return {}
        now, owner = self.clock.now(), claimant()
        claim = {"claimed_by": owner, "claimed_until": now + self.ttl, "updated_at": now}
        with self.engine.begin() as connection:
            rows = [{"crm": crm, "customer_key": key, "user_id": None, **claim} for key in keys]
            insert_ignoring_conflicts(connection, table, rows, ["crm", "customer_key"])
            connection.execute(  # take over claims whose holder died
                update(table)
                .where(
                    table.c.crm == crm,
                    table.c.customer_key.in_(keys),
                    table.c.user_id.is_(None),
                    table.c.claimed_until < now,
                )
                .values(**claim)
            )
            found = connection.execute(
                select(table.c.customer_key, table.c.user_id, table.c.claimed_by).where(
                    table.c.crm == crm, table.c.customer_key.in_(keys)
                )
            ).all()
        return {
            key: RequesterClaim(
                int(user_id) if user_id is not None else None, user_id is None and by == owner
            )
            for key, user_id, by in found
        }

    def record(self, crm: str, user_ids: Mapping[str, int], *, how: str) -> None:
        if not user_ids:
            return
        now = self.clock.now()
        values = {"how": how, "claimed_by": None, "claimed_until": None, "updated_at": now}
        with self.engine.begin() as connection:
            for key, user_id in user_ids.items():
                changed = connection.execute(
                    update(table).where(self._row(crm, key)).values(user_id=user_id, **values)
                )
                if changed.rowcount == 0:
                    row = {"crm": crm, "customer_key": key, "user_id": user_id, **values}
                    insert_ignoring_conflicts(connection, table, row, ["crm", "customer_key"])

    def release(self, crm: str, customer_keys: Collection[str]) -> None:
        keys = sorted(set(customer_keys))
        if not keys:
            return
        with self.engine.begin() as connection:
            connection.execute(
                delete(table).where(
                    table.c.crm == crm,
                    table.c.customer_key.in_(keys),
                    table.c.user_id.is_(None),
                    table.c.claimed_by == claimant(),
                )
            )

    @staticmethod
    def _row(crm: str, customer_key: str) -> object:
        return and_(table.c.crm == crm, table.c.customer_key == customer_key)
