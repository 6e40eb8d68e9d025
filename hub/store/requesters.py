"""``StoredRequesters``: the ``RequesterDirectory`` port over the ``crm_requesters`` table.

A row is a customer's CRM user (``user_id`` set) or a claim to find or make it (``user_id`` NULL,
``claimed_by`` and ``claimed_until`` set). The claim is the first INSERT (ON CONFLICT DO NOTHING,
so two processes cannot both win it), taken over only once expired (its holder died) by a
conditional UPDATE. The holder is the process and thread, so two worker threads of one process
never share a claim.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Collection
from datetime import timedelta

from sqlalchemy import Engine, and_, delete, or_, select, update

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

    def claim(self, crm: str, customer_key: str) -> RequesterClaim:
        now, owner = self.clock.now(), claimant()
        claim = {"claimed_by": owner, "claimed_until": now + self.ttl, "updated_at": now}
        with self.engine.begin() as connection:
            row = {"crm": crm, "customer_key": customer_key, "user_id": None, **claim}
            if insert_ignoring_conflicts(connection, table, row, ["crm", "customer_key"]):
                return RequesterClaim(None, True)
            taken = connection.execute(
                update(table)
                .where(
                    self._row(crm, customer_key),
                    table.c.user_id.is_(None),
                    or_(table.c.claimed_until < now, table.c.claimed_by == owner),
                )
                .values(**claim)
            )
            if taken.rowcount == 1:
                return RequesterClaim(None, True)
            user_id = connection.execute(
                select(table.c.user_id).where(self._row(crm, customer_key))
            ).scalar_one_or_none()
        return RequesterClaim(int(user_id) if user_id is not None else None, False)

    def record(self, crm: str, customer_key: str, user_id: int, *, how: str) -> None:
        now = self.clock.now()
        values = {
            "user_id": user_id,
            "how": how,
            "claimed_by": None,
            "claimed_until": None,
            "updated_at": now,
        }
        with self.engine.begin() as connection:
            changed = connection.execute(update(table).where(self._row(crm, customer_key)).values(**values))
            if changed.rowcount == 0:
                insert_ignoring_conflicts(
                    connection,
                    table,
                    {"crm": crm, "customer_key": customer_key, **values},
                    ["crm", "customer_key"],
                )

    def release(self, crm: str, customer_key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                delete(table).where(
                    self._row(crm, customer_key), table.c.user_id.is_(None), table.c.claimed_by == claimant()
                )
            )

    @staticmethod
    def _row(crm: str, customer_key: str) -> object:
        return and_(table.c.crm == crm, table.c.customer_key == customer_key)
