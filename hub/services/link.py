"""Link one accepted event: resolve the customer, claim the episode, write the case/ticket and activity.

The database work happens in short transactions around the CRM call, never across it. A crash at
any point leaves the inbox row to be claimed again; the second attempt passes ``retrying=True`` and
every CRM write is idempotent by its key, so nothing is duplicated.

One case/ticket per episode does not rest on the CRM's idempotency alone: the first worker to find
the episode without a case claims its creation (``links.claim_case_creation``, in the same
transaction as the episode claim); a worker linking another event of that episode meanwhile raises
``CaseBeingCreated`` and the worker retries the event shortly, when it finds the case recorded and
appends to it. The CRM keys remain the second line (a creator that died is taken over, with
``retrying=True``).

Identity is resolved by ``customers.resolve_identity``; an ambiguous match is recorded
(``ambiguous_matches``) and never merged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from hub.domain.catalog import Catalog, Disposition, Intent
from hub.domain.consent import OUTREACH_CHANNELS, ConsentDecision
from hub.domain.errors import (
    ConfigError,
    CrmError,
    CrmRecordRejected,
    CrmRetryable,
    CrmWritePending,
    each_record_failure,
)
from hub.domain.identity import ASSERTED, EMAIL, PHONE, Identifier, customer_key_for
from hub.domain.mapping import CrmMapping
from hub.domain.outcome import Outcome, parse_timestamp
from hub.ports import (
    CRM,
    ActivityWrite,
    BatchWrite,
    CaseWrite,
    Clock,
    CustomerProfile,
    LinkResult,
    RecordRef,
)
from hub.services.activity_text import activity_body, activity_subject
from hub.services.identity import identifiers_for
from hub.services.recovery import plan_for_outcome as record_recovery_outcome
from hub.services.routing import Router
from hub.services.sla import record_outcome as record_sla_contact
from hub.store import consent, customers, dedup, episodes, inbox, links

log = logging.getLogger(__name__)
# Finishes per transaction in a batch: one commit for ten events, the SQLite write lock held for
# about ten finishes (a few milliseconds on a quiet machine) so the ingest is not kept waiting long.
FINISH_CHUNK = 10
MAX_WAVES = 3  # waves of one batch; each is a CRM batch call, and all must end inside the lease
PENDING_HOLD_SECONDS = 300.0  # how long a write that may still land holds its case claim, at least


def new_episode_id() -> str:
    """Time-ordered and unique: ``ep_`` + 12 hex digits of milliseconds + 12 random hex digits."""
    return f"ep_{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def activity_key(source: str, event_id: str) -> str:
    """A URL-safe, fixed-length key for the event's activity (CRM external ids choke on '/', '.')."""
    return "ev_" + hashlib.sha256(f"{source}\x00{event_id}".encode()).hexdigest()[:32]


class CaseBeingCreated(CrmRetryable):
    """Another worker is creating this episode's case/ticket right now: link the event once it is
    recorded (the worker retries it like any retryable failure)."""

    code = "case_being_created"

    def __init__(self, message: str, *, episode_id: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.episode_id = episode_id


@dataclass(frozen=True)
class Linked:
    customer_key: str
    episode_id: str
    disposition: str
    result: LinkResult
    recorded: bool  # False when this worker lost its lease before finishing


@dataclass
class PreparedLink:
    """One event between ``Linker.prepare`` and ``Linker.finish``: who, which episode, what to write."""

    row: inbox.InboxRow
    outcome: Outcome
    disposition: Disposition
    customer_key: str
    identifiers: list[Identifier]
    episode: episodes.Episode
    write: BatchWrite  # with ``case`` set when this event holds the claim to create the case


@dataclass
class Linker:
    engine: Engine
    crm: CRM
    mapping: CrmMapping
    catalog: Catalog
    clock: Clock
    default_region: str = "US"
    window: timedelta = timedelta(hours=72)
    make_episode_id: Callable[[], str] = new_episode_id
    # How long a case-creation claim holds before another worker may take it over (a creator that
    # died). Keep it at least the worker lease, so a live creator is never taken over.
    case_claim_ttl: timedelta = timedelta(seconds=120)
    # Mapped SLA fields (due time, status) for an episode's case, written with every link; called
    # inside the link's database transaction.
    sla_fields: Callable[[Connection, str], Mapping[str, Any]] | None = None
    # The admin configuration version this linker was built from (recorded on each linked event).
    config_version: int | None = None
    # routing.yaml: the group/queue a new case is assigned to (decided only when creating one).
    router: Router | None = None

    def link(self, row: inbox.InboxRow, *, owner: str) -> Linked:
        """Link one event: prepare, one CRM write, finish."""
        prepared = self.prepare(row, owner=owner)
        try:
            result = self._write_one(prepared.write)
        except Exception as exc:
            self.abandon(prepared, exc)
            raise
        return self.finish(prepared, result, owner=owner)

    def link_batch(self, rows: Sequence[inbox.InboxRow], *, owner: str) -> list[Linked | Exception]:
        """Link several events with as few CRM round trips as the CRM allows.

        Answers one entry per row, in order: its ``Linked``, or the exception that failed it (the
        worker decides retry or dead-letter per row). Events of one episode whose case another row
        of this batch is creating fail with ``CaseBeingCreated`` and come back once it exists.
        """
        settled: list[Linked | Exception | None] = [None] * len(rows)
        waiting = list(enumerate(rows))
        for wave in range(MAX_WAVES):  # a wave per event of the same new episode: later ones append
            prepared: list[tuple[int, PreparedLink]] = []
            later: list[tuple[int, inbox.InboxRow]] = []
            # Episodes whose case a first attempt of this wave creates -> that write's index: with a
            # CRM that joins them, the episode's later events ride along instead of waiting a wave.
            creators: dict[str, int] | None = {} if self.joins and len(waiting) > 1 else None
            for index, row in waiting:
                try:
                    item = self.prepare(row, owner=owner, creators=creators)
                    if creators is not None and item.write.case is not None and not item.write.retrying:
                        creators.setdefault(item.episode.id, len(prepared))
                    prepared.append((index, item))
                except CaseBeingCreated as exc:
                    creating_here = any(p.episode.id == exc.episode_id for _, p in prepared)
                    if creating_here and wave < MAX_WAVES - 1:
                        later.append((index, row))
                    else:
                        settled[index] = exc
                except Exception as exc:
                    settled[index] = exc
            written = self._write_many([p.write for _, p in prepared])
            finished = self._settle_wave([p for _, p in prepared], written, owner)
            for (index, _item), result in zip(prepared, finished, strict=True):
                settled[index] = result
            waiting = later
            if not waiting:
                break
        assert all(entry is not None for entry in settled), "every row is settled"
        return [entry for entry in settled if entry is not None]

    def _settle_wave(
        self, items: Sequence[PreparedLink], written: Sequence[LinkResult | Exception], owner: str
    ) -> list[Linked | Exception]:
        """Abandon the failed writes, then finish the others ``FINISH_CHUNK`` to a transaction, each
        in a savepoint: one commit (an fsync on SQLite with synchronous=FULL) for several events,
        and a finish that fails rolls back alone. A commit that fails fails its whole chunk (the CRM
        writes are idempotent: the retries find them)."""
        results: list[Linked | Exception | None] = [None] * len(items)
        done = []
        for n, (item, result) in enumerate(zip(items, written, strict=True)):
            if isinstance(result, Exception):
                self.abandon(item, result)
                results[n] = result
            else:
                done.append(n)
        for start in range(0, len(done), FINISH_CHUNK):
            chunk = done[start : start + FINISH_CHUNK]
            try:
                with self.engine.begin() as connection:
                    for n in chunk:
                        result = written[n]
                        assert isinstance(result, LinkResult)
                        try:
                            with connection.begin_nested():
                                results[n] = self._finish_on(connection, items[n], result, owner)
                        except Exception as exc:
                            results[n] = exc
            except Exception as exc:
                for n in chunk:
                    results[n] = exc
        return [r for r in results if r is not None]

    @property
    def batches(self) -> bool:
        """Whether the CRM writes batches (``hub.ports.BatchingCRM``)."""
        return callable(getattr(self.crm, "write_batch", None))

    @property
    def joins(self) -> bool:
        """Whether the CRM writes ``BatchWrite.joins`` (an event riding with its case's creation)."""
        return self.batches and getattr(self.crm, "joins_batch_cases", False) is True

    def prepare(
        self, row: inbox.InboxRow, *, owner: str, creators: Mapping[str, int] | None = None
    ) -> PreparedLink:
        """The database work before the CRM write: customer, episode, case (or the claim to create
        it), consent and SLA history, and the write itself. Raises ``CaseBeingCreated`` when another
        event's worker is creating this episode's case, unless ``creators`` (episode id -> index of
        the creating write in the same batch) holds it: then the write joins that one."""
        outcome = Outcome.from_payload(json.loads(row.payload))
        intent = self.catalog.intents.get(outcome.intent)
        family = intent.family if intent else outcome.intent
        disposition = self._disposition(outcome)
        identifiers = identifiers_for(outcome.customer, self.default_region)
        now = self.clock.now()

        with self.engine.begin() as connection:
            resolution = customers.resolve_identity(
                connection,
                identifiers,
                name=outcome.customer.name,
                fallback_key=customer_key_for(Identifier("event", outcome.key, outcome.key)),
                now=now,
            )
            customer_key = resolution.key
            if resolution.ambiguous:
                dedup.record_ambiguous(
                    connection, resolution, event_ref=outcome.key, inbox_id=row.id, now=now
                )
            episode, _ = episodes.claim_episode(
                connection,
                customer_key=customer_key,
                family=family,
                intent=outcome.intent,
                occurred_at=outcome.occurred_at,
                window=self.window,
                new_id=self.make_episode_id(),
                now=now,
            )
            case = links.episode_case(connection, episode.id, self.crm.name)
            claim = None
            if case is None:
                claim = links.claim_case_creation(
                    connection,
                    episode.id,
                    self.crm.name,
                    inbox_id=row.id,
                    owner=owner,
                    now=now,
                    ttl=self.case_claim_ttl,
                )
                case = claim.case
            self._record_consent(connection, outcome, identifiers, customer_key, now)
            record_sla_contact(connection, episode.id, outcome, crm=self.crm.name, now=now)
            joins = None
            blocked = claim is not None and case is None and not claim.mine
            if blocked:
                joins = self._joinable(row, outcome, episode.id, creators)
                blocked = joins is None
            # In this transaction (one commit per event, not two); recorded as written only when
            # this event writes now.
            sla_fields = (
                dict(self.sla_fields(connection, episode.id)) if self.sla_fields and not blocked else {}
            )

        if blocked and claim is not None:
            holder = claim.holder or "another worker"
            until = f" (claimed until {claim.expires_at:%H:%M:%S})" if claim.expires_at else ""
            raise CaseBeingCreated(
                f"the case of episode {episode.id} is being created by {holder}{until}",
                episode_id=episode.id,
                crm=self.crm.name,
                crm_code="CaseBeingCreated",
            )
        try:
            write = self._planned_write(
                row,
                outcome,
                disposition,
                intent,
                customer_key,
                identifiers,
                episode,
                case,
                claim,
                joins,
                sla_fields,
            )
        except Exception:
            if case is None and joins is None:
                self._release_claim(episode.id, row.id)
            raise
        return PreparedLink(row, outcome, disposition, customer_key, identifiers, episode, write)

    def _joinable(
        self, row: inbox.InboxRow, outcome: Outcome, episode_id: str, creators: Mapping[str, int] | None
    ) -> int | None:
        """The index of the write of this batch that creates the episode's case, when this event
        may ride with it: a first attempt (a retry looks before it writes, alone) without a case
        hint of its own."""
        if not creators or episode_id not in creators or row.attempts > 1:
            return None
        if outcome.case_hint and outcome.case_hint.crm == self.crm.name:
            return None
        return creators[episode_id]

    def abandon(self, prepared: PreparedLink, failure: BaseException | None = None) -> None:
        """After a failed write: let the next worker create the case at once, knowing this attempt
        may have landed (it passes ``retrying``); but while the write may still land (a bulk job
        still running), hold the claim until this event's own retry looks."""
        if prepared.write.case is None:
            return
        if isinstance(failure, CrmWritePending):
            wait = timedelta(seconds=failure.retry_after or PENDING_HOLD_SECONDS)
            with self.engine.begin() as connection:
                links.hold_case_claim(
                    connection,
                    prepared.episode.id,
                    self.crm.name,
                    inbox_id=prepared.row.id,
                    until=self.clock.now() + wait + self.case_claim_ttl,
                )
            return
        self._release_claim(prepared.episode.id, prepared.row.id)

    def _release_claim(self, episode_id: str, inbox_id: int) -> None:
        with self.engine.begin() as connection:
            links.release_case_claim(
                connection, episode_id, self.crm.name, inbox_id=inbox_id, now=self.clock.now()
            )

    def finish(self, prepared: PreparedLink, result: LinkResult, *, owner: str) -> Linked:
        """Record what the CRM write made, mark the event linked, plan any recovery."""
        with self.engine.begin() as connection:
            return self._finish_on(connection, prepared, result, owner)

    def _finish_on(
        self, connection: Connection, prepared: PreparedLink, result: LinkResult, owner: str
    ) -> Linked:
        """``finish`` inside the caller's transaction."""
        row, outcome, episode = prepared.row, prepared.outcome, prepared.episode
        case = result.case  # as the CRM answered: a write riding with its case's creation says created
        if prepared.write.case is None:  # this event appended: it did not create the case
            result = LinkResult(case=replace(result.case, created=False), activity=result.activity)
        finished = self.clock.now()
        links.record_episode_case(connection, episode.id, case, finished)  # first to finish records it
        links.record_event_links(connection, row.id, result, finished)
        recorded = inbox.mark_linked(
            connection,
            row.id,
            owner=owner,
            now=finished,
            customer_key=prepared.customer_key,
            episode_id=episode.id,
            disposition=prepared.disposition.code,
            config_version=self.config_version,
        )
        record_recovery_outcome(  # a plan for a failed outcome; any contact cancels earlier ones
            connection,
            outcome,
            episode_id=episode.id,
            customer_key=prepared.customer_key,
            identifiers=[i for i in prepared.identifiers if i.proof != ASSERTED],  # never theirs
            now=finished,
        )
        return Linked(prepared.customer_key, episode.id, prepared.disposition.code, result, recorded)

    def _write_one(self, write: BatchWrite) -> LinkResult:
        if write.case is not None:
            return self.crm.create_case(write.case, write.activity, retrying=write.retrying)
        assert write.case_id is not None
        return self.crm.append_activity(write.case_id, write.activity, retrying=write.retrying)

    def _write_many(self, writes: Sequence[BatchWrite]) -> list[LinkResult | Exception]:
        """One batch call when the CRM batches and there is more than one write; else one by one.

        A failure of the whole batch is every write's failure; a rejection of the whole batch says
        nothing about each record, so each is retried (alone: a retry takes the single path)."""
        if len(writes) > 1 and self.batches:
            try:
                return list(self.crm.write_batch(writes))  # type: ignore[attr-defined]
            except CrmError as exc:
                return [each_record_failure(exc)] * len(writes)
            except Exception as exc:
                return [exc] * len(writes)
        results: list[LinkResult | Exception] = []
        for write in writes:
            try:
                results.append(self._write_one(write))
            except Exception as exc:
                results.append(exc)
        return results

    def _planned_write(
        self,
        row: inbox.InboxRow,
        outcome: Outcome,
        disposition: Disposition,
        intent: Intent | None,
        customer_key: str,
        identifiers: list[Identifier],
        episode: episodes.Episode,
        case: RecordRef | None,
        claim: links.CaseClaim | None,
        joins: int | None = None,
        sla_fields: Mapping[str, Any] | None = None,
    ) -> BatchWrite:
        """What to write: create the case (this worker holds the claim), append to it, or append to
        it as the batch's write ``joins`` creates it."""
        if case is None and outcome.case_hint and outcome.case_hint.crm == self.crm.name:
            case = self._adopt_hint(episode.id, outcome.case_hint.id)

        profile = self._profile(customer_key, outcome, identifiers)
        context = self._context(
            outcome, disposition, intent.label if intent else outcome.intent, customer_key, profile, episode
        )
        sla_fields = sla_fields or {}
        activity = ActivityWrite(
            key=activity_key(outcome.source, outcome.event_id),
            body=context["activity.body"],
            fields=self.mapping.activity.apply(context, creating=True),
            case_fields={**self.mapping.case.apply(context, creating=False), **sla_fields},
            customer=profile,
        )
        retrying = row.attempts > 1
        if joins is not None:
            return BatchWrite(activity=activity, joins=joins)
        if case is None:
            return BatchWrite(
                activity=activity,
                case=CaseWrite(
                    key=episode.id,
                    fields={**self.mapping.case.apply(context, creating=True), **sla_fields},
                    customer=profile,
                    routing=self.router.decide(outcome) if self.router is not None else None,
                ),
                retrying=retrying or bool(claim and claim.takeover),
            )
        return BatchWrite(activity=activity, case_id=case.id, retrying=retrying)

    @staticmethod
    def _record_consent(
        connection: Connection,
        outcome: Outcome,
        identifiers: list[Identifier],
        customer_key: str,
        now: datetime,
    ) -> None:
        """Consent given or revoked in the interaction goes to the ledger (once, even on replay).

        For an asserted address only a revocation is recorded: anyone may type an address into a
        chat, and a grant for someone else's number or email must never let the hub contact them
        (a revocation can only keep the hub from contacting someone)."""
        by_channel = {
            "email": next((i for i in identifiers if i.kind == EMAIL and i.valid), None),
            "sms": next((i for i in identifiers if i.kind == PHONE), None),
        }
        captured = outcome.consent.get("captured_at")
        decided_at = parse_timestamp(captured) if captured else outcome.occurred_at
        for channel in OUTREACH_CHANNELS:
            granted = outcome.consent.get(channel)
            identifier = by_channel["email" if channel == "email" else "sms"]
            if granted is None or identifier is None or (granted and identifier.proof == ASSERTED):
                continue
            address = identifier.value
            decision = ConsentDecision(
                channel,
                address,
                bool(granted),
                decided_at,
                f"event:{outcome.source}",
                outcome.consent.get("evidence"),
            )
            consent.record_consent(
                connection,
                decision,
                now=now,
                customer_key=customer_key,
                source_ref=f"{outcome.key}:{channel}",
            )

    def _disposition(self, outcome: Outcome) -> Disposition:
        if outcome.disposition:
            found = self.catalog.dispositions.get(outcome.disposition)
            if found is None:
                raise CrmRecordRejected(
                    f"disposition {outcome.disposition!r} is no longer in the catalog",
                    crm="hub",
                    crm_code="UNKNOWN_DISPOSITION",
                )
            return found
        derived = self.catalog.derive_disposition(outcome.channel, outcome.outcome)
        if derived is None:
            raise ConfigError(
                f"no disposition covers channel {outcome.channel!r} and outcome {outcome.outcome!r}"
            )
        return derived

    def _adopt_hint(self, episode_id: str, case_id: str) -> RecordRef | None:
        """Use the platform's case hint when it points at a record that exists and is open.

        A hint naming a duplicate that ``ctihub dedup`` linked to a master adopts the master.
        """
        with self.engine.begin() as connection:
            case_id = links.master_of(connection, self.crm.name, case_id) or case_id
        record = self.crm.get_case(case_id)
        if record is None or not record.is_open:
            log.info("case hint %s ignored: %s", case_id, "not found" if record is None else "closed")
            return None
        with self.engine.begin() as connection:
            return links.record_episode_case(
                connection,
                episode_id,
                RecordRef(self.crm.name, record.object, record.id, False),
                self.clock.now(),
            )

    @staticmethod
    def _profile(customer_key: str, outcome: Outcome, identifiers: list[Identifier]) -> CustomerProfile:
        """What the CRM is told. An asserted phone or email is left out: the CRM would match its
        requester/contact by it (Zendesk finds the user with that email) and file a stranger's
        conversation under the person whose address they typed."""
        phone = next((i.value for i in identifiers if i.kind == PHONE and i.proof != ASSERTED), None)
        email = next(
            (i.value for i in identifiers if i.kind == EMAIL and i.valid and i.proof != ASSERTED), None
        )
        return CustomerProfile(
            key=customer_key,
            name=outcome.customer.name,
            phone=phone,
            email=email,
            external_ids=dict(outcome.customer.external_ids),
        )

    def _context(
        self,
        outcome: Outcome,
        disposition: Disposition,
        intent_label: str,
        customer_key: str,
        profile: CustomerProfile,
        episode: episodes.Episode,
    ) -> dict[str, Any]:
        crm = self.crm.name
        context: dict[str, Any] = {
            "event.source": outcome.source,
            "event.event_id": outcome.event_id,
            "event.key": outcome.key,
            "event.channel": outcome.channel,
            "event.direction": outcome.direction,
            "event.outcome": outcome.outcome,
            "event.intent": outcome.intent,
            "event.summary": outcome.summary,
            "event.step": outcome.step,
            "event.sentiment": outcome.sentiment,
            "event.priority": outcome.priority,
            "event.attempts": outcome.attempts,
            "event.occurred_at": outcome.occurred_at,
            "intent.code": outcome.intent,
            "intent.label": intent_label,
            "intent.family": episode.intent_family,
            "disposition.code": disposition.code,
            "disposition.label": disposition.label,
            "disposition.outcome_class": disposition.outcome_class,
            "disposition.value": disposition.crm_values.get(crm),
            "disposition.tags": list(disposition.crm_tags.get(crm, ())),
            "customer.key": customer_key,
            "customer.phone": profile.phone,
            "customer.email": profile.email,
            "customer.name": profile.name,
            "episode.id": episode.id,
            "episode.opened_at": episode.opened_at,
            "activity.subject": activity_subject(outcome, disposition),
            "activity.body": activity_body(outcome, disposition, intent_label),
        }
        context.update({f"metadata.{k}": v for k, v in outcome.metadata.items()})
        return context
