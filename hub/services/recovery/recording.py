"""Recording recovery facts, which needs no configuration: each path records in its own transaction.

    plan_for_outcome(connection, outcome, episode_id=, customer_key=, identifiers=, now=)
        the link worker, in the transaction that records the link: a failed / abandoned / unanswered
        inbound outcome is recorded as a plan (``recovery_plans``, status ``recorded``); any inbound
        outcome is the customer coming back, which cancels what earlier failures planned; a
        ``resolved`` one marks the episode resolved.
    on_episode_event(connection, event, now=)
        ``apply_episode_event``: a customer message cancels pending attempts (the customer came back
        on their own); the case/ticket solved, closed or merged cancels them all.

``note_result`` writes one result's trail row and its CRM note (the outbox ``recovery_writebacks``), in the
transaction that decided the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from hub.domain.identity import EMAIL, PHONE, Identifier
from hub.domain.outcome import Outcome
from hub.domain.recovery import (
    ACTION_LABELS,
    RECOVERY_OUTCOMES,
    RESULT_DISPOSITIONS,
    SENT_DISPOSITIONS,
    SMS,
)
from hub.store import recovery as store

from .keys import step_count, trigger_key, writeback_key

CUSTOMER_MESSAGE = "customer_message"  # hub.services.episode_events kinds (not imported: no cycle)
STATUS_CHANGED = "status_changed"
MERGED = "merged"
SOLVED_STATUSES = frozenset({"solved", "closed"})

REASON_TEXT = {
    "episode_closed": "the case/ticket was closed",
    "customer_came_back": "the customer came back on their own",
    "resolved": "the issue was resolved",
    "expired": "the plan's time to live ran out",
    "superseded": "a later failure in the episode started a new plan",
    "no_address": "no address for the channel",
    "no_consent": "no consent on record for the channel",
    "consent_revoked": "the customer revoked consent for the channel",
    "crm_opted_out": "the CRM's do-not-contact flag is set for the channel",
    "crm_unavailable": "the CRM's do-not-contact flags could not be read",
    "sms_undelivered": "the carrier could not deliver the text",
    "sms_failed": "Twilio could not send the text",
    "sms_canceled": "the scheduled text was canceled",
    "episode_cap": "the episode's attempt cap was reached",
    "unknown_time_zone": "the customer's time zone is unknown",
    "no_common_window": "no instant is allowed in every time zone the customer may be in",
    "outside_contact_window": "outside the contact window",
    "sms_not_configured": "no SMS sender is configured",
    "outcome_unknown": "the provider could not confirm whether the message was sent",
    "no_policy": "no recovery policy matches",
    "agent_paused": "an agent paused the follow-ups",
    "agent_resumed": "an agent resumed the follow-ups",
    "agent_cancelled": "an agent cancelled the follow-ups",
    "plan_paused": "the plan was paused by an agent after this attempt was scheduled",
}


def plan_for_outcome(
    connection: Connection,
    outcome: Outcome,
    *,
    episode_id: str,
    customer_key: str,
    identifiers: Sequence[Identifier],
    now: datetime,
) -> bool:
    """The link worker's hook, inside its last transaction. True when a plan was recorded.

    An inbound outcome is a contact by the customer: it cancels what earlier failures of the episode
    planned; a resolved one marks the episode resolved; a failed, abandoned or unanswered one is
    recorded as a plan for the next tick (once per source:event_id). Outbound outcomes change nothing.
    """
    if outcome.direction != "inbound":
        return False
    at = outcome.occurred_at
    resolved = outcome.outcome == "resolved"
    store.note_episode(connection, episode_id, last_contact_at=at, resolved_at=at if resolved else None)
    reason = "resolved" if resolved else "customer_came_back"
    cancel_episode(connection, episode_id, reason=reason, before=at, now=now)
    if outcome.outcome not in RECOVERY_OUTCOMES:
        return False
    phone = next((i.value for i in identifiers if i.kind == PHONE and i.valid), None)
    email = next((i.value for i in identifiers if i.kind == EMAIL and i.valid), None)
    recorded = store.record_plan(
        connection,
        {
            "trigger_key": trigger_key(outcome.source, outcome.event_id),
            "episode_id": episode_id,
            "customer_key": customer_key,
            "source": outcome.source[:100],
            "event_id": outcome.event_id[:200],
            "channel": outcome.channel,
            "intent": outcome.intent[:100],
            "outcome": outcome.outcome,
            "occurred_at": at,
            "phone": phone,
            "email": email,
            "postal_state": (outcome.customer.postal_state or None),
            "customer_name": (outcome.customer.name or None),
            "external_ids": json.dumps(dict(outcome.customer.external_ids), sort_keys=True),
            "status": "recorded",
            "recorded_at": now,
        },
    )
    if recorded:
        store.ensure_customer(connection, customer_key, now)
    return recorded


def on_episode_event(connection: Connection, event: Any, *, now: datetime) -> int:
    """``hub.services.episode_events.apply_episode_event``'s hook; returns how many attempts it
    cancelled. A customer message cancels what failures before it planned; the case/ticket solved,
    closed or merged cancels everything of the episode."""
    if event.kind == CUSTOMER_MESSAGE:
        store.note_episode(connection, event.episode_id, last_contact_at=event.at)
        return cancel_episode(
            connection, event.episode_id, reason="customer_came_back", before=event.at, now=now
        )
    closing = (event.kind == STATUS_CHANGED and event.status in SOLVED_STATUSES) or event.kind == MERGED
    if closing:
        reason = "merged" if event.kind == MERGED else f"crm_{event.status}"
        store.note_episode(connection, event.episode_id, closed_at=event.at, closed_reason=reason)
        return cancel_episode(connection, event.episode_id, reason="episode_closed", before=None, now=now)
    return 0


def cancel_episode(
    connection: Connection,
    episode_id: str,
    *,
    reason: str,
    before: datetime | None,
    now: datetime,
    actor: str = "hub",
) -> int:
    """Cancel the episode's open plans (those whose failure came before ``before``, when given), and say
    of the tasks already made for its finished plans that they are no longer needed."""
    for plan in store.done_plans(connection, episode_id, before):
        close_tasks(connection, plan, reason, now=now, actor=actor)
    return cancel_plans(
        connection, store.open_plans(connection, episode_id, before), reason=reason, now=now, actor=actor
    )


def cancel_plans(
    connection: Connection, plans: Sequence[store.Plan], *, reason: str, now: datetime, actor: str = "hub"
) -> int:
    """Cancel plans and their pending attempts, each attempt with a CRM note in the outbox; returns how
    many attempts were cancelled. A claimed attempt is being made: it finishes, and nothing follows."""
    for plan in plans:
        cancel_plan(connection, plan, reason, now=now, actor=actor)
    cancelled = 0
    for attempt in store.pending_of_plans(connection, [p.id for p in plans]):
        plan = next(p for p in plans if p.id == attempt.plan_id)
        release_attempt(connection, attempt, status="cancelled", reason=reason, finished_at=now)
        note_result(connection, plan, attempt, "cancelled", reason, now=now, actor=actor)
        cancelled += 1
    for plan in plans:
        close_tasks(connection, plan, reason, now=now, actor=actor)
    return cancelled


def close_tasks(connection: Connection, plan: store.Plan, reason: str, *, now: datetime, actor: str) -> None:
    """Tell the agents that the plan's callback/email tasks are no longer needed: a note on the case
    (Salesforce) or on the task ticket (Zendesk). The task itself is left to the agent: the CRM port
    cannot read whether an agent already completed it, and solving a ticket needs an assignee."""
    for task in store.tasks_of_plans(connection, [plan.id]):
        if not store.has_writeback(connection, writeback_key(task.key, "task_cancelled", 0)):
            note_result(connection, plan, task, "task_cancelled", reason, now=now, actor=actor)


def close_plan(
    connection: Connection, plan: store.Plan, status: str, reason: str | None, *, now: datetime
) -> None:
    """End a plan: no further step is scheduled for it."""
    store.update_plan(connection, plan.id, status=status, closed_at=now, close_reason=reason)


def cancel_plan(connection: Connection, plan: store.Plan, reason: str, *, now: datetime, actor: str) -> None:
    """Cancel one plan and say so in its trail (its attempts are left as they are)."""
    close_plan(connection, plan, "cancelled", reason, now=now)
    audit_plan(connection, plan, "cancelled", now=now, actor=actor, reason=reason)


def audit_plan(
    connection: Connection, plan: store.Plan, event: str, *, now: datetime, actor: str, **details: str | None
) -> None:
    """A trail row about a plan as a whole; ``details``: its ``reason`` and ``detail``."""
    where: dict[str, Any] = {"plan_id": plan.id, "episode_id": plan.episode_id}
    store.audit(connection, at=now, event=event, actor=actor, **where, **details)


def audit_attempt(
    connection: Connection,
    attempt: store.Attempt,
    event: str,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    detail: str | None = None,
    guards: Sequence[Mapping[str, Any]] | None = None,
) -> None:
    """A trail row about one attempt, under its own plan and episode (those of the plan that scheduled it)."""
    store.audit(
        connection,
        at=now,
        plan_id=attempt.plan_id,
        attempt_id=attempt.id,
        episode_id=attempt.episode_id,
        event=event,
        reason=reason,
        detail=detail,
        guards=[dict(guard) for guard in guards] if guards is not None else None,
        actor=actor,
    )


def release_attempt(
    connection: Connection, attempt: store.Attempt, *, owner: str | None = None, **values: Any
) -> bool:
    """Update an attempt and drop its claim's lease; with ``owner``, only while that claim holds it (False
    when it was lost)."""
    return store.update_attempt(
        connection, attempt.id, owner=owner, lease_owner=None, lease_until=None, **values
    )


def requeue_attempt(
    connection: Connection,
    attempt: store.Attempt,
    due_at: datetime,
    *,
    owner: str | None = None,
    **values: Any,
) -> bool:
    """Make a claimed attempt pending again, due at ``due_at``, as if never started (no touch, nothing
    sent); the guards run again at its next claim."""
    return release_attempt(
        connection,
        attempt,
        owner=owner,
        status="pending",
        due_at=due_at,
        send_started=False,
        touched_at=None,
        **values,
    )


def note_result(
    connection: Connection,
    plan: store.Plan,
    attempt: store.Attempt,
    result: str,
    reason: str | None,
    *,
    now: datetime,
    actor: str,
    detail: str = "",
    guards: Sequence[Mapping[str, Any]] | None = None,
    seq: int = 0,
    disposition: str | None = None,
) -> None:
    """The trail row and the CRM note of one result."""
    audit_attempt(
        connection, attempt, result, now=now, actor=actor, reason=reason, detail=detail or None, guards=guards
    )
    code = disposition or RESULT_DISPOSITIONS.get(result) or SENT_DISPOSITIONS[attempt.action]
    subject, body = result_text(plan, attempt, result, reason, detail, guards)
    store.add_writeback(
        connection,
        {
            "key": writeback_key(attempt.key, result, seq),
            "attempt_id": attempt.id,
            "episode_id": plan.episode_id,
            "result": result,
            "disposition": code,
            "subject": subject[:255],
            "body": body,
            "status": "pending",
            "due_at": now,
            "created_at": now,
        },
    )


def result_text(
    plan: store.Plan,
    attempt: store.Attempt,
    result: str,
    reason: str | None,
    detail: str = "",
    guards: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[str, str]:
    """(subject, body) of the CRM note for one result."""
    label = ACTION_LABELS[attempt.action]
    steps = step_count(plan) or "?"
    why = REASON_TEXT.get(reason or "", reason or "")
    headline = {
        "sent": f"Recovery: {label} {'sent' if attempt.action == SMS else 'scheduled'}",
        "rescheduled": f"Recovery: {label} rescheduled ({why})",
        "blocked": f"Recovery: {label} blocked ({why})",
        "cancelled": f"Recovery: {label} cancelled ({why})",
        "failed": f"Recovery: {label} failed ({why})",
        "task_cancelled": f"Recovery: {label} task no longer needed ({why})",
    }[result]
    lines = [
        headline,
        f"Step {attempt.step + 1} of {steps} of policy {plan.policy!r}, after {plan.channel} {plan.outcome} "
        f"({plan.source}:{plan.event_id})",
    ]
    if detail:
        lines.append(detail)
    if guards:
        lines += ["", "Guards:"]
        lines += [f"  {'passed' if g['passed'] else 'FAILED'} {g['guard']}: {g['detail']}" for g in guards]
    lines += ["", f"CTI Hub recovery attempt {attempt.key}"]
    return headline, "\n".join(lines)
