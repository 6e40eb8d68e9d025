"""Outbound recovery: capped, consent-checked, window-aware follow-ups, each written back to the case.

One module per purpose:

    recording     what the link worker and the episode events record (no configuration needed):
                  plans, cancellations, each result's trail row and CRM note
    engine        ``RecoveryService``: the scheduler's tick (plan, claim and guard, act, write back)
    batch         what the guards read for a batch of claimed attempts, inside the claim
    crm_consent   the CRM's own do-not-contact flags, read before a callback/email attempt is claimed
    delivery      Twilio's delivery statuses of recovery texts (status callbacks)
    writeback     the outbox of CRM notes, appended to the case/ticket
    holds         an agent's pause, resume or cancel of an episode's follow-ups (the agent panel)
    crm_values    the field mapping and catalog values of what recovery writes
    settings      ``CTIHUB_RECOVERY_*`` and the SMS sender
    keys          derived keys (plans, attempts, notes) and small helpers

**Plans are never lost**: the plan row is written in the same transaction as the link that caused
it (a crash before the commit leaves the inbox row to be linked again, which records it again, once:
``trigger_key`` is unique), and everything after it is re-derivable from it: a plan in ``recorded``
state (new, or whose next step could not be inserted yet) is planned by the next tick from its
stored policy snapshot and ``next_step``; each next step is inserted in the transaction that
finishes the previous one.

Callers import from here: ``plan_for_outcome``, ``on_episode_event``, ``RecoveryService``,
``RecoverySettings``, ``TickReport``, ``build_sender``.
"""

from __future__ import annotations

from .engine import RecoveryService, TickReport
from .holds import cancel_by_agent, pause_episode, resume_episode
from .keys import attempt_key, owner_name, trigger_key, writeback_key
from .recording import (
    REASON_TEXT,
    cancel_episode,
    cancel_plans,
    close_tasks,
    on_episode_event,
    plan_for_outcome,
    result_text,
)
from .settings import OUTREACH_GROUP, TWILIO_SETTINGS, RecoverySettings, build_sender

__all__ = [
    "OUTREACH_GROUP",
    "REASON_TEXT",
    "TWILIO_SETTINGS",
    "RecoveryService",
    "RecoverySettings",
    "TickReport",
    "attempt_key",
    "build_sender",
    "cancel_by_agent",
    "cancel_episode",
    "cancel_plans",
    "close_tasks",
    "on_episode_event",
    "owner_name",
    "pause_episode",
    "plan_for_outcome",
    "result_text",
    "resume_episode",
    "trigger_key",
    "writeback_key",
]
