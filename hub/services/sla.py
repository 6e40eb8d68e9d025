"""SLA clocks that follow the customer: record what happens to an episode, derive its clocks, act on them.

Recording needs no configuration, so every path that learns something can record it cheaply inside
its own transaction:

    record_outcome(connection, episode_id, outcome, crm=, now=)   # the link worker: a customer contact
    record_episode_event(connection, event, now=)                  # apply_episode_event: replies, statuses

``SlaService`` holds the policies and does the rest: it matches each recorded event once (the policy
in force from that event on, so an edited policy applies from the next event), derives the clocks
from the history (``hub.domain.sla``), caches the latest clock of each metric for the scheduler,
and acts on warnings and breaches once each: a row in ``sla_actions`` under a unique key first, then
one idempotent CRM write (priority raised, tags, due/status fields and an internal comment).

The case's mapped due/status fields follow the clocks (``sla_field_writes``): each derivation records
what they should say, and each writer what they now say: the link path (``case_fields``, whose
values ride on the outcome's write), a warning/breach action, or the tick's field sync, which
writes the rest (a reply or status change from a channel webhook) with ``CRM.update_case``, once
per change, under a claim, retried with backoff.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from hub.domain.errors import CrmError
from hub.domain.outcome import Outcome
from hub.domain.retry import retry_delay
from hub.domain.sla import (
    CUSTOMER_MESSAGE,
    EVENT_KINDS,
    MERGED,
    PRIORITIES,
    AppliedPolicy,
    MetricClock,
    SlaAction,
    SlaConfig,
    SlaEvent,
    compute_clocks,
    current_clocks,
    overall_status,
)
from hub.ports import CRM, ActivityWrite, Clock
from hub.store import episodes, links
from hub.store import sla as store
from hub.store.sla import FieldWrite

log = logging.getLogger(__name__)

WARNING = "warning"
BREACH = "breach"
METRIC_LABELS = {
    "first_reply_time": "First reply time",
    "next_reply_time": "Next reply time",
    "periodic_update_time": "Periodic update time",
    "pausable_update_time": "Pausable update time",
    "requester_wait_time": "Requester wait time",
    "agent_work_time": "Agent work time",
    "total_resolution_time": "Total resolution time",
}


@dataclass(frozen=True)
class SlaSettings:
    """``CTIHUB_SLA_*`` settings."""

    warn_before_minutes: float = (
        15.0  # CTIHUB_SLA_WARN_BEFORE_MINUTES: lead for policies without one; 0: none
    )
    batch: int = 200  # CTIHUB_SLA_BATCH: episodes (and actions) handled per tick and step
    action_lease_seconds: float = 120.0  # CTIHUB_SLA_ACTION_LEASE_SECONDS: one tick's hold on an action
    missing_case_retry_seconds: float = 300.0  # CTIHUB_SLA_MISSING_CASE_RETRY_SECONDS
    max_attempts: int = 10  # CTIHUB_SLA_MAX_ATTEMPTS: CRM write attempts before an action is given up

    @classmethod
    def from_settings(cls, settings: Any) -> SlaSettings:
        """From ``hub.settings.Settings.value``; a malformed number is a ConfigError."""
        from hub.domain.errors import ConfigError, Problem

        def number(name: str, default: float) -> float:
            raw = settings.value(f"SLA_{name}")
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                value = -1.0
            if value < 0:
                raise ConfigError(
                    f"CTIHUB_SLA_{name} must be a number, zero or more",
                    [Problem(f"CTIHUB_SLA_{name}", repr(raw))],
                )
            return value

        return cls(
            warn_before_minutes=number("WARN_BEFORE_MINUTES", cls.warn_before_minutes),
            batch=max(1, int(number("BATCH", cls.batch))),
            action_lease_seconds=number("ACTION_LEASE_SECONDS", cls.action_lease_seconds),
            missing_case_retry_seconds=number("MISSING_CASE_RETRY_SECONDS", cls.missing_case_retry_seconds),
            max_attempts=max(1, int(number("MAX_ATTEMPTS", cls.max_attempts))),
        )


# --- recording (no configuration needed) ---------------------------------------------------------


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:32]


def record_outcome(
    connection: Connection, episode_id: str, outcome: Outcome, *, crm: str, now: datetime
) -> bool:
    """Record an inbound outcome as a customer message of the episode (once per source:event_id).

    Outbound outcomes (our follow-ups) are not customer contacts and record nothing.
    """
    if outcome.direction != "inbound":
        return False
    tier = outcome.metadata.get("tier")
    return store.record_event(
        connection,
        {
            "episode_id": episode_id,
            "kind": CUSTOMER_MESSAGE,
            "at": outcome.occurred_at,
            "public": True,
            "channel": outcome.channel,
            "intent": outcome.intent,
            "priority": outcome.priority,
            "crm": crm,
            "tier": None if tier is None else str(tier)[:64],
            "event_key": "oc_" + _digest(outcome.source, outcome.event_id),
            "recorded_at": now,
        },
    )


def record_episode_event(connection: Connection, event: Any, *, now: datetime) -> bool:
    """Record a ``hub.services.episode_events.EpisodeEvent`` (a redelivery records nothing)."""
    if event.kind not in EVENT_KINDS:
        return False
    return store.record_event(
        connection,
        {
            "episode_id": event.episode_id,
            "kind": event.kind,
            "at": event.at,
            "public": bool(event.public),
            "status": event.status,
            "merged_into": event.merged_into,
            "channel": event.channel,
            "event_key": "ee_"
            + _digest(
                event.episode_id,
                event.kind,
                event.at.isoformat(),
                event.public,
                event.status,
                event.channel,
                event.merged_into,
            ),
            "recorded_at": now,
        },
    )


# --- deriving ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeSla:
    """An episode's history as the clocks saw it, and the clocks."""

    episode_id: str
    events: tuple[tuple[store.StoredEvent, AppliedPolicy | None], ...]  # own and merged-in, in order
    clocks: tuple[MetricClock, ...]  # every instance
    priority: str  # the episode's priority after its latest event

    @property
    def current(self) -> list[MetricClock]:
        return current_clocks(self.clocks)

    @property
    def policy(self) -> AppliedPolicy | None:
        return self.events[-1][1] if self.events else None


@dataclass
class SlaService:
    engine: Engine
    config: SlaConfig | None
    clock: Clock
    crm: CRM | None = None
    settings: SlaSettings = field(default_factory=SlaSettings)

    @classmethod
    def for_hub(cls, hub: Any) -> SlaService:
        """From a ``hub.bootstrap.Hub``: its engine, clock, CRM and ``mappings.sla``."""
        return cls(
            engine=hub.engine,
            config=hub.mappings.sla,
            clock=hub.clock,
            crm=hub.crm,
            settings=SlaSettings.from_settings(hub.settings),
        )

    # -- reading ----------------------------------------------------------------------------------

    def episode(self, episode_id: str, now: datetime | None = None) -> EpisodeSla:
        """The clocks as of ``now``, without writing (events not matched yet are matched in memory)."""
        now = now or self.clock.now()
        with self.engine.connect() as connection:
            return self._derive(connection, episode_id, now, persist=False)

    def episode_on(self, connection: Connection, episode_id: str, now: datetime) -> EpisodeSla:
        """``episode`` on the caller's connection (the agent panel reads everything on one)."""
        return self._derive(connection, episode_id, now, persist=False)

    # -- writing ----------------------------------------------------------------------------------

    def refresh(self, connection: Connection, episode_id: str, now: datetime) -> EpisodeSla:
        """Match new events, derive the clocks and cache them, inside the caller's transaction.

        An episode merged into another refreshes that one too: its history joins the target's.
        """
        derived = self._derive(connection, episode_id, now, persist=True)
        target = store.merge_target(connection, episode_id)
        if target is not None and target != episode_id:
            self._derive(connection, target, now, persist=True)
        return derived

    def case_fields(self, episode_id: str, crm: str | None = None) -> dict[str, Any]:
        """The mapped SLA fields (due time, status) for the episode's case/ticket, after a refresh.

        For the link path: merge them into ``CaseWrite.fields`` / ``ActivityWrite.case_fields``.
        Empty without SLA configuration for the CRM or without clocks.

        They are recorded as written now, before the link's CRM write, so the field sync does not
        repeat them. A link that fails is retried by the worker and asks again (recording again);
        one that is dead-lettered is replayed after the fix, and any later change rewrites both fields.
        """
        with self.engine.begin() as connection:
            return self.case_fields_on(connection, episode_id, crm)

    def case_fields_on(
        self, connection: Connection, episode_id: str, crm: str | None = None
    ) -> dict[str, Any]:
        """``case_fields`` inside the caller's transaction (the linker's: one commit per event)."""
        now = self.clock.now()
        name = crm or (self.crm.name if self.crm else "")
        derived = self.refresh(connection, episode_id, now)
        fields = self.fields_for(derived, name)
        if fields:
            store.fields_written(connection, episode_id, name, store.canonical(fields), now, by=store.LINK)
        return fields

    def fields_for(self, derived: EpisodeSla, crm: str) -> dict[str, Any]:
        mapping = self.config.crm.get(crm) if self.config else None
        if mapping is None or not derived.clocks:
            return {}
        status, due = overall_status(derived.current)
        fields: dict[str, Any] = {}
        if mapping.due_field:
            fields[mapping.due_field] = _utc_text(due)
        if mapping.status_field:
            fields[mapping.status_field] = status
        return fields

    # -- the scheduler's tick ---------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Match new history, find clocks due a warning or breached, act on each once."""
        now = self.clock.now()
        report = TickReport()
        with self.engine.begin() as connection:
            dirty = store.unassigned_episodes(connection, self.settings.batch)
        for episode_id in dirty:
            with self.engine.begin() as connection:
                self.refresh(connection, episode_id, now)
            report.refreshed += 1
        with self.engine.connect() as connection:
            due = store.episodes_due(connection, now, self.settings.batch)
        for episode_id in due:
            with self.engine.begin() as connection:
                derived = self.refresh(connection, episode_id, now)
                report.recorded += self._record_actions(connection, derived, now)
        if self.crm is not None:
            lease = now + timedelta(seconds=self.settings.action_lease_seconds)
            with self.engine.begin() as connection:
                actions = store.claim_actions(connection, now, lease, self.settings.batch)
            for action in actions:
                report.written += self._perform(action, now)
            report.synced = self.sync_fields()
        if report.recorded or report.written or report.synced:
            log.info("sla tick: %s", report)
        return report

    def sync_fields(self) -> int:
        """Write the SLA fields of each case whose clocks changed since they were last written.

        Safe across scheduler processes: each row is claimed on its own, with a lease counted from
        the clock at that moment (up to ``batch`` CRM calls run one after another, so a lease counted
        from the tick's start would run out before its turn), under a token of its own; the claim is
        checked and extended right before its write, and only its holder finishes or retries it.
        Never raises. A failure of any kind counts as an attempt and is retried with backoff, until
        ``max_attempts``: then the change is given up, logged and noted. Returns the writes made.
        """
        if self.crm is None:
            return 0
        written = 0
        for _ in range(self.settings.batch):
            claim = self._claim_field_write(self.crm.name)
            if claim is None:
                break
            try:
                written += self._sync_one(claim)
            except Exception as exc:
                self._field_write_failed(claim, exc)
        return written

    # -- inside -----------------------------------------------------------------------------------

    def _claim_field_write(self, crm: str) -> FieldWrite | None:
        """The next change to write, claimed now for one lease; None when there is none (or no database)."""
        now = self.clock.now()
        until = now + timedelta(seconds=self.settings.action_lease_seconds)
        try:
            with self.engine.begin() as connection:
                claimed = store.claim_field_writes(connection, crm, now, until, 1)
        except Exception:
            log.exception("sla field sync: could not claim the fields to write")
            return None
        return claimed[0] if claimed else None

    def _sync_one(self, claim: FieldWrite) -> int:
        """One ``update_case`` for one claimed episode; 1 when written."""
        assert self.crm is not None
        now = self.clock.now()
        with self.engine.begin() as connection:
            case = links.episode_case(connection, claim.episode_id, claim.crm)
            if case is None:
                self._no_case_yet(connection, claim, now)
                return 0
            fields = self.fields_for(self.refresh(connection, claim.episode_id, now), claim.crm)
            if not fields:  # the refresh recorded that nothing is wanted
                store.finish_field_write(connection, claim, now, note="no SLA fields")
                return 0
            text = store.canonical(fields)
            now = self.clock.now()
            until = now + timedelta(seconds=self.settings.action_lease_seconds)
            held = store.hold_field_write(connection, claim, now, until, text)
            if held == store.ALREADY_WRITTEN:
                store.finish_field_write(connection, claim, now)
                return 0
        if held == store.LOST:
            log.info(
                "sla fields of episode %s not written: the claim ran out first, its next holder writes them",
                claim.episode_id,
            )
            return 0
        try:
            self.crm.update_case(case.id, fields, key=field_write_key(claim.episode_id, text))
        except CrmError as exc:
            self._field_write_failed(claim, exc)
            return 0
        with self.engine.begin() as connection:
            ours = store.finish_field_write(connection, claim, self.clock.now(), fields=text, case_id=case.id)
        if not ours:  # recorded all the same: a later holder sees them written and does not repeat them
            log.warning(
                "sla fields of episode %s written after the claim ran out (CTIHUB_SLA_ACTION_LEASE_SECONDS)",
                claim.episode_id,
            )
        return 1

    def _no_case_yet(self, connection: Connection, claim: FieldWrite, now: datetime) -> None:
        """Try again later while the episode may still get its case; give up once it cannot.

        A case linked after that is written by the link path itself (``case_fields``).
        """
        episode = episodes.get_episode(connection, claim.episode_id)
        if episode is None:
            why = "the episode is gone"
        elif episode.status != "open":
            why = "the episode is closed"
        elif episode.closes_at <= now:
            why = "the episode's window has passed"
        else:
            retry_at = now + timedelta(seconds=self.settings.missing_case_retry_seconds)
            note = f"no {claim.crm} case linked yet"
            store.retry_field_write(connection, claim, retry_at, note, counted=False)
            return
        note = f"gave up: no {claim.crm} case linked and {why}"
        if store.finish_field_write(connection, claim, now, note=note):
            log.warning("sla fields of episode %s %s", claim.episode_id, note)

    def _field_write_failed(self, claim: FieldWrite, exc: Exception) -> None:
        """Count the failed attempt: retry with backoff, or give up after the last one. Only the
        claim's holder does either; when even that fails, the claim runs out and a later tick retries."""
        crm_error = isinstance(exc, CrmError)
        reason = str(exc) if crm_error else f"{type(exc).__name__}: {exc}"
        give_up = claim.attempts >= self.settings.max_attempts
        now = self.clock.now()
        try:
            with self.engine.begin() as connection:
                if give_up:
                    ours = store.finish_field_write(connection, claim, now, note=f"gave up: {reason}")
                else:
                    retry_after = exc.retry_after if isinstance(exc, CrmError) else None
                    delay = retry_delay(claim.attempts, retry_after=retry_after)
                    ours = store.retry_field_write(connection, claim, now + timedelta(seconds=delay), reason)
        except Exception:
            log.exception("sla fields of episode %s: could not record the failure", claim.episode_id)
            ours = False
        if give_up and ours:
            log.error(
                "sla fields of episode %s given up after %d attempts: %s",
                claim.episode_id,
                claim.attempts,
                reason,
                exc_info=None if crm_error else exc,
            )
        elif crm_error:
            log.warning("sla fields of episode %s not written: %s", claim.episode_id, reason)
        else:
            log.error("sla fields of episode %s not written: %s", claim.episode_id, reason, exc_info=exc)

    def _want(self, connection: Connection, derived: EpisodeSla, now: datetime) -> None:
        """Record what the case's SLA fields should say, as of this derivation: nothing, too, when
        nothing is mapped any more (so a mapping restored with the value wanted before is written)."""
        if self.crm is None:
            return
        fields = self.fields_for(derived, self.crm.name)
        store.want_fields(connection, derived.episode_id, self.crm.name, store.canonical(fields), now)

    def _derive(self, connection: Connection, episode_id: str, now: datetime, *, persist: bool) -> EpisodeSla:
        own = self._matched(connection, episode_id, now, persist=persist)
        merged: list[tuple[store.StoredEvent, AppliedPolicy | None]] = []
        for source, merged_at in store.merged_sources(connection, episode_id):
            merged += [
                pair
                for pair in self._matched(connection, source, now, persist=persist)
                if pair[0].at <= merged_at and pair[0].kind != MERGED
            ]
        events = sorted([*own, *merged], key=lambda pair: (pair[0].at, pair[0].id))
        sla_events = [
            SlaEvent(kind=e.kind, at=e.at, public=e.public, status=e.status, policy=applied, order=e.id)
            for e, applied in events
        ]
        clocks = compute_clocks(sla_events, now, warn_before_minutes=self.settings.warn_before_minutes)
        priority = "normal"
        for stored, _ in events:
            if stored.at <= now and stored.attributes.get("priority"):
                priority = stored.attributes["priority"] or priority
        derived = EpisodeSla(episode_id, tuple(events), tuple(clocks), priority)
        if persist:
            store.store_clocks(connection, episode_id, derived.current, now)
            self._want(connection, derived, now)
        return derived

    def _matched(
        self, connection: Connection, episode_id: str, now: datetime, *, persist: bool
    ) -> list[tuple[store.StoredEvent, AppliedPolicy | None]]:
        """The episode's own events, each with the policy in force from it (matched now if new).

        Attributes carry forward: an agent reply or a status change keeps the channel, intent,
        priority, CRM and tier of the events before it.
        """
        attributes: dict[str, str | None] = {}
        matched = []
        for stored in store.episode_events(connection, episode_id):
            attributes.update({k: v for k, v in stored.attributes.items() if v is not None})
            applied = stored.applied
            if not stored.assigned:
                applied = self.config.apply(attributes) if self.config else None
                if persist:
                    store.assign(connection, stored.id, applied, now)
            matched.append((stored, applied))
        return matched

    def _record_actions(self, connection: Connection, derived: EpisodeSla, now: datetime) -> int:
        recorded = 0
        for clock in derived.current:
            if not clock.is_running:
                continue
            if clock.status == "breached":
                kind = BREACH
            elif clock.status == "active" and clock.warn_at is not None and clock.warn_at <= now:
                kind = WARNING
            else:
                continue
            recorded += store.record_action(
                connection,
                {
                    "episode_id": derived.episode_id,
                    "metric": clock.metric,
                    "instance": clock.instance,
                    "kind": kind,
                    "key": action_key(derived.episode_id, clock.metric, clock.instance, kind),
                    "due_at": clock.due_at,
                    "breached_at": clock.breached_at,
                    "created_at": now,
                },
            )
        return recorded

    def _perform(self, action: store.Action, now: datetime) -> int:
        """One CRM write for one action; 1 when written. A failure is retried by a later tick."""
        assert self.crm is not None
        with self.engine.begin() as connection:
            case = links.episode_case(connection, action.episode_id, self.crm.name)
            derived = self._derive(connection, action.episode_id, now, persist=False)
            if case is None:
                retry_at = now + timedelta(seconds=self.settings.missing_case_retry_seconds)
                store.retry_action(connection, action.id, retry_at, f"no {self.crm.name} case linked yet")
                return 0
            clock = next(
                (c for c in derived.clocks if c.metric == action.metric and c.instance == action.instance),
                None,
            )
            if clock is None or not clock.is_running:
                store.finish_action(
                    connection,
                    action.id,
                    now,
                    case_id=case.id,
                    note="skipped: the clock was met before we acted",
                )
                return 0
        activity = self._activity(action, clock, derived)
        try:
            result = self.crm.append_activity(case.id, activity, retrying=action.attempts > 1)
        except CrmError as exc:
            with self.engine.begin() as connection:
                if action.attempts >= self.settings.max_attempts:
                    store.finish_action(connection, action.id, now, case_id=case.id, note=f"gave up: {exc}")
                else:
                    delay = retry_delay(action.attempts, retry_after=exc.retry_after)
                    store.retry_action(connection, action.id, now + timedelta(seconds=delay), str(exc))
            log.warning(
                "sla %s for %s/%s not written: %s", action.kind, action.episode_id, action.metric, exc
            )
            return 0
        sla_fields = {
            name: activity.case_fields.get(name) for name in self.fields_for(derived, self.crm.name)
        }
        with self.engine.begin() as connection:
            store.finish_action(connection, action.id, now, case_id=case.id, activity_id=result.activity.id)
            if sla_fields:
                text = store.canonical(sla_fields)
                store.fields_written(
                    connection, action.episode_id, self.crm.name, text, now, by=store.ACTION, case_id=case.id
                )
        return 1

    def _activity(self, action: store.Action, clock: MetricClock, derived: EpisodeSla) -> ActivityWrite:
        assert self.crm is not None
        mapping = self.config.crm.get(self.crm.name) if self.config else None
        crm_action = (
            (mapping.breach if action.kind == BREACH else mapping.warning) if mapping else SlaAction()
        )
        case_fields: dict[str, Any] = dict(self.fields_for(derived, self.crm.name))
        wanted = crm_action.raise_priority_to
        if mapping and mapping.priority_field and wanted and _rank(wanted) > _rank(derived.priority):
            case_fields[mapping.priority_field] = mapping.priority_values.get(wanted, wanted)
        if crm_action.tags:
            case_fields["tags"] = list(crm_action.tags)
        case_fields.update(crm_action.case_fields)
        return ActivityWrite(
            key=action.key,
            body=action_text(action.kind, clock),
            fields=dict(crm_action.activity_fields),
            case_fields=case_fields,
        )


@dataclass
class TickReport:
    refreshed: int = 0  # episodes whose new history was matched
    recorded: int = 0  # warnings and breaches recorded
    written: int = 0  # CRM writes made
    synced: int = 0  # cases whose SLA fields were written alone (``update_case``)


def action_key(episode_id: str, metric: str, instance: int, kind: str) -> str:
    """``sla_`` + 32 hex digits: URL-safe and fixed length, like the link path's ``ev_`` keys."""
    return "sla_" + _digest(episode_id, metric, instance, kind)


def field_write_key(episode_id: str, fields: str) -> str:
    """``slaf_`` + 32 hex digits naming one change of an episode's case fields, for logs and tracing."""
    return "slaf_" + _digest(episode_id, fields)


def _rank(priority: str) -> int:
    return PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("normal")


def _utc_text(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def describe_minutes(minutes: float) -> str:
    minutes = round(minutes, 2)
    whole = int(minutes) if float(minutes).is_integer() else minutes
    return f"{whole} minute{'s' if whole != 1 else ''}"


def local_text(moment: datetime | None, time_zone: str) -> str:
    if moment is None:
        return "-"
    from zoneinfo import ZoneInfo

    local = moment.astimezone(ZoneInfo(time_zone))
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({_utc_text(moment)})"


def action_text(kind: str, clock: MetricClock) -> str:
    """The internal comment of a warning or breach."""
    label = METRIC_LABELS.get(clock.metric, clock.metric)
    hours = "business" if clock.business_hours else "calendar"
    zone_name = clock.schedule.time_zone if clock.business_hours else "UTC"
    head = f"SLA breached: {label}" if kind == BREACH else f"SLA at risk: {label}"
    lines = [
        head,
        f"Policy: {clock.policy} (priority {clock.priority})",
        f"Target: {describe_minutes(clock.target_minutes)} of {hours} time"
        + (
            f" on schedule {clock.schedule.name} ({clock.schedule.time_zone})" if clock.business_hours else ""
        ),
        f"Started: {local_text(clock.started_at, zone_name)}",
        f"Due: {local_text(clock.due_at, zone_name)}",
    ]
    if clock.breached_at is not None:
        lines.append(f"Breached: {local_text(clock.breached_at, zone_name)}")
    if clock.metric in ("first_reply_time", "next_reply_time"):
        lines.append("The customer is waiting for a public reply.")
    return "\n".join(lines)
