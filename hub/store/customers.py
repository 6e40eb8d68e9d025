"""Customers and their identifiers: the join from any strong identifier to one stable key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, tuple_

from hub.domain.identity import Identifier, customer_key_for, strongest
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import customer_identifiers, customers


def resolve_customer(
    connection: Connection,
    identifiers: list[Identifier],
    *,
    name: str | None,
    fallback_key: str,
    now: datetime,
) -> str:
    """The key of the customer these identifiers belong to, creating the customer when new.

    Only strong identifiers (valid phone, email, external ids) join; when they point at several
    known customers, the one found through the strongest identifier wins and nothing is merged.
    With no strong identifier at all the event gets a customer of its own (``fallback_key``):
    a name or an unparseable number is never used to guess.
    """
    strong = [i for i in identifiers if i.strong]
    key = fallback_key
    if strong:
        found = connection.execute(
            select(
                customer_identifiers.c.kind, customer_identifiers.c.value, customer_identifiers.c.customer_key
            ).where(
                tuple_(customer_identifiers.c.kind, customer_identifiers.c.value).in_(
                    [(i.kind, i.value) for i in strong]
                )
            )
        ).all()
        owners = {(row.kind, row.value): row.customer_key for row in found}
        known = [i for i in strong if (i.kind, i.value) in owners]
        best = strongest(known) if known else None
        key = owners[(best.kind, best.value)] if best else customer_key_for(strongest(strong))  # type: ignore[arg-type]
    insert_ignoring_conflicts(connection, customers, {"key": key, "name": name, "created_at": now}, ["key"])
    if identifiers:
        insert_ignoring_conflicts(
            connection,
            customer_identifiers,
            [
                {
                    "kind": i.kind,
                    "value": i.value,
                    "raw": i.raw[:320],
                    "valid": i.valid,
                    "customer_key": key,
                    "first_seen_at": now,
                }
                for i in identifiers
            ],
            ["kind", "value"],
        )
    return key


def identifiers_of(connection: Connection, key: str) -> list[Identifier]:
    rows = connection.execute(
        select(customer_identifiers).where(customer_identifiers.c.customer_key == key)
    ).all()
    return [Identifier(kind=r.kind, value=r.value, raw=r.raw, valid=r.valid) for r in rows]
