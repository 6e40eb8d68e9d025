"""Customers and their identifiers: the join from any strong identifier to one stable key.

Identity safety: only strong identifiers (E.164 phone, email, CRM/platform ids) that are proven
(not ``asserted``: ``hub.domain.identity``) ever join an event to a known customer, and never on
ambiguity (``resolve_identity``):

- an asserted identifier (a Sunshine profile email, an address typed into a chat) never joins,
  merges or binds: when it names a known customer, the event keeps the customer its proven
  identifiers give it (or one of its own) and an ``ambiguous_matches`` row (reason
  ``asserted_identifier``) suggests the match to an agent. It is recorded as ``asserted`` only
  when no one holds it yet, and a proven claim of it later takes the row over;

- the event's known strong identifiers all point at one customer: that customer (identifiers seen
  for the first time are learned for it);
- they point at several customers: if exactly one of them is reached through a CRM/platform id (an
  identity the platform asserted) and the others only through a phone or an email, that one; in
  every other case the event gets a customer of its own, derived from the whole set of its strong
  identifiers (so simultaneous events carrying the same set agree). Either way nothing is merged,
  no identifier changes owner, and an ``ambiguous_matches`` row names the candidates;
- an identifier known to be shared (``shared_identifiers``: one phone on several CRM contacts) is
  never used to join; an event that has nothing else gets a customer of its own, recorded as
  ambiguous;
- no strong identifier at all (a name, an unparseable number): the event's own customer
  (``fallback_key``); a name matching customers known by a strong identifier is recorded as
  ambiguous (the agent may choose one), never joined.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select, tuple_, update

from hub.domain.identity import ASSERTED, EXTERNAL_PREFIX, Identifier, customer_key_for, strongest
from hub.store.dedup_tables import shared_identifiers
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import customer_identifiers, customers

CONFLICTING = "conflicting_customers"
SHARED = "shared_identifier"
NAME_ONLY = "name_only"
ASSERTED_MATCH = "asserted_identifier"
MAX_CANDIDATES = 20


@dataclass(frozen=True)
class Resolution:
    """The customer an event belongs to, and why it was not a plain match when ``reason`` is set."""

    key: str
    reason: str | None = None  # CONFLICTING | SHARED | NAME_ONLY | ASSERTED_MATCH when ambiguous
    candidates: tuple[str, ...] = ()
    identifiers: tuple[Identifier, ...] = field(default=())

    @property
    def ambiguous(self) -> bool:
        return self.reason is not None


def ambiguous_key_for(identifiers: list[Identifier]) -> str:
    """The key of an event's own customer when its identifiers are ambiguous: derived from the set,
    in a namespace of its own, so it never equals the key of any single identifier."""
    values = "\x00".join(sorted(f"{i.kind}={i.value}" for i in identifiers))
    return customer_key_for(Identifier("ambiguous", values, values))


def resolve_customer(
    connection: Connection,
    identifiers: list[Identifier],
    *,
    name: str | None,
    fallback_key: str,
    now: datetime,
) -> str:
    """The key of the customer these identifiers belong to (``resolve_identity`` without the why)."""
    return resolve_identity(connection, identifiers, name=name, fallback_key=fallback_key, now=now).key


def resolve_identity(
    connection: Connection,
    identifiers: list[Identifier],
    *,
    name: str | None,
    fallback_key: str,
    now: datetime,
) -> Resolution:
    """The customer these identifiers belong to, creating it when new (see the module's rules)."""
    strong = [i for i in identifiers if i.strong]
    proven = [i for i in strong if i.joins]
    asserted = [i for i in strong if not i.joins]
    shared = _shared(connection, strong)
    usable = [i for i in proven if (i.kind, i.value) not in shared]
    rows = _owners(connection, [*usable, *asserted])
    owners = {pair: key for pair, (key, proof) in rows.items() if proof != ASSERTED}
    known = [i for i in usable if (i.kind, i.value) in owners]
    keys = sorted({owners[(i.kind, i.value)] for i in known})

    if len(keys) > 1:
        platform = {owners[(i.kind, i.value)] for i in known if i.kind.startswith(EXTERNAL_PREFIX)}
        key = platform.pop() if len(platform) == 1 else ambiguous_key_for(proven)
        _ensure_customer(connection, key, name, now)
        return Resolution(key, CONFLICTING, tuple(keys), tuple(strong))
    if keys:
        key = keys[0]
    elif usable:
        best = strongest(usable)
        assert best is not None
        key = customer_key_for(best)
    elif proven and shared:
        key = ambiguous_key_for(proven)
        _ensure_customer(connection, key, name, now)
        candidates = sorted({c for i in proven for c in shared.get((i.kind, i.value), ())})
        return Resolution(key, SHARED, tuple(candidates[:MAX_CANDIDATES]), tuple(strong))
    else:
        key = fallback_key  # nothing proven: the event's own customer (asserted ones only suggest)
    _ensure_customer(connection, key, name, now)
    _learn(connection, [i for i in identifiers if (i.kind, i.value) not in shared], rows, key, now)
    suggested = sorted({rows[(i.kind, i.value)][0] for i in asserted if (i.kind, i.value) in rows} - {key})
    if suggested:
        return Resolution(key, ASSERTED_MATCH, tuple(suggested[:MAX_CANDIDATES]), tuple(asserted))
    if not strong and name and name.strip():
        namesakes = _namesakes(connection, name, key)
        if namesakes:
            return Resolution(key, NAME_ONLY, namesakes, ())
    return Resolution(key)


def _learn(
    connection: Connection,
    learned: list[Identifier],
    rows: dict[tuple[str, str], tuple[str, str]],
    key: str,
    now: datetime,
) -> None:
    """Record the event's identifiers for ``key``: new ones with their proof; a proven one that was
    only asserted so far (by anyone) is taken over, since an asserted row never owned it."""
    if not learned:
        return
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
                "proof": i.proof,
            }
            for i in learned
        ],
        ["kind", "value"],
    )
    for i in learned:
        if i.joins and rows.get((i.kind, i.value), ("", ""))[1] == ASSERTED:
            connection.execute(
                update(customer_identifiers)
                .where(
                    customer_identifiers.c.kind == i.kind,
                    customer_identifiers.c.value == i.value,
                    customer_identifiers.c.proof == ASSERTED,
                )
                .values(customer_key=key, proof=i.proof, raw=i.raw[:320])
            )


def mark_shared(
    connection: Connection, identifier: Identifier, candidates: list[str], *, source: str, now: datetime
) -> bool:
    """Note that several people use ``identifier`` (from then on it joins no one). True when new."""
    return bool(
        insert_ignoring_conflicts(
            connection,
            shared_identifiers,
            {
                "kind": identifier.kind,
                "value": identifier.value,
                "candidates": json.dumps(sorted(set(candidates))[:MAX_CANDIDATES]),
                "source": source,
                "noted_at": now,
            },
            ["kind", "value"],
        )
    )


def _shared(connection: Connection, strong: list[Identifier]) -> dict[tuple[str, str], tuple[str, ...]]:
    if not strong:
        return {}
    rows = connection.execute(
        select(shared_identifiers.c.kind, shared_identifiers.c.value, shared_identifiers.c.candidates).where(
            tuple_(shared_identifiers.c.kind, shared_identifiers.c.value).in_(
                [(i.kind, i.value) for i in strong]
            )
        )
    ).all()
    return {(row.kind, row.value): tuple(json.loads(row.candidates)) for row in rows}


def _owners(connection: Connection, usable: list[Identifier]) -> dict[tuple[str, str], tuple[str, str]]:
    """(kind, value) -> (owner's key, the row's proof) for each identifier already recorded."""
    if not usable:
        return {}
    found = connection.execute(
        select(
            customer_identifiers.c.kind,
            customer_identifiers.c.value,
            customer_identifiers.c.customer_key,
            customer_identifiers.c.proof,
        ).where(
            tuple_(customer_identifiers.c.kind, customer_identifiers.c.value).in_(
                [(i.kind, i.value) for i in usable]
            )
        )
    ).all()
    return {(row.kind, row.value): (row.customer_key, row.proof) for row in found}


def _ensure_customer(connection: Connection, key: str, name: str | None, now: datetime) -> None:
    insert_ignoring_conflicts(connection, customers, {"key": key, "name": name, "created_at": now}, ["key"])


def _namesakes(connection: Connection, name: str, key: str) -> tuple[str, ...]:
    rows = connection.execute(
        select(customers.c.key)
        .where(
            func.lower(customers.c.name) == name.strip().lower(),
            customers.c.key != key,
            customers.c.key.in_(
                select(customer_identifiers.c.customer_key).where(customer_identifiers.c.valid)
            ),
        )
        .order_by(customers.c.key)
        .limit(MAX_CANDIDATES)
    ).scalars()
    return tuple(rows)


def identifiers_of(connection: Connection, key: str) -> list[Identifier]:
    rows = connection.execute(
        select(customer_identifiers).where(customer_identifiers.c.customer_key == key)
    ).all()
    return [Identifier(kind=r.kind, value=r.value, raw=r.raw, valid=r.valid, proof=r.proof) for r in rows]
