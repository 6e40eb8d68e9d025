"""Deflection's reads and its one write: who is calling, what this episode already tried, the decision log.

Every read here is read-only: a caller the hub has never seen is not created (``resolve_customer``
would create one); the decision log is the only table written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select

from hub.domain.deflection import Attempt
from hub.domain.identity import ASSERTED
from hub.domain.outcome import parse_timestamp
from hub.store.deflection_tables import deflection_decisions
from hub.store.episodes import Episode
from hub.store.tables import customer_identifiers, episode_cases, episodes, event_links, inbox


def customer_key_by_identifier(connection: Connection, kind: str, value: str) -> str | None:
    """The customer a normalized identifier belongs to, or None. Never creates anything."""
    return connection.execute(
        select(customer_identifiers.c.customer_key).where(
            and_(
                customer_identifiers.c.kind == kind,
                customer_identifiers.c.value == value,
                customer_identifiers.c.valid.is_(True),
                customer_identifiers.c.proof != ASSERTED,  # an asserted identifier names no one
            )
        )
    ).scalar()


def open_episode(connection: Connection, customer_key: str, family: str, now: datetime) -> Episode | None:
    """The customer's open episode for this intent family, unless its window has already ended."""
    row = connection.execute(
        select(episodes).where(
            and_(
                episodes.c.customer_key == customer_key,
                episodes.c.intent_family == family,
                episodes.c.status == "open",
                episodes.c.closes_at >= now,
            )
        )
    ).first()
    return Episode(**{k: row._mapping[k] for k in Episode.__dataclass_fields__}) if row else None


@dataclass(frozen=True)
class TrailOutcome:
    """One linked event of an episode, as the receiving channel or agent sees it."""

    source: str
    event_id: str
    channel: str
    outcome: str
    disposition: str | None
    summary: str | None
    occurred_at: datetime
    links: tuple[dict[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "event_id": self.event_id,
            "channel": self.channel,
            "outcome": self.outcome,
            "disposition": self.disposition,
            "summary": self.summary,
            "occurred_at": self.occurred_at.isoformat(),
            "links": list(self.links),
        }


def episode_outcomes(connection: Connection, episode_id: str) -> list[TrailOutcome]:
    """The events linked to this episode, oldest first, each with what it wrote to the CRM."""
    rows = connection.execute(
        select(inbox.c.id, inbox.c.source, inbox.c.event_id, inbox.c.payload, inbox.c.disposition).where(
            inbox.c.episode_id == episode_id
        )
    ).all()
    links: dict[int, list[dict[str, Any]]] = {}
    if rows:
        for link in connection.execute(
            select(event_links).where(event_links.c.inbox_id.in_([r.id for r in rows]))
        ).all():
            links.setdefault(link.inbox_id, []).append(
                {
                    "crm": link.crm,
                    "case": {"object": link.case_object, "id": link.case_id},
                    "activity": {"object": link.activity_object, "id": link.activity_id},
                }
            )
    found = []
    for row in rows:
        payload = json.loads(row.payload)
        found.append(
            TrailOutcome(
                source=row.source,
                event_id=row.event_id,
                channel=payload["channel"],
                outcome=payload["outcome"],
                disposition=row.disposition or payload.get("disposition"),
                summary=payload.get("summary"),
                occurred_at=parse_timestamp(payload["occurred_at"]),
                links=tuple(links.get(row.id, ())),
            )
        )
    return sorted(found, key=lambda o: (o.occurred_at, o.source, o.event_id))


def episode_attempts(connection: Connection, episode_id: str) -> list[Attempt]:
    """What this episode already tried, for the escape rules."""
    return [Attempt(o.channel, o.outcome, o.occurred_at) for o in episode_outcomes(connection, episode_id)]


def episode_case_links(connection: Connection, episode_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(episode_cases).where(episode_cases.c.episode_id == episode_id).order_by(episode_cases.c.crm)
    ).all()
    return [{"crm": r.crm, "object": r.object, "id": r.case_id} for r in rows]


@dataclass(frozen=True)
class DecisionRecord:
    jti: str
    decided_at: datetime
    intent: str
    customer_key: str | None
    episode_id: str | None
    mode: str
    inputs: Mapping[str, Any]
    offers: Mapping[str, Any]
    token_expires_at: datetime


def record_decision(connection: Connection, record: DecisionRecord) -> None:
    connection.execute(
        deflection_decisions.insert().values(
            jti=record.jti,
            decided_at=record.decided_at,
            intent=record.intent,
            customer_key=record.customer_key,
            episode_id=record.episode_id,
            mode=record.mode,
            inputs=json.dumps(record.inputs, sort_keys=True, default=str),
            offers=json.dumps(record.offers, sort_keys=True, default=str),
            token_expires_at=record.token_expires_at,
        )
    )


def get_decision(connection: Connection, jti: str) -> DecisionRecord | None:
    row = connection.execute(select(deflection_decisions).where(deflection_decisions.c.jti == jti)).first()
    if row is None:
        return None
    return DecisionRecord(
        jti=row.jti,
        decided_at=row.decided_at,
        intent=row.intent,
        customer_key=row.customer_key,
        episode_id=row.episode_id,
        mode=row.mode,
        inputs=json.loads(row.inputs),
        offers=json.loads(row.offers),
        token_expires_at=row.token_expires_at,
    )


def outcomes_citing(connection: Connection, jti: str) -> list[dict[str, Any]]:
    """Accepted events whose ``metadata.deflection_id`` is this decision's ``jti`` (acceptance).

    Read-time: the link worker does not record the citation, so the inbox is searched for the jti
    (random, 28 characters: a substring match is exact enough) and each hit is confirmed on its JSON.
    """
    rows = connection.execute(
        select(inbox.c.source, inbox.c.event_id, inbox.c.payload, inbox.c.status, inbox.c.episode_id)
        .where(inbox.c.payload.contains(jti, autoescape=True))
        .order_by(inbox.c.id)
    ).all()
    cited = []
    for row in rows:
        payload = json.loads(row.payload)
        metadata = payload.get("metadata") or {}
        if metadata.get("deflection_id") != jti:
            continue
        cited.append(
            {
                "source": row.source,
                "event_id": row.event_id,
                "channel": payload.get("channel"),
                "outcome": payload.get("outcome"),
                "occurred_at": payload.get("occurred_at"),
                "status": row.status,
                "episode_id": row.episode_id,
            }
        )
    return cited
