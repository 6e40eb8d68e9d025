"""``/v1/episodes``: an episode with its links and SLA clocks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, select

from hub.services.sla import SlaService
from hub.store.tables import episode_cases, episodes, event_links, inbox
from hub.web.auth import require_token
from hub.web.context import current_hub
from hub.web.errors import error_response

bp = Blueprint("episodes", __name__, url_prefix="/v1")


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@bp.get("/episodes/<episode_id>")
@require_token
def get_episode(episode_id: str) -> ResponseReturnValue:
    hub = current_hub()
    with hub.engine.connect().execution_options(readonly=True) as connection:
        body = episode_json(connection, episode_id)
    if body is None:
        return error_response(404, "not_found", f"no episode {episode_id!r}")
    derived = SlaService.for_hub(hub).episode(episode_id)
    policy = derived.policy
    body["sla_policy"] = policy.title if policy else None
    body["sla"] = [clock.as_dict() for clock in derived.current]
    return body


def episode_json(connection: Connection, episode_id: str) -> dict[str, Any] | None:
    """The episode and what the hub wrote for it: its case per CRM, and each event's records."""
    row = connection.execute(select(episodes).where(episodes.c.id == episode_id)).first()
    if row is None:
        return None
    cases = connection.execute(
        select(episode_cases).where(episode_cases.c.episode_id == episode_id).order_by(episode_cases.c.crm)
    ).all()
    events = connection.execute(
        select(
            inbox.c.source,
            inbox.c.event_id,
            inbox.c.status,
            event_links.c.crm,
            event_links.c.activity_object,
            event_links.c.activity_id,
            event_links.c.activity_created,
            event_links.c.case_id,
        )
        .select_from(inbox.outerjoin(event_links, event_links.c.inbox_id == inbox.c.id))
        .where(inbox.c.episode_id == episode_id)
        .order_by(inbox.c.id, event_links.c.crm)
    ).all()
    return {
        "id": row.id,
        "customer_key": row.customer_key,
        "intent": row.intent,
        "intent_family": row.intent_family,
        "status": row.status,
        "opened_at": _iso(row.opened_at),
        "last_event_at": _iso(row.last_event_at),
        "closes_at": _iso(row.closes_at),
        "closed_at": _iso(row.closed_at),
        "closed_reason": row.closed_reason,
        "links": {
            "cases": [
                {"crm": c.crm, "object": c.object, "id": c.case_id, "created": c.created_by_hub}
                for c in cases
            ],
            "events": [
                {
                    "source": e.source,
                    "event_id": e.event_id,
                    "crm": e.crm,
                    "case_id": e.case_id,
                    "object": e.activity_object,
                    "id": e.activity_id,
                    "created": e.activity_created,
                }
                for e in events
                if e.crm is not None
            ],
        },
    }
