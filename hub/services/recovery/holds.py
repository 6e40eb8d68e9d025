"""An agent's hold on recovery: pause (and resume) the follow-ups of an episode, or cancel them.

A pause is a plan state, ``paused``: its waiting attempts become ``paused`` too, which no claim picks
(``claim_due`` takes ``pending`` only), and no next step is scheduled for a plan that is not
``active``. The claim re-reads each plan in its own transaction and holds back any attempt whose
plan was paused or cancelled after it was scheduled (``engine._guard``), so a paused or cancelled
plan never sends. An attempt already being made when the hold lands (claimed, past its guards)
finishes, as with every other cancellation. A paused plan stays open: the customer coming back,
the case closing, a later failure or a cancel end it as usual.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, update
from sqlalchemy.exc import IntegrityError

from hub.store import recovery as store
from hub.store.recovery_tables import recovery_attempts

from .recording import audit_plan, cancel_episode

PAUSED = "paused"
AGENT_PAUSED = "agent_paused"
AGENT_RESUMED = "agent_resumed"
AGENT_CANCELLED = "agent_cancelled"


def pause_episode(connection: Connection, episode_id: str, *, now: datetime, actor: str, detail: str) -> int:
    """Pause the episode's recorded and active plans; returns how many plans were paused."""
    plans = [p for p in store.open_plans(connection, episode_id) if p.status != PAUSED]
    for plan in plans:
        store.update_plan(connection, plan.id, status=PAUSED)
        connection.execute(
            update(recovery_attempts)
            .where(recovery_attempts.c.plan_id == plan.id, recovery_attempts.c.status == "pending")
            .values(status=PAUSED, reason=AGENT_PAUSED)
        )
        audit_plan(connection, plan, "paused", now=now, actor=actor, reason=AGENT_PAUSED, detail=detail)
    return len(plans)


def resume_episode(connection: Connection, episode_id: str, *, now: datetime, actor: str, detail: str) -> int:
    """Resume the episode's paused plans: held attempts are due again (not before now), and a plan
    with none goes back to ``recorded`` so the next tick schedules its next step."""
    plans = [p for p in store.open_plans(connection, episode_id) if p.status == PAUSED]
    for plan in plans:
        held = [a for a in store.pending_of_plans(connection, [plan.id]) if a.status == PAUSED]
        resumed = False
        for attempt in held:
            savepoint = connection.begin_nested()
            try:
                connection.execute(
                    update(recovery_attempts)
                    .where(recovery_attempts.c.id == attempt.id, recovery_attempts.c.status == PAUSED)
                    .values(status="pending", reason=None, due_at=max(attempt.due_at, now))
                )
                savepoint.commit()
                resumed = True
            except IntegrityError:  # the episode has another live attempt meanwhile: keep this held
                savepoint.rollback()
        store.update_plan(connection, plan.id, status="active" if resumed else "recorded")
        audit_plan(connection, plan, "resumed", now=now, actor=actor, reason=AGENT_RESUMED, detail=detail)
    return len(plans)


def cancel_by_agent(connection: Connection, episode_id: str, *, now: datetime, actor: str) -> int:
    """Cancel every open plan of the episode (paused ones too) and their waiting attempts."""
    return cancel_episode(connection, episode_id, reason=AGENT_CANCELLED, before=None, now=now, actor=actor)
