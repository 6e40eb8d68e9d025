"""``RecoveryService``: the scheduler's tick, which plans, claims, guards, makes and writes back.

``RecoveryService.tick`` (APScheduler only fires it) does each phase in short transactions, never
across a network call:

1. plan: snapshot the matching policy, insert the first step's attempt (due at the failure + its
   delay, moved to the next allowed instant when that is outside the contact window);
2. claim due attempts (``FOR UPDATE SKIP LOCKED`` and a lease on PostgreSQL; a claim whose process
   died is claimed again after its lease), lock the customers' rows, and **re-check every guard
   inside that transaction** (``hub.domain.recovery.evaluate``): cancel, block, reschedule, or mark
   the attempt as a touch and keep the claim. For callbacks and emails, when the CRM can say, its
   do-not-contact flags are read between the claim and the guards, outside any transaction
   (``crm_consent``);
3. act outside the transaction: send the SMS (outreach port) or write the callback/email task (CRM
   port, idempotent by the attempt key); then record each result, its CRM note (the outbox) and the
   next step; the results of a claimed batch are recorded together, in one transaction;
4. write back (``writeback``): every result is appended to the episode's case/ticket with a
   RECOVERY_* disposition code, idempotent by its key.

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

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from hub.domain.catalog import Catalog
from hub.domain.consent import ConsentDecision
from hub.domain.contact_window import SERVICE, ContactLocation
from hub.domain.errors import (
    CrmAction,
    CrmError,
    OutreachError,
    OutreachRejected,
    OutreachUncertain,
)
from hub.domain.mapping import CrmMapping
from hub.domain.recovery import (
    CANCEL,
    RESCHEDULE,
    SEND,
    SMS,
    CrmFlagsRead,
    Policy,
    RecoveryConfig,
    Verdict,
    evaluate,
    first_due,
    planned_instant,
    window_closed,
)
from hub.domain.retry import retry_delay
from hub.ports import CRM, Clock, SmsMessage, SmsSender
from hub.services.contact_location import contact_location
from hub.store import consent as consent_store
from hub.store import episodes, links
from hub.store import recovery as store

from .batch import ClaimBatch, Work
from .crm_consent import CRM_UNAVAILABLE, CrmFlags, consent_source
from .crm_values import CrmValues
from .delivery import catch_up
from .keys import after, attempt_key, local_text, owner_name, utc_text
from .recording import (
    audit_attempt,
    audit_plan,
    cancel_plan,
    cancel_plans,
    close_plan,
    close_tasks,
    note_result,
    release_attempt,
    requeue_attempt,
)
from .settings import RecoverySettings, build_sender
from .tasks import TaskWriter
from .writeback import WriteBack

log = logging.getLogger(__name__)


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
                close_plan(connection, plan, "unmatched", "no_policy", now=now)
                audit_plan(connection, plan, "unmatched", now=now, actor=self.owner, reason="no_policy")
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
            cancel_plan(connection, plan, stop, now=now, actor=self.owner)
            return 1
        others = [other for other in store.open_plans(connection, plan.episode_id) if other.id != plan.id]
        if any((other.occurred_at, other.id) > (plan.occurred_at, plan.id) for other in others):
            cancel_plans(
                connection, [plan], reason="superseded", now=now, actor=self.owner
            )  # a later one wins
            return 1
        cancel_plans(connection, others, reason="superseded", now=now, actor=self.owner)
        store.update_plan(connection, plan.id, status="active")
        planned = f"policy {plan.policy!r}, step {plan.next_step + 1}"
        audit_plan(connection, plan, "planned", now=now, actor=self.owner, detail=planned)
        return 1 if self._schedule(connection, store.get_plan(connection, plan.id), now) else 0

    def _stop_reason(self, connection: Connection, plan: store.Plan, now: datetime) -> str | None:
        episode = episodes.get_episode(connection, plan.episode_id)
        facts = store.episode_facts(connection, plan.episode_id)
        if episode is None or episode.status != "open" or facts.closed_at is not None:
            return "episode_closed"
        if after(facts.resolved_at, plan.occurred_at):
            return "resolved"
        if after(facts.last_contact_at, plan.occurred_at):
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
            close_plan(connection, plan, "done", "all_steps_made", now=now)
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
            ClaimBatch.read(connection, [attempt], now, self.config).facts(
                attempt, plan, due, location=self.location(plan), sender_ready=self.sender_ready
            ),
            self.config,
        )
        moved = f", moved to {utc_text(due)} (contact window)" if due != planned_for else ""
        audit_attempt(
            connection,
            attempt,
            "scheduled",
            now=now,
            actor=self.owner,
            reason=preview.reason,
            detail=f"step {index + 1}: {step.action} planned for {utc_text(planned_for)}{moved}",
            guards=[check.as_dict() for check in preview.checks],
        )
        return True

    def _advance(self, connection: Connection, plan_id: int, now: datetime) -> store.Plan:
        plan = store.get_plan(connection, plan_id)
        if plan.status == "active":
            self._schedule(connection, plan, now)
        return plan

    def location(self, plan: store.Plan) -> ContactLocation:
        return contact_location(plan.phone, plan.postal_state, self.default_region)

    @property
    def values(self) -> CrmValues:
        return CrmValues(self.crm.name if self.crm else "", self.mapping, self.catalog)

    @property
    def sender_ready(self) -> bool:
        return self.sender is not None or self.dry_run

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

    def _claim(self, now: datetime, report: TickReport) -> list[Work] | None:
        """Claim a batch of due attempts and decide each inside a transaction (see ``_guard``).

        When some of them are callbacks/emails and the CRM can read its do-not-contact flags, the
        claim is committed first, the flags are read outside any transaction (the lease holds the
        attempts meanwhile), and the guards then run in a second transaction, on the attempts the
        claim still holds, after the flags are in the ledger, at the clock's time after the read.
        """
        until = now + timedelta(seconds=self.settings.lease_seconds)
        flags = self._crm_flags()
        with self.engine.begin() as connection:
            attempts = store.claim_due(
                connection, owner=self.owner, now=now, until=until, limit=self.settings.batch
            )
            if not attempts:
                return None
            report.claimed += len(attempts)
            if flags is None or not flags.wanted(attempts):
                return self._guard(connection, attempts, now, report, {})
            plans = store.get_plans(connection, (a.plan_id for a in attempts))
        reads = flags.read(attempts, plans)  # outside any transaction: a CRM call
        now = max(now, self.clock.now())  # the read took time: the guards run at the time after it
        with self.engine.begin() as connection:
            held = store.still_claimed(connection, [a.id for a in attempts], self.owner)
            if len(held) < len(attempts):
                log.warning("recovery: %d claim(s) lost while the CRM was read", len(attempts) - len(held))
            return self._guard(connection, held, now, report, flags.record(connection, held, reads, now))

    def _crm_flags(self) -> CrmFlags | None:
        source = None if self.dry_run else consent_source(self.crm)
        return CrmFlags(source, self.rng) if source is not None else None

    def _guard(
        self,
        connection: Connection,
        attempts: Sequence[store.Attempt],
        now: datetime,
        report: TickReport,
        crm_flags: Mapping[int, CrmFlagsRead],
    ) -> list[Work]:
        """Every guard of each claimed attempt, in the claim's transaction; the attempts to make now."""
        store.lock_customers(connection, (a.customer_key for a in attempts))
        batch = ClaimBatch.read(connection, attempts, now, self.config)
        work: list[Work] = []
        for attempt in attempts:
            plan = batch.plans[attempt.plan_id]
            if attempt.action == SMS and attempt.send_started:
                looking = "a previous claim may have sent it: looking for it first"
                audit_attempt(connection, attempt, "claimed", now=now, actor=self.owner, detail=looking)
                work.append(Work(attempt, plan, None))
                continue
            if plan.status in ("paused", "cancelled"):
                self._held_back(connection, plan, attempt, now)
                continue
            if attempt.claims > self.settings.max_claims:
                self._fail(connection, plan, attempt, "max_claims", now, report, "claimed too many times")
                continue
            facts = batch.facts(
                attempt,
                plan,
                now,
                location=self.location(plan),
                sender_ready=self.sender_ready,
                crm_flags=crm_flags.get(attempt.id),
            )
            verdict = evaluate(facts, self.config)
            if self._decide(connection, plan, attempt, verdict, now, report):
                batch.touched(attempt, now)
                work.append(Work(attempt, plan, verdict))
        return work

    def _held_back(
        self, connection: Connection, plan: store.Plan, attempt: store.Attempt, now: datetime
    ) -> None:
        """The plan was paused or cancelled after this attempt was scheduled: nothing is made. A paused
        plan's attempt waits, held, for a resume; a cancelled plan's attempt is cancelled."""
        if plan.status == "paused":
            release_attempt(
                connection, attempt, status="paused", reason="plan_paused", claims=attempt.claims - 1
            )
            audit_attempt(connection, attempt, "paused", now=now, actor=self.owner, reason="plan_paused")
            return
        release_attempt(connection, attempt, status="cancelled", reason=plan.close_reason, finished_at=now)
        note_result(connection, plan, attempt, "cancelled", plan.close_reason, now=now, actor=self.owner)

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
            passed = "every guard passed"
            audit_attempt(
                connection, attempt, "claimed", now=now, actor=self.owner, detail=passed, guards=guards
            )
            return True
        if verdict.decision == RESCHEDULE:
            assert verdict.next_at is not None
            # A claim that made nothing because the CRM could not be read does not count toward
            # max_claims: the attempt waits (with backoff) until the CRM answers or the plan expires.
            claims = attempt.claims - 1 if verdict.reason == CRM_UNAVAILABLE else attempt.claims
            requeue_attempt(
                connection,
                attempt,
                verdict.next_at,
                claims=claims,
                reschedules=attempt.reschedules + 1,
                reason=verdict.reason,
                guards=guards,
            )
            detail = f"moved to {utc_text(verdict.next_at)}{self._local(plan, verdict.next_at)}"
            note_result(
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
        release_attempt(
            connection,
            attempt,
            status=status,
            reason=verdict.reason,
            guards=guards,
            finished_at=now,
            touched_at=None,
            send_started=False,
        )
        note_result(
            connection, plan, attempt, status, verdict.reason, now=now, actor=self.owner, guards=guards
        )
        if verdict.decision == CANCEL:
            close_plan(connection, plan, "cancelled", verdict.reason, now=now)
            close_tasks(connection, plan, verdict.reason or "cancelled", now=now, actor=self.owner)
            report.cancelled += 1
        elif verdict.stops_plan:
            close_plan(connection, plan, "exhausted", verdict.reason, now=now)
            report.blocked += 1
        else:
            report.blocked += 1
            self._advance(connection, plan.id, now)
        return False

    def _local(self, plan: store.Plan, moment: datetime) -> str:
        return local_text(self.location(plan), moment)

    # -- 3. acting, outside any transaction ----------------------------------------------------------

    def _act(self, work: Work, now: datetime, report: TickReport, record: _Record) -> None:
        """Make one claimed attempt; ``record`` receives what to write about it (see ``run_due``).

        ``now`` is when the batch's guards ran; the attempt is made later (the batch's earlier
        attempts were made first), so one whose contact window has closed by then is not made but
        rescheduled (or blocked, or cancelled when the plan expires first)."""
        attempt, plan = work.attempt, work.plan
        if work.verdict is None:
            self._look_for_earlier_send(attempt, plan, now, report, record)
            return
        now = max(now, self.clock.now())
        late = window_closed(
            work.verdict,
            now,
            location=self.location(plan),
            config=self.config,
            purpose=plan.purpose or SERVICE,
            expires_at=plan.expires_at or plan.occurred_at,
        )
        if late is not None:
            verdict = late
            record(lambda c: self._window_closed(c, attempt, plan, verdict, now, report))
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
                lambda c: audit_attempt(c, attempt, "uncertain", now=now, actor=self.owner, detail=uncertain)
            )
        except OutreachRejected as exc:
            rejection = exc
            record(lambda c: self._rejected(c, attempt, plan, rejection, now, report))
        except (OutreachError, CrmError) as exc:
            retry = not (isinstance(exc, CrmError) and exc.action == CrmAction.FAIL_RECORD)
            detail, after = exc.describe(), exc.retry_after
            record(lambda c: self._release_or_fail(c, attempt, plan, now, report, detail, retry, after))

    def _window_closed(
        self,
        connection: Connection,
        attempt: store.Attempt,
        plan: store.Plan,
        verdict: Verdict,
        now: datetime,
        report: TickReport,
    ) -> None:
        """Nothing was made: apply what replaces "send", while our claim still holds the attempt."""
        if not store.still_claimed(connection, [attempt.id], self.owner):
            log.warning("recovery attempt %s: the claim was lost before its window closed", attempt.key)
            return
        self._decide(connection, plan, attempt, verdict, now, report)

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
        intent = self.values.intent_label(plan.intent).lower()
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
            receipt, earlier = found, "found sent by an earlier claim"
            record(
                lambda c: self._finish_sent(
                    c, attempt, plan, now, report, provider_id=receipt.id, detail=earlier
                )
            )
            return
        record(lambda c: self._release_unsent(c, attempt, now, report))

    def _release_unsent(
        self,
        connection: Connection,
        attempt: store.Attempt,
        now: datetime,
        report: TickReport,
    ) -> None:
        """An earlier claim did not send it: due again now, the guards run again at the next claim."""
        self._retry(connection, attempt, now, report, due_at=now, why="an earlier claim did not send it")

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
        writer = TaskWriter(self.crm, self.values, self.location(plan))
        made = writer.write(case.id, attempt, plan, verdict, now)
        record(
            lambda c: self._finish_sent(
                c,
                attempt,
                plan,
                now,
                report,
                case_id=made.case_id,
                activity_id=made.activity_id,
                detail=made.detail,
                note=made.note,
            )
        )

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
        recorded = release_attempt(
            connection,
            attempt,
            owner=self.owner,
            status="sent",
            finished_at=now,
            provider_id=provider_id,
            case_id=case_id,
            activity_id=activity_id,
            detail=detail or None,
        )
        if not recorded:
            log.warning("recovery attempt %s: the claim was lost before its result was recorded", attempt.key)
            return
        if note:
            note_result(connection, plan, attempt, "sent", None, now=now, actor=self.owner, detail=detail)
        else:
            made = detail or f"task {activity_id} on {case_id}"
            audit_attempt(connection, attempt, "sent", now=now, actor=self.owner, detail=made)
        if attempt.action == SMS and provider_id and not self.dry_run:
            catch_up(connection, attempt, plan, provider_id, now)  # a status callback that came first
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
        release_attempt(
            connection,
            attempt,
            status="failed",
            reason=reason[:60],
            detail=detail[:2000],
            finished_at=now,
            touched_at=touched if reason == "outcome_unknown" else None,
        )
        note_result(
            connection, plan, attempt, "failed", reason[:60], now=now, actor=self.owner, detail=detail
        )
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
        due = now + timedelta(seconds=delay)
        self._retry(connection, attempt, now, report, due_at=due, why=detail[:2000], detail=detail[:2000])

    def _retry(
        self,
        connection: Connection,
        attempt: store.Attempt,
        now: datetime,
        report: TickReport,
        *,
        due_at: datetime,
        why: str,
        **values: Any,
    ) -> None:
        """Release our claim (while it holds): the attempt is due again at ``due_at``, the trail says
        ``why``; ``values`` are further columns to set."""
        if requeue_attempt(connection, attempt, due_at, owner=self.owner, **values):
            audit_attempt(connection, attempt, "retry", now=now, actor=self.owner, detail=why)
        report.retried += 1

    # -- 4. writing the results back to the case/ticket ------------------------------------------------

    def write_back(self, now: datetime, report: TickReport | None = None) -> int:
        if self.crm is None:
            return 0
        written = WriteBack(self.engine, self.crm, self.values, self.settings, self.rng).run(now)
        if report is not None:
            report.written += written
        return written
