"""What happens to an episode after it opened: customer messages, agent replies, CRM status changes.

One entry point, ``apply_episode_event``, so the channel webhooks (Zendesk, Salesforce, Sunshine,
Twilio) and the link worker report the same way, and each concern that follows an episode (its
open/closed state here; SLA clocks; later, recovery) reacts in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, update

from hub.services import recovery, sla
from hub.store.tables import episodes

CUSTOMER_MESSAGE = "customer_message"  # the customer wrote or called, on any channel
AGENT_REPLY = "agent_reply"  # an agent answered (public) or wrote an internal note (public=False)
STATUS_CHANGED = "status_changed"  # the CRM record's status changed; ``status`` in Zendesk's vocabulary
MERGED = "merged"  # the episode's case/ticket was merged into another (``merged_into`` = episode id)

# Zendesk's status vocabulary; Salesforce statuses are mapped to it by their webhook (IsClosed -> closed).
SOLVED_STATUSES = frozenset({"solved", "closed"})


@dataclass(frozen=True)
class EpisodeEvent:
    episode_id: str
    kind: str
    at: datetime
    public: bool = True
    status: str | None = None  # new | open | pending | hold | solved | closed, for STATUS_CHANGED
    channel: str | None = None
    merged_into: str | None = None


def apply_episode_event(connection: Connection, event: EpisodeEvent, *, now: datetime) -> None:
    """Update the episode for one event, inside the caller's transaction."""
    sla.record_episode_event(connection, event, now=now)  # SLA history; the clocks are derived from it
    recovery.on_episode_event(connection, event, now=now)  # a customer message or closing cancels follow-ups
    if event.kind == STATUS_CHANGED and event.status in SOLVED_STATUSES:
        _close(connection, event.episode_id, now, f"crm_{event.status}")
    elif event.kind == MERGED:
        _close(connection, event.episode_id, now, "merged")


def _close(connection: Connection, episode_id: str, now: datetime, reason: str) -> None:
    connection.execute(
        update(episodes)
        .where(and_(episodes.c.id == episode_id, episodes.c.status == "open"))
        .values(status="closed", closed_at=now, closed_reason=reason)
    )
