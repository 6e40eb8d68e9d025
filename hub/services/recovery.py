"""Outbound recovery: capped, consent-checked, window-aware follow-ups, each written back to the case.

Recording needs no configuration, so the paths that learn something record it in their own
transaction:

    plan_for_outcome(connection, outcome, episode_id=, customer_key=, identifiers=, now=)
        the link worker, in the transaction that records the link: a failed / abandoned / unanswered
        inbound outcome is recorded as a plan (``recovery_plans``, status ``recorded``); any inbound
        outcome is the customer coming back, which cancels what earlier failures planned; a
        ``resolved`` one marks the episode resolved.
    on_episode_event(connection, event, now=)
        ``apply_episode_event``: a customer message cancels pending attempts (the customer came back
        on their own); the case/ticket solved, closed or merged cancels them all.

**Plans are never lost**: the plan row is written in the same transaction as the link that caused
it (a crash before the commit leaves the inbox row to be linked again, which records it again, once:
``trigger_key`` is unique), and everything after it is re-derivable from it: a plan in ``recorded``
state (new, or whose next step could not be inserted yet) is planned by the next tick from its
stored policy snapshot and ``next_step``; each next step is inserted in the transaction that
finishes the previous one.

``RecoveryService.tick`` (the scheduler's; APScheduler only fires it) does the rest, each phase in
short transactions, never across a network call:

1. plan: snapshot the matching policy, insert the first step's attempt (due at the failure + its
   delay, moved to the next allowed instant when that is outside the contact window);
2. claim due attempts (``FOR UPDATE SKIP LOCKED`` and a lease on PostgreSQL; a claim whose process
   died is claimed again after its lease), lock the customers' rows, and **re-check every guard
   inside that transaction** (``hub.domain.recovery.evaluate``): cancel, block, reschedule, or mark
   the attempt as a touch and keep the claim;
3. act outside the transaction: send the SMS (outreach port) or write the callback/email task (CRM
   port, idempotent by the attempt key); then record each result, its CRM note (the outbox) and the
   next step; the results of a claimed batch are recorded together, in one transaction;
4. write back: every result (sent, blocked and by which guard, rescheduled, cancelled, failed) is
   appended to the episode's case/ticket with a RECOVERY_* disposition code, idempotent by its key.

Crash windows. A CRM write is idempotent by its key, so a callback/email attempt re-claimed after a
crash is simply written again. An SMS is not (Twilio has no idempotency key): the claim that decides
to send marks ``send_started`` in the claim transaction; a later claim that finds it set asks the
sender for a message already sent for this attempt (``SmsSender.find``: same recipient and body since
the claim) and records that one instead of sending. What remains: a message created at Twilio but not
yet listed by its API when the next claim looks (the lease, 120 s by default, makes this unlikely),
and a lookup that fails until ``max_claims``, after which the attempt is recorded ``failed`` with
``outcome_unknown`` (and counted as a touch): at most once, never twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from hub.domain.catalog import Catalog
from hub.domain.consent import ConsentDecision
from hub.domain.contact_window import SERVICE, ContactLocation
from hub.domain.errors import (
    ConfigError,
    CrmAction,
    CrmError,
    OutreachError,
    OutreachRejected,
    OutreachUncertain,
    Problem,
)
from hub.domain.identity import EMAIL, PHONE, Identifier
from hub.domain.mapping import CrmMapping
from hub.domain.outcome import Outcome
from hub.domain.recovery import (
    ACTION_LABELS,
    CALLBACK,
    CANCEL,
    CHANNEL_OF,
    RECOVERY_OUTCOMES,
    RESCHEDULE,
    RESULT_DISPOSITIONS,
    SEND,
    SENT_DISPOSITIONS,
    SMS,
    GuardFacts,
    Policy,
    RecoveryConfig,
    Verdict,
    evaluate,
    first_due,
    planned_instant,
)
from hub.domain.retry import retry_delay
from hub.ports import (
    CRM,
    ActivityWrite,
    CaseWrite,
    Clock,
    CustomerProfile,
    OutreachConfig,
    SmsMessage,
    SmsSender,
)
from hub.services.contact_location import contact_location
from hub.store import consent as consent_store
from hub.store import episodes, links
from hub.store import recovery as store

log = logging.getLogger(__name__)

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
    "episode_cap": "the episode's attempt cap was reached",
    "unknown_time_zone": "the customer's time zone is unknown",
    "no_common_window": "no instant is allowed in every time zone the customer may be in",
    "outside_contact_window": "outside the contact window",
    "sms_not_configured": "no SMS sender is configured",
    "outcome_unknown": "the provider could not confirm whether the message was sent",
    "no_policy": "no recovery policy matches",
}


def owner_name() -> str:
    """This process and thread, as a claim's owner (as the link worker names itself)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:32]


def trigger_key(source: str, event_id: str) -> str:
    return "rt_" + _digest("trigger", source, event_id)


def attempt_key(trigger: str, step: int) -> str:
    """URL-safe and fixed-length: the CRM activity key (Salesforce External ID) of the attempt."""
    return "rc_" + _digest("attempt", trigger, step)


def writeback_key(attempt: str, result: str, seq: int) -> str:
    return "rc_" + _digest("writeback", attempt, result, seq)


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _step_count(plan: store.Plan) -> int:
    return len((plan.steps or {}).get("steps") or ())


def _after(moment: datetime | None, reference: datetime) -> bool:
    return moment is not None and moment > reference


# --- recording (no configuration needed) ---------------------------------------------------------


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
        store.update_plan(connection, plan.id, status="cancelled", closed_at=now, close_reason=reason)
        store.audit(
            connection,
            at=now,
            plan_id=plan.id,
            episode_id=plan.episode_id,
            event="cancelled",
            reason=reason,
            actor=actor,
        )
    cancelled = 0
    for attempt in store.pending_of_plans(connection, [p.id for p in plans]):
        plan = next(p for p in plans if p.id == attempt.plan_id)
        store.update_attempt(
            connection,
            attempt.id,
            status="cancelled",
            reason=reason,
            finished_at=now,
            lease_owner=None,
            lease_until=None,
        )
        _note(connection, plan, attempt, "cancelled", reason, now=now, actor=actor)
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
            _note(connection, plan, task, "task_cancelled", reason, now=now, actor=actor)


def _note(
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
    store.audit(
        connection,
        at=now,
        plan_id=plan.id,
        attempt_id=attempt.id,
        episode_id=plan.episode_id,
        event=result,
        reason=reason,
        detail=detail or None,
        guards=list(guards) if guards is not None else None,
        actor=actor,
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
    steps = _step_count(plan) or "?"
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


# --- settings and the sender ------------------------------------------------------------------------


@dataclass(frozen=True)
class RecoverySettings:
    """``CTIHUB_RECOVERY_*`` settings."""

    batch: int = 100  # CTIHUB_RECOVERY_BATCH: attempts claimed per transaction
    max_batches: int = 50  # CTIHUB_RECOVERY_MAX_BATCHES: per tick and phase
    lease_seconds: float = 120.0  # CTIHUB_RECOVERY_LEASE_SECONDS: a claim's hold on an attempt
    max_claims: int = 5  # CTIHUB_RECOVERY_MAX_CLAIMS: then the attempt is failed
    writeback_max_tries: int = 10  # CTIHUB_RECOVERY_WRITEBACK_MAX_TRIES
    missing_case_retry_seconds: float = 300.0  # CTIHUB_RECOVERY_MISSING_CASE_RETRY_SECONDS

    @classmethod
    def from_settings(cls, settings: Any) -> RecoverySettings:
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = settings.value(f"RECOVERY_{item.name.upper()}")
            if raw is None:
                continue
            try:
                number = float(raw)
            except ValueError:
                number = -1.0
            if number <= 0:
                raise ConfigError(
                    f"CTIHUB_RECOVERY_{item.name.upper()} must be a positive number",
                    [Problem(f"CTIHUB_RECOVERY_{item.name.upper()}", repr(raw))],
                )
            values[item.name] = int(number) if item.type in ("int", int) else number
        return cls(**values)


OUTREACH_GROUP = "cti_hub.outreach"
TWILIO_SETTINGS = (
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "API_KEY_SID",
    "API_KEY_SECRET",
    "FROM_NUMBER",
    "MESSAGING_SERVICE_SID",
    "STATUS_CALLBACK_URL",
    "API_BASE_URL",
)


def build_sender(settings: Any) -> SmsSender | None:
    """The SMS sender: the sandbox's with ``--sandbox``, Twilio when ``CTIHUB_TWILIO_ACCOUNT_SID`` is
    set, otherwise None (SMS attempts are then blocked with ``sms_not_configured``)."""
    if settings.sandbox:
        name, values = "sandbox", {}
    elif settings.value("TWILIO_ACCOUNT_SID"):
        name = "twilio"
        values = {key.lower(): settings.value(f"TWILIO_{key}") for key in TWILIO_SETTINGS}
        values = {key: value for key, value in values.items() if value}
    else:
        return None
    found = {ep.name: ep for ep in entry_points(group=OUTREACH_GROUP)}
    if name not in found:
        raise ConfigError(f"no {OUTREACH_GROUP} plugin named {name!r} (is cti-hub installed?)")
    factory = found[name].load()
    return factory(  # type: ignore[no-any-return]
        OutreachConfig(
            settings=values,
            connect_timeout=settings.crm_connect_timeout,
            read_timeout=settings.crm_read_timeout,
        )
    )


# --- the service ----------------------------------------------------------------------------------


@dataclass
class TickReport:
    planned: int = 0
    claimed: int = 0
    sent: int = 0
    rescheduled: int = 0
    blocked: int = 0
    cancelled: int = 0
    failed: int = 0
    retried: int = 0
    written: int = 0

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


_Record = Callable[[Callable[[Connection], None]], None]


@dataclass(frozen=True)
class _Work:
    attempt: store.Attempt
    plan: store.Plan
    verdict: Verdict | None  # None: a previous claim may have sent this SMS; look for it first


@dataclass
class _Batch:
    """What the guards read for a batch of claimed attempts, read once inside the claim transaction
    (touches are kept current as the batch decides to make attempts)."""

    plans: dict[int, store.Plan]
    open_episodes: set[str]
    episode_facts: dict[str, store.EpisodeFacts]
    consents: dict[tuple[str, str], ConsentDecision | None]
    customer_touches: dict[str, list[tuple[int, datetime]]]
    episode_touches: dict[str, list[tuple[int, datetime]]]

    @classmethod
    def read(
        cls, connection: Connection, attempts: Sequence[store.Attempt], now: datetime, config: RecoveryConfig
    ) -> _Batch:
        longest = max((cap.window for cap in config.customer_caps), default=timedelta(days=7))
        episode_ids = [a.episode_id for a in attempts]
        return cls(
            plans=store.get_plans(connection, (a.plan_id for a in attempts)),
            open_episodes=store.open_episodes(connection, episode_ids),
            episode_facts=store.facts_of_episodes(connection, episode_ids),
            consents=store.standing_consents(
                connection, ((a.channel, a.address) for a in attempts if a.address)
            ),
            customer_touches=store.touches_by(
                connection, "customer_key", (a.customer_key for a in attempts), since=now - longest
            ),
            episode_touches=store.touches_by(connection, "episode_id", episode_ids),
        )

    def facts(
        self, attempt: store.Attempt, plan: store.Plan, now: datetime, service: RecoveryService
    ) -> GuardFacts:
        facts = self.episode_facts[plan.episode_id]
        own = attempt.id
        return GuardFacts(
            at=now,
            action=attempt.action,
            purpose=plan.purpose or SERVICE,
            episode_open=plan.episode_id in self.open_episodes and facts.closed_at is None,
            came_back=_after(facts.last_contact_at, plan.occurred_at),
            resolved=_after(facts.resolved_at, plan.occurred_at),
            expires_at=plan.expires_at or plan.occurred_at,
            address=attempt.address,
            consent=self.consents.get((attempt.channel, attempt.address)) if attempt.address else None,
            episode_touches=sum(1 for i, _ in self.episode_touches[plan.episode_id] if i != own),
            customer_touches=tuple(t for i, t in self.customer_touches[attempt.customer_key] if i != own),
            location=service.location(plan),
            sender_ready=service.sender is not None or service.dry_run,
        )

    def touched(self, attempt: store.Attempt, now: datetime) -> None:
        self.customer_touches[attempt.customer_key].append((attempt.id, now))
        self.episode_touches[attempt.episode_id].append((attempt.id, now))


@dataclass
class RecoveryService:
    engine: Engine
    config: RecoveryConfig
    clock: Clock
    crm: CRM | None = None
    mapping: CrmMapping | None = None
    catalog: Catalog | None = None
    sender: SmsSender | None = None
    settings: RecoverySettings = field(default_factory=RecoverySettings)
    default_region: str = "US"
    owner: str = field(default_factory=owner_name)
    dry_run: bool = False  # ``ctihub recovery simulate``: decide everything, send and write nothing
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def for_hub(cls, hub: Any) -> RecoveryService | None:
        """From a ``hub.bootstrap.Hub``: ``mappings/recovery.yaml`` (None without it: no recovery), its
        CRM and mapping, and the SMS sender for its settings."""
        from hub.mappings.recovery import load_recovery_config

        config = load_recovery_config(hub.mappings.directory)
        if config is None:
            return None
        sender = build_sender(hub.settings)
        if (
            sender is None
            and config.enabled
            and any(
                step.action == SMS for policy in config.policies if policy.enabled for step in policy.steps
            )
        ):
            log.warning("recovery policies send SMS but no sender is configured (CTIHUB_TWILIO_ACCOUNT_SID)")
        return cls(
            engine=hub.engine,
            config=config,
            clock=hub.clock,
            crm=hub.crm,
            mapping=hub.mappings.crm(hub.settings.crm),
            catalog=hub.mappings.catalog,
            sender=sender,
            settings=RecoverySettings.from_settings(hub.settings),
            default_region=hub.settings.default_region,
        )

    # -- the scheduler's tick ---------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Plan what was recorded, make what is due, write the results back (each idempotent)."""
        now = self.clock.now()
        report = TickReport()
        if self.config.enabled:
            report.planned = self.plan_recorded(now)
            self.run_due(now, report)
        if not self.dry_run:
            self.write_back(now, report)
        if report:
            log.info("recovery tick: %s", report)
        return report

    # -- 1. planning ---------------------------------------------------------------------------------

    def plan_recorded(self, now: datetime) -> int:
        planned = 0
        for _ in range(self.settings.max_batches):
            with self.engine.begin() as connection:
                plans = store.claim_recorded(connection, self.settings.batch)
                progress = sum(self._plan(connection, plan, now) for plan in plans)
            planned += progress
            if len(plans) < self.settings.batch or not progress:
                break
        return planned

    def _plan(self, connection: Connection, plan: store.Plan, now: datetime) -> int:
        """Plan one recorded plan (1) or leave it recorded for the next tick (0)."""
        if plan.steps is None:
            policy = self.config.policy_for(channel=plan.channel, intent=plan.intent, outcome=plan.outcome)
            if policy is None:
                store.update_plan(
                    connection, plan.id, status="unmatched", closed_at=now, close_reason="no_policy"
                )
                store.audit(
                    connection,
                    at=now,
                    plan_id=plan.id,
                    episode_id=plan.episode_id,
                    event="unmatched",
                    reason="no_policy",
                    actor=self.owner,
                )
                return 1
            snapshot = policy.as_dict()
            expires = plan.occurred_at + policy.ttl
            store.update_plan(
                connection,
                plan.id,
                policy=policy.name[:200],
                purpose=policy.purpose,
                steps=snapshot,
                expires_at=expires,
                planned_at=now,
            )
            plan = store.get_plan(connection, plan.id)
        stop = self._stop_reason(connection, plan, now)
        if stop is not None:
            store.update_plan(connection, plan.id, status="cancelled", closed_at=now, close_reason=stop)
            store.audit(
                connection,
                at=now,
                plan_id=plan.id,
                episode_id=plan.episode_id,
                event="cancelled",
                reason=stop,
                actor=self.owner,
            )
            return 1
        others = [other for other in store.open_plans(connection, plan.episode_id) if other.id != plan.id]
        if any((other.occurred_at, other.id) > (plan.occurred_at, plan.id) for other in others):
            cancel_plans(
                connection, [plan], reason="superseded", now=now, actor=self.owner
            )  # a later one wins
            return 1
        cancel_plans(connection, others, reason="superseded", now=now, actor=self.owner)
        store.update_plan(connection, plan.id, status="active")
        store.audit(
            connection,
            at=now,
            plan_id=plan.id,
            episode_id=plan.episode_id,
            event="planned",
            detail=f"policy {plan.policy!r}, step {plan.next_step + 1}",
            actor=self.owner,
        )
        return 1 if self._schedule(connection, store.get_plan(connection, plan.id), now) else 0

    def _stop_reason(self, connection: Connection, plan: store.Plan, now: datetime) -> str | None:
        episode = episodes.get_episode(connection, plan.episode_id)
        facts = store.episode_facts(connection, plan.episode_id)
        if episode is None or episode.status != "open" or facts.closed_at is not None:
            return "episode_closed"
        if _after(facts.resolved_at, plan.occurred_at):
            return "resolved"
        if _after(facts.last_contact_at, plan.occurred_at):
            return "customer_came_back"
        if plan.expires_at is not None and now > plan.expires_at:
            return "expired"
        return None

    def _schedule(self, connection: Connection, plan: store.Plan, now: datetime) -> bool:
        """Insert the attempt of the plan's next step (or close a plan whose steps are done).

        False when the episode still has another live attempt (a claim in flight): the plan goes back
        to ``recorded`` and the next tick schedules it; nothing is lost.
        """
        steps = Policy.steps_from(plan.steps or {"steps": []})
        index = plan.next_step
        if index >= len(steps):
            store.update_plan(
                connection, plan.id, status="done", closed_at=now, close_reason="all_steps_made"
            )
            return True
        step = steps[index]
        touches = store.episode_touches(connection, plan.episode_id)
        planned_for = planned_instant(
            step,
            failed_at=plan.occurred_at,
            last_touch_at=max(touches, default=None),
            now=now,
            config=self.config,
        )
        purpose = plan.purpose or SERVICE
        due = first_due(planned_for, self.location(plan), step.action, self.config, purpose)
        address = plan.email if step.action == "email" else plan.phone
        attempt_id = store.insert_attempt(
            connection,
            {
                "key": attempt_key(plan.trigger_key, index),
                "plan_id": plan.id,
                "episode_id": plan.episode_id,
                "customer_key": plan.customer_key,
                "step": index,
                "action": step.action,
                "channel": step.channel,
                "address": address,
                "planned_for": planned_for,
                "due_at": due,
                "status": "pending",
                "created_at": now,
            },
        )
        if attempt_id is None:
            store.update_plan(connection, plan.id, status="recorded")
            return False
        store.update_plan(connection, plan.id, status="active", next_step=index + 1)
        # The guards as they stand now, for the trail (consent may still be given before the claim,
        # which decides with the facts of its own moment).
        attempt = store.get_attempt(connection, attempt_id)
        preview = evaluate(
            _Batch.read(connection, [attempt], now, self.config).facts(attempt, plan, due, self), self.config
        )
        moved = f", moved to {_utc_text(due)} (contact window)" if due != planned_for else ""
        store.audit(
            connection,
            at=now,
            plan_id=plan.id,
            attempt_id=attempt_id,
            episode_id=plan.episode_id,
            event="scheduled",
            reason=preview.reason,
            detail=f"step {index + 1}: {step.action} planned for {_utc_text(planned_for)}{moved}",
            guards=[check.as_dict() for check in preview.checks],
            actor=self.owner,
        )
        return True

    def _advance(self, connection: Connection, plan_id: int, now: datetime) -> store.Plan:
        plan = store.get_plan(connection, plan_id)
        if plan.status == "active":
            self._schedule(connection, plan, now)
        return plan

    def location(self, plan: store.Plan) -> ContactLocation:
        return contact_location(plan.phone, plan.postal_state, self.default_region)

    # -- 2. claiming, with every guard re-checked in the claim's transaction ------------------------

    def run_due(self, now: datetime, report: TickReport | None = None) -> TickReport:
        report = report if report is not None else TickReport()
        for _ in range(self.settings.max_batches):
            work = self._claim(now, report)
            if work is None:
                break
            # Act on the whole batch, then record every result in one transaction (a crash before its
            # commit leaves the attempts claimed: re-claimed after the lease, SMS looked up first).
            results: list[Callable[[Connection], None]] = []
            for item in work:
                self._act(item, now, report, results.append)
            if results:
                with self.engine.begin() as connection:
                    for record in results:
                        record(connection)
        return report

    def _claim(self, now: datetime, report: TickReport) -> list[_Work] | None:
        until = now + timedelta(seconds=self.settings.lease_seconds)
        with self.engine.begin() as connection:
            attempts = store.claim_due(
                connection, owner=self.owner, now=now, until=until, limit=self.settings.batch
            )
            if not attempts:
                return None
            report.claimed += len(attempts)
            store.lock_customers(connection, (a.customer_key for a in attempts))
            batch = _Batch.read(connection, attempts, now, self.config)
            work: list[_Work] = []
            for attempt in attempts:
                plan = batch.plans[attempt.plan_id]
                if attempt.action == SMS and attempt.send_started:
                    store.audit(
                        connection,
                        at=now,
                        plan_id=plan.id,
                        attempt_id=attempt.id,
                        episode_id=plan.episode_id,
                        event="claimed",
                        detail="a previous claim may have sent it: looking for it first",
                        actor=self.owner,
                    )
                    work.append(_Work(attempt, plan, None))
                    continue
                if attempt.claims > self.settings.max_claims:
                    self._fail(connection, plan, attempt, "max_claims", now, report, "claimed too many times")
                    continue
                verdict = evaluate(batch.facts(attempt, plan, now, self), self.config)
                if self._decide(connection, plan, attempt, verdict, now, report):
                    batch.touched(attempt, now)
                    work.append(_Work(attempt, plan, verdict))
            return work

    def _decide(
        self,
        connection: Connection,
        plan: store.Plan,
        attempt: store.Attempt,
        verdict: Verdict,
        now: datetime,
        report: TickReport,
    ) -> bool:
        """Apply a verdict in the claim's transaction; True when the attempt is to be made now."""
        guards = [check.as_dict() for check in verdict.checks]
        if verdict.decision == SEND:
            store.update_attempt(
                connection, attempt.id, touched_at=now, send_started=True, guards=guards, reason=None
            )
            store.audit(
                connection,
                at=now,
                plan_id=plan.id,
                attempt_id=attempt.id,
                episode_id=plan.episode_id,
                event="claimed",
                detail="every guard passed",
                guards=guards,
                actor=self.owner,
            )
            return True
        if verdict.decision == RESCHEDULE:
            assert verdict.next_at is not None
            store.update_attempt(
                connection,
                attempt.id,
                status="pending",
                due_at=verdict.next_at,
                reschedules=attempt.reschedules + 1,
                reason=verdict.reason,
                guards=guards,
                lease_owner=None,
                lease_until=None,
                touched_at=None,
                send_started=False,
            )
            detail = f"moved to {_utc_text(verdict.next_at)}{self._local(plan, verdict.next_at)}"
            _note(
                connection,
                plan,
                attempt,
                "rescheduled",
                verdict.reason,
                now=now,
                actor=self.owner,
                detail=detail,
                guards=guards,
                seq=attempt.reschedules + 1,
            )
            report.rescheduled += 1
            return False
        status = "cancelled" if verdict.decision == CANCEL else "blocked"
        store.update_attempt(
            connection,
            attempt.id,
            status=status,
            reason=verdict.reason,
            guards=guards,
            finished_at=now,
            lease_owner=None,
            lease_until=None,
            touched_at=None,
            send_started=False,
        )
        _note(connection, plan, attempt, status, verdict.reason, now=now, actor=self.owner, guards=guards)
        if verdict.decision == CANCEL:
            store.update_plan(
                connection, plan.id, status="cancelled", closed_at=now, close_reason=verdict.reason
            )
            close_tasks(connection, plan, verdict.reason or "cancelled", now=now, actor=self.owner)
            report.cancelled += 1
        elif verdict.stops_plan:
            store.update_plan(
                connection, plan.id, status="exhausted", closed_at=now, close_reason=verdict.reason
            )
            report.blocked += 1
        else:
            report.blocked += 1
            self._advance(connection, plan.id, now)
        return False

    def _local(self, plan: store.Plan, moment: datetime) -> str:
        zones = self.location(plan).zones
        if not zones:
            return ""
        local = moment.astimezone(ZoneInfo(zones[0]))
        return f" ({local:%a %H:%M} {local.tzname()}, {zones[0]})"

    # -- 3. acting, outside any transaction ----------------------------------------------------------

    def _act(self, work: _Work, now: datetime, report: TickReport, record: _Record) -> None:
        """Make one claimed attempt; ``record`` receives what to write about it (see ``run_due``)."""
        attempt, plan = work.attempt, work.plan
        if work.verdict is None:
            self._look_for_earlier_send(attempt, plan, now, report, record)
            return
        if self.dry_run:
            record(lambda c: self._finish_sent(c, attempt, plan, now, report, provider_id="preview"))
            return
        try:
            if attempt.action == SMS:
                assert self.sender is not None
                receipt = self.sender.send(self._message(attempt, plan, now))
                record(lambda c: self._finish_sent(c, attempt, plan, now, report, provider_id=receipt.id))
            else:
                self._write_task(attempt, plan, work.verdict, now, report, record)
        except OutreachUncertain as exc:
            # The message may exist: keep the claim (send_started is set); after the lease, the next
            # claim looks for it before sending anything.
            log.warning("recovery SMS %s: outcome unknown (%s); looked up after the lease", attempt.key, exc)
            uncertain = exc.describe()
            record(
                lambda c: store.audit(
                    c,
                    at=now,
                    plan_id=plan.id,
                    attempt_id=attempt.id,
                    episode_id=plan.episode_id,
                    event="uncertain",
                    detail=uncertain,
                    actor=self.owner,
                )
            )
        except OutreachRejected as exc:
            rejection = exc
            record(lambda c: self._rejected(c, attempt, plan, rejection, now, report))
        except (OutreachError, CrmError) as exc:
            retry = not (isinstance(exc, CrmError) and exc.action == CrmAction.FAIL_RECORD)
            detail, after = exc.describe(), exc.retry_after
            record(lambda c: self._release_or_fail(c, attempt, plan, now, report, detail, retry, after))

    def _rejected(
        self,
        connection: Connection,
        attempt: store.Attempt,
        plan: store.Plan,
        exc: OutreachRejected,
        now: datetime,
        report: TickReport,
    ) -> None:
        """A permanent refusal fails the attempt; a provider's "opted out" is a revocation for the ledger."""
        if exc.opted_out and attempt.address:
            consent_store.record_consent(
                connection,
                ConsentDecision(
                    "sms",
                    attempt.address,
                    False,
                    now,
                    f"{exc.provider}:{exc.provider_code}",
                    exc.message[:500],
                ),
                now=now,
                customer_key=attempt.customer_key,
                source_ref=f"{attempt.key}:opted_out",
            )
        self._fail(connection, plan, attempt, exc.provider_code or "rejected", now, report, exc.describe())

    def _message(self, attempt: store.Attempt, plan: store.Plan, now: datetime) -> SmsMessage:
        intent = self._intent_label(plan.intent).lower()
        body = self.config.sms_text(intent=intent, ref=attempt.key, episode_id=plan.episode_id)
        return SmsMessage(
            key=attempt.key, to=attempt.address or "", body=body, not_before=attempt.touched_at or now
        )

    def _look_for_earlier_send(
        self, attempt: store.Attempt, plan: store.Plan, now: datetime, report: TickReport, record: _Record
    ) -> None:
        try:
            found = (
                None
                if self.dry_run or self.sender is None
                else self.sender.find(self._message(attempt, plan, now))
            )
        except OutreachError as exc:
            if attempt.claims >= self.settings.max_claims:
                detail = exc.describe()
                record(lambda c: self._fail(c, plan, attempt, "outcome_unknown", now, report, detail))
            return  # keep the claim: the lease expires and the next claim looks again
        if found is not None:
            receipt = found
            record(
                lambda c: self._finish_sent(
                    c,
                    attempt,
                    plan,
                    now,
                    report,
                    provider_id=receipt.id,
                    detail="found sent by an earlier claim",
                )
            )
            return
        record(lambda c: self._release_unsent(c, attempt, plan, now, report))

    def _release_unsent(
        self,
        connection: Connection,
        attempt: store.Attempt,
        plan: store.Plan,
        now: datetime,
        report: TickReport,
    ) -> None:
        """An earlier claim did not send it: due again now, the guards run again at the next claim."""
        released = store.update_attempt(
            connection,
            attempt.id,
            owner=self.owner,
            status="pending",
            due_at=now,
            send_started=False,
            touched_at=None,
            lease_owner=None,
            lease_until=None,
        )
        if released:
            store.audit(
                connection,
                at=now,
                plan_id=plan.id,
                attempt_id=attempt.id,
                episode_id=plan.episode_id,
                event="retry",
                detail="an earlier claim did not send it",
                actor=self.owner,
            )
        report.retried += 1

    def _write_task(
        self,
        attempt: store.Attempt,
        plan: store.Plan,
        verdict: Verdict,
        now: datetime,
        report: TickReport,
        record: _Record,
    ) -> None:
        """The callback (or email) task in the CRM, idempotent by the attempt key."""
        assert self.crm is not None
        with self.engine.connect() as connection:
            case = links.episode_case(connection, plan.episode_id, self.crm.name)
        if case is None:
            detail = f"no {self.crm.name} case linked to the episode yet"
            after = self.settings.missing_case_retry_seconds
            record(lambda c: self._release_or_fail(c, attempt, plan, now, report, detail, True, after))
            return
        until = verdict.until or now + timedelta(hours=1)
        action = "Call" if attempt.action == CALLBACK else "Email"
        label = self._intent_label(plan.intent)
        back = " back" if attempt.action == CALLBACK else ""
        subject = f"Recovery: {action} {plan.customer_name or 'the customer'}{back} about {label}"
        due_text = f"{_utc_text(now)}{self._local(plan, now)}"
        where = attempt.address or "-"
        lines = [
            f"{action} {plan.customer_name or 'the customer'} at {where} about {label}: their {plan.channel} "
            f"interaction ended {plan.outcome} at {_utc_text(plan.occurred_at)}.",
            f"Due {due_text}; {'call' if action == 'Call' else 'send'} before {_utc_text(until)}"
            f"{self._local(plan, until)} (the customer's contact window).",
            f"Step {attempt.step + 1} of {_step_count(plan)} of policy {plan.policy!r}; "
            f"episode {plan.episode_id}, ticket/case {case.id}.",
            "",
            "Guards passed:",
            *(f"  {c.guard}: {c.detail}" for c in verdict.checks),
            "",
            f"CTI Hub recovery attempt {attempt.key}",
        ]
        body = "\n".join(lines)
        code = SENT_DISPOSITIONS[attempt.action]
        activity = self._activity(attempt.key, subject, body, code, plan, attempt, now)
        profile = self._profile(plan)
        retrying = attempt.claims > 1
        if self.crm.name == "salesforce":
            task_fields = {
                **activity.fields,
                "Subject": subject[:255],
                "Status": "Not Started",
                "Priority": "High",
                "ActivityDate": now.astimezone(self._zone(plan)).date().isoformat(),
                "ReminderDateTime": _utc_text(now),
                "IsReminderSet": True,
                "CallType": "Outbound",
            }
            if attempt.action != CALLBACK:
                task_fields.pop("CallType")
            result = self.crm.append_activity(
                case.id,
                ActivityWrite(
                    key=attempt.key,
                    body=body,
                    fields=task_fields,
                    case_fields=activity.case_fields,
                    customer=profile,
                ),
                retrying=retrying,
            )
            task = result.activity.id
            record(
                lambda c: self._finish_sent(
                    c, attempt, plan, now, report, case_id=case.id, activity_id=task, note=False
                )
            )
            return
        # Zendesk (and any CRM whose case is a ticket): a task ticket due at the attempt time, linked to
        # the episode's ticket by the episode field and its text; a note on the episode's ticket names it.
        ticket_fields = {
            **self._case_fields(plan, attempt, code, subject, body, now, creating=True),
            "subject": subject[:255],
            "type": "task",
            "due_at": _utc_text(until),
        }
        result = self.crm.create_case(
            CaseWrite(key=attempt.key, fields=ticket_fields, customer=profile),
            ActivityWrite(key=attempt.key, body=body, fields=activity.fields, customer=profile),
            retrying=retrying,
        )
        made = result
        record(
            lambda c: self._finish_sent(
                c,
                attempt,
                plan,
                now,
                report,
                case_id=made.case.id,
                activity_id=made.activity.id,
                detail=f"task {made.case.object} {made.case.id} due {_utc_text(until)}",
            )
        )

    def _zone(self, plan: store.Plan) -> ZoneInfo:
        zones = self.location(plan).zones
        return ZoneInfo(zones[0]) if zones else ZoneInfo("UTC")

    def _finish_sent(
        self,
        connection: Connection,
        attempt: store.Attempt,
        plan: store.Plan,
        now: datetime,
        report: TickReport,
        *,
        provider_id: str | None = None,
        case_id: str | None = None,
        activity_id: str | None = None,
        detail: str = "",
        note: bool = True,
    ) -> None:
        """Record a made attempt, its CRM note (unless the action was the CRM write itself) and the next
        step, in one transaction. A claim lost meanwhile (another process re-claimed after our lease)
        records nothing: that process finds what we did."""
        recorded = store.update_attempt(
            connection,
            attempt.id,
            owner=self.owner,
            status="sent",
            finished_at=now,
            provider_id=provider_id,
            case_id=case_id,
            activity_id=activity_id,
            lease_owner=None,
            lease_until=None,
            detail=detail or None,
        )
        if not recorded:
            log.warning("recovery attempt %s: the claim was lost before its result was recorded", attempt.key)
            return
        if note:
            _note(connection, plan, attempt, "sent", None, now=now, actor=self.owner, detail=detail)
        else:
            store.audit(
                connection,
                at=now,
                plan_id=plan.id,
                attempt_id=attempt.id,
                episode_id=plan.episode_id,
                event="sent",
                detail=detail or f"task {activity_id} on {case_id}",
                actor=self.owner,
            )
        current = self._advance(connection, plan.id, now)
        if current.status == "cancelled" and attempt.action != SMS:  # cancelled while it was being made
            close_tasks(connection, current, current.close_reason or "cancelled", now=now, actor=self.owner)
        report.sent += 1

    def _fail(
        self,
        connection: Connection,
        plan: store.Plan,
        attempt: store.Attempt,
        reason: str,
        now: datetime,
        report: TickReport,
        detail: str,
    ) -> None:
        """A failed attempt stays a touch when it may have reached the customer (``send_started``)."""
        touched = attempt.touched_at if attempt.send_started else None
        store.update_attempt(
            connection,
            attempt.id,
            status="failed",
            reason=reason[:60],
            detail=detail[:2000],
            finished_at=now,
            lease_owner=None,
            lease_until=None,
            touched_at=touched if reason == "outcome_unknown" else None,
        )
        _note(connection, plan, attempt, "failed", reason[:60], now=now, actor=self.owner, detail=detail)
        report.failed += 1
        self._advance(connection, plan.id, now)

    def _release_or_fail(
        self,
        connection: Connection,
        attempt: store.Attempt,
        plan: store.Plan,
        now: datetime,
        report: TickReport,
        detail: str,
        retry: bool,
        retry_after: float | None,
    ) -> None:
        """Nothing was made: try again later (the guards run again then), or fail after ``max_claims``."""
        if not retry or attempt.claims >= self.settings.max_claims:
            self._fail(
                connection, plan, attempt, "rejected" if not retry else "max_claims", now, report, detail
            )
            return
        delay = retry_delay(attempt.claims, retry_after=retry_after, base=30.0, rng=self.rng)
        released = store.update_attempt(
            connection,
            attempt.id,
            owner=self.owner,
            status="pending",
            due_at=now + timedelta(seconds=delay),
            send_started=False,
            touched_at=None,
            lease_owner=None,
            lease_until=None,
            detail=detail[:2000],
        )
        if released:
            store.audit(
                connection,
                at=now,
                plan_id=plan.id,
                attempt_id=attempt.id,
                episode_id=plan.episode_id,
                event="retry",
                detail=detail[:2000],
                actor=self.owner,
            )
        report.retried += 1

    # -- 4. writing the results back to the case/ticket ------------------------------------------------

    def write_back(self, now: datetime, report: TickReport | None = None) -> int:
        report = report if report is not None else TickReport()
        if self.crm is None:
            return 0
        until = now + timedelta(seconds=self.settings.lease_seconds)
        written = 0
        for _ in range(self.settings.max_batches):
            with self.engine.begin() as connection:
                batch = store.claim_writebacks(connection, now=now, until=until, limit=self.settings.batch)
            for item in batch:
                written += self._write_one(item, now)
            if len(batch) < self.settings.batch:
                break
        report.written += written
        return written

    def _write_one(self, item: store.Writeback, now: datetime) -> int:
        assert self.crm is not None
        with self.engine.connect() as connection:
            case = links.episode_case(connection, item.episode_id, self.crm.name)
            attempt = store.get_attempt(connection, item.attempt_id)
            plan = store.get_plan(connection, attempt.plan_id)
        if case is None:
            self._retry_writeback(
                item, now, f"no {self.crm.name} case linked yet", self.settings.missing_case_retry_seconds
            )
            return 0
        target = case.id
        activity = self._activity(item.key, item.subject, item.body, item.disposition, plan, attempt, now)
        if item.result == "task_cancelled" and self.crm.name != "salesforce" and attempt.case_id:
            target = attempt.case_id  # the task ticket
            case_fields = self._case_fields(
                plan, attempt, item.disposition, item.subject, item.body, now, creating=False
            )
            activity = replace(activity, case_fields=case_fields)
        try:
            result = self.crm.append_activity(target, activity, retrying=item.tries > 1)
        except CrmError as exc:
            if exc.action == CrmAction.FAIL_RECORD or item.tries >= self.settings.writeback_max_tries:
                with self.engine.begin() as connection:
                    store.finish_writeback(
                        connection, item.id, status="failed", last_error=exc.describe()[:2000]
                    )
                log.error("recovery note %s could not be written: %s", item.key, exc.describe())
                return 0
            self._retry_writeback(item, now, exc.describe(), exc.retry_after)
            return 0
        with self.engine.begin() as connection:
            store.finish_writeback(
                connection,
                item.id,
                status="done",
                done_at=now,
                lease_until=None,
                case_id=target,
                activity_id=result.activity.id,
                last_error=None,
            )
        return 1

    def _retry_writeback(
        self, item: store.Writeback, now: datetime, error: str, retry_after: float | None
    ) -> None:
        delay = retry_delay(item.tries, retry_after=retry_after, base=30.0, rng=self.rng)
        with self.engine.begin() as connection:
            store.finish_writeback(
                connection,
                item.id,
                due_at=now + timedelta(seconds=delay),
                lease_until=None,
                last_error=error[:2000],
            )

    # -- CRM values ------------------------------------------------------------------------------------

    def _intent_label(self, intent: str) -> str:
        found = self.catalog.intents.get(intent) if self.catalog else None
        return found.label if found else intent.replace("_", " ")

    def _context(
        self, plan: store.Plan, attempt: store.Attempt, code: str, subject: str, body: str, now: datetime
    ) -> dict[str, Any]:
        disposition = self.catalog.dispositions.get(code) if self.catalog else None
        crm = self.crm.name if self.crm else ""
        return {
            "event.source": "cti-hub-recovery",
            "event.event_id": attempt.key,
            "event.key": attempt.key,
            "event.channel": CHANNEL_OF[attempt.action],
            "event.direction": "outbound",
            "event.intent": plan.intent,
            "event.occurred_at": now,
            "intent.code": plan.intent,
            "intent.label": self._intent_label(plan.intent),
            "disposition.code": code,
            "disposition.label": disposition.label if disposition else code,
            "disposition.outcome_class": disposition.outcome_class if disposition else None,
            "disposition.value": disposition.crm_values.get(crm) if disposition else None,
            "disposition.tags": list(disposition.crm_tags.get(crm, ())) if disposition else [],
            "customer.key": plan.customer_key,
            "customer.phone": plan.phone,
            "customer.email": plan.email,
            "customer.name": plan.customer_name,
            "episode.id": plan.episode_id,
            "activity.subject": subject,
            "activity.body": body,
        }

    def _activity(
        self,
        key: str,
        subject: str,
        body: str,
        code: str,
        plan: store.Plan,
        attempt: store.Attempt,
        now: datetime,
    ) -> ActivityWrite:
        """A note through the admin's field mapping, as the link worker writes its activities."""
        context = self._context(plan, attempt, code, subject, body, now)
        activity_fields = self.mapping.activity.apply(context, creating=True) if self.mapping else {}
        # The case keeps the channel of the customer's own contacts; the note carries the touch's channel.
        case_context = {k: v for k, v in context.items() if k != "event.channel"}
        case_fields = self.mapping.case.apply(case_context, creating=False) if self.mapping else {}
        return ActivityWrite(
            key=key, body=body, fields=activity_fields, case_fields=case_fields, customer=self._profile(plan)
        )

    def _case_fields(
        self,
        plan: store.Plan,
        attempt: store.Attempt,
        code: str,
        subject: str,
        body: str,
        now: datetime,
        *,
        creating: bool,
    ) -> dict[str, Any]:
        context = self._context(plan, attempt, code, subject, body, now)
        context.pop("intent.code")  # a task ticket is no second ticket of the intent (dedup must not see one)
        context.pop("event.channel")
        return self.mapping.case.apply(context, creating=creating) if self.mapping else {}

    @staticmethod
    def _profile(plan: store.Plan) -> CustomerProfile:
        return CustomerProfile(
            key=plan.customer_key,
            name=plan.customer_name,
            phone=plan.phone,
            email=plan.email,
            external_ids=dict(plan.external_ids),
        )
