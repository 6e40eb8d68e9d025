"""The consent ledger: append-only decisions per outreach channel and address."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, and_, select

from hub.domain.consent import ConsentDecision, erased_address, standing
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import consent_ledger


def record_consent(
    connection: Connection,
    decision: ConsentDecision,
    *,
    now: datetime,
    customer_key: str | None = None,
    source_ref: str | None = None,
) -> bool:
    """Append a decision; False when ``source_ref`` was recorded before (a redelivery)."""
    row = {
        "channel": decision.channel,
        "address": decision.address,
        "customer_key": customer_key,
        "granted": decision.granted,
        "decided_at": decision.decided_at,
        "recorded_at": now,
        "source": decision.source,
        "evidence": decision.evidence,
        "source_ref": source_ref,
    }
    if source_ref is None:
        connection.execute(consent_ledger.insert().values(**row))
        return True
    return insert_ignoring_conflicts(connection, consent_ledger, row, ["source_ref"]) == 1


def ledger_forms(addresses: Iterable[str]) -> dict[str, str]:
    """Each address as the ledger may hold it -> the address: itself, and its erased form (the
    do-not-contact record of a forgotten person, ``hub.domain.consent.erased_address``)."""
    forms: dict[str, str] = {}
    for address in addresses:
        forms[address] = address
        forms[erased_address(address)] = address
    return forms


def decisions_for(connection: Connection, channel: str, address: str) -> list[ConsentDecision]:
    forms = ledger_forms([address])
    rows = connection.execute(
        select(consent_ledger)
        .where(and_(consent_ledger.c.channel == channel, consent_ledger.c.address.in_(sorted(forms))))
        .order_by(consent_ledger.c.decided_at, consent_ledger.c.id)
    ).all()
    return [ConsentDecision(r.channel, address, r.granted, r.decided_at, r.source, r.evidence) for r in rows]


def standing_consent(connection: Connection, channel: str, address: str) -> ConsentDecision | None:
    """The decision in force for this channel and address, or None (which means: no consent)."""
    return standing(decisions_for(connection, channel, address))
