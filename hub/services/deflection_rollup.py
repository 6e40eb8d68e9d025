"""The deflection metrics' rollup, kept current by a scheduler tick (``metrics_rollup``).

Why a rollup the scheduler maintains rather than updates at link time: every figure of an inquiry
is a function of the facts about one (customer, intent family) pair, and those facts arrive from
several places at their own pace (the link worker, deflection offers, SLA breaches, ``ctihub
dedup``), often late. The tick notices each new fact by a watermark (or a diff, for dedup links),
marks the pair dirty, recomputes the pair's inquiries from all its facts
(``hub.domain.deflection_metrics``), and re-sums each day that changed or still had pending
inquiries. Nothing on the link path changes, and a recomputation from scratch is the same code on
an empty rollup: the property test checks that incremental ticks at random times agree with it.

Watermarks overlap by ``overlap`` (events are marked linked a moment before their transaction
commits); facts already counted are skipped by key, so the overlap never counts twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from hub.domain.catalog import Catalog
from hub.domain.deflection_metrics import (
    Contact,
    OfferFact,
    OfferOutcome,
    PairFacts,
    inquiries,
    offer_outcomes,
)
from hub.domain.outcome import parse_timestamp
from hub.ports import Clock
from hub.store import metrics as store

log = logging.getLogger(__name__)
VOICE = "voice"
Pair = tuple[str, str]
Progress = Callable[[int, int], None]
LOCK_KEY = 0x6D657472  # "metr": the rollup's advisory lock on PostgreSQL


@dataclass
class TickResult:
    contacts: int = 0
    decisions: int = 0
    pairs: int = 0
    days: int = 0
    rebuilt: bool = False
    as_of: datetime | None = None


@dataclass
class DeflectionRollup:
    engine: Engine
    catalog: Catalog
    clock: Clock
    window_hours: float = 72.0
    page: int = 5000
    overlap: timedelta = timedelta(minutes=15)

    @property
    def window(self) -> timedelta:
        return timedelta(hours=self.window_hours)

    def family_of(self, intent: str) -> str:
        found = self.catalog.intents.get(intent)
        return found.family if found else intent

    def tick(self, progress: Progress | None = None) -> TickResult:
        """Bring the rollup up to date as of now. ``progress(done, total)`` follows the events read.

        On PostgreSQL one process rolls up at a time (a session advisory lock; another process's
        tick meanwhile does nothing). SQLite serializes writers, and each step reads and writes in
        one transaction, so concurrent ticks there agree anyway."""
        with self.engine.connect() as lock:
            if lock.dialect.name == "postgresql":
                if not lock.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}).scalar():
                    log.info("metrics rollup: another process is rolling up; skipped")
                    return TickResult()
                lock.commit()
                try:
                    return self._tick(progress)
                finally:
                    lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                    lock.commit()
        return self._tick(progress)

    def _tick(self, progress: Progress | None) -> TickResult:
        now = self.clock.now()
        result = TickResult(as_of=now)
        with self.engine.begin() as connection:
            state = store.load_state(connection)
            if state is None or state["recontact_window_hours"] != self.window_hours:
                store.reset(connection, self.window_hours)
                state = store.load_state(connection)
                result.rebuilt = True
        assert state is not None
        pairs: set[Pair] = set()
        loose: set[int] = set()  # offers to unknown callers
        linked_through = self._read_contacts(state["linked_through"], pairs, loose, result, progress)
        decisions_through = self._read_decisions(state["decisions_through"], pairs, loose, result)
        with self.engine.begin() as connection:
            sla_since = state["sla_through"] - self.overlap if state["sla_through"] else None
            sla_mark, action_mark = store.sla_marks(connection)
            episodes = store.breached_since(connection, sla_since, state["sla_actions_through"])
            pairs |= store.pairs_of_episodes(connection, episodes)
            pairs |= self._dedup_changes(connection)
        days = self._recompute(pairs, loose)
        with self.engine.begin() as connection:
            days |= store.pending_days(connection)
            store.resum_days(connection, days, now)
            store.save_state(
                connection,
                linked_through=linked_through,
                decisions_through=decisions_through,
                sla_through=sla_mark or state["sla_through"],
                sla_actions_through=max(action_mark, state["sla_actions_through"]),
                as_of=now,
            )
        result.pairs, result.days = len(pairs), len(days)
        return result

    # -- facts ------------------------------------------------------------------------------------

    def _read_contacts(
        self,
        through: datetime | None,
        pairs: set[Pair],
        loose: set[int],
        result: TickResult,
        progress: Progress | None,
    ) -> datetime | None:
        since = through - self.overlap if through else None
        total = 0
        if progress is not None:
            with self.engine.connect() as connection:
                total = store.linked_count(connection, since)
        after: tuple[datetime, int] | None = None
        newest, done = through, 0
        while True:
            with self.engine.begin() as connection:
                rows = store.linked_page(connection, since, after, self.page)
                if not rows:
                    break
                known = store.known_contacts(connection, [row.id for row in rows])
                facts = [_contact_row(row) for row in rows if row.id not in known]
                store.add_contacts(connection, facts)
                cited = {fact["deflection_id"] for fact in facts if fact["deflection_id"]}
                if cited:  # the decision's own pair learns its offer was taken
                    for decision in store.decisions_by_id(
                        connection, list(store.decision_ids_by_jti(connection, cited).values())
                    ):
                        if decision.customer_key:
                            pairs.add((decision.customer_key, self.family_of(decision.intent)))
                        else:
                            loose.add(decision.id)
            pairs.update((fact["customer_key"], fact["family"]) for fact in facts)
            result.contacts += len(facts)
            after = (rows[-1].linked_at, rows[-1].id)
            newest = max(newest, after[0]) if newest else after[0]
            done += len(rows)
            if progress is not None:
                progress(done, max(total, done))
        return newest

    def _read_decisions(self, through: int, pairs: set[Pair], loose: set[int], result: TickResult) -> int:
        while True:
            with self.engine.begin() as connection:
                rows = store.decisions_after(connection, through, self.page)
                if not rows:
                    return through
                citing = store.contacts_citing(connection, [row.jti for row in rows])
            pairs.update((row.customer_key, self.family_of(row.intent)) for row in rows if row.customer_key)
            loose.update(row.id for row in rows if not row.customer_key)
            pairs.update((row.customer_key, row.family) for row in citing)
            result.decisions += len(rows)
            through = rows[-1].id

    def _dedup_changes(self, connection: Connection) -> set[Pair]:
        now_links, seen = store.dedup_links_now(connection), store.dedup_seen(connection)
        changed = now_links ^ seen
        if not changed:
            return set()
        episodes: set[str] = set()
        for crm, duplicate, master in changed:
            episodes |= store.episodes_of_cases(connection, crm, (duplicate, master))
        store.replace_dedup_seen(connection, now_links)
        return store.pairs_of_episodes(connection, episodes)

    # -- recomputation ----------------------------------------------------------------------------

    def _recompute(self, pairs: Iterable[Pair], loose: set[int]) -> set[str]:
        customers = sorted({customer for customer, _ in pairs if customer})
        days: set[str] = set()
        for batch in store.chunks(customers):
            with self.engine.begin() as connection:
                days |= self._recompute_customers(connection, batch)
        for ids in store.chunks(sorted(loose)):
            with self.engine.begin() as connection:
                days |= self._recompute_loose(connection, ids)
        return days

    def _recompute_loose(self, connection: Connection, ids: list[int]) -> set[str]:
        """Offers to callers the hub did not know: taken only by a contact citing them."""
        decisions = store.decisions_by_id(connection, ids)
        citing: dict[str, list[Contact]] = {}
        for row in store.contacts_citing(connection, [row.jti for row in decisions]):
            citing.setdefault(row.deflection_id, []).append(_contact(row))
        values = []
        for row in decisions:
            offer = _offer(row)
            (outcome,) = offer_outcomes([offer], citing.get(row.jti, []), self.window)
            values.append(_offer_values(outcome, "", self.family_of(row.intent)))
        return store.replace_pairs(connection, [], [], values, ids)

    def _recompute_customers(self, connection: Connection, keys: list[str]) -> set[str]:
        """Recompute every pair of these customers (all their families: replaced by customer)."""
        facts: dict[Pair, PairFacts] = {}
        cited: dict[str, Pair] = {}
        for row in store.contacts_of(connection, keys):
            pair = (row.customer_key, row.family)
            facts.setdefault(pair, PairFacts()).contacts.append(_contact(row))
            if row.deflection_id:
                cited[row.deflection_id] = pair
        decisions = store.decisions_of(connection, keys)
        offer_rows = []
        for row in decisions:
            offer = _offer(row)
            facts.setdefault((row.customer_key, self.family_of(row.intent)), PairFacts()).offers.append(offer)
            offer_rows.append(row)
        cited_ids = store.decision_ids_by_jti(connection, list(cited)) if cited else {}
        episode_ids = [c.episode_id for pair in facts.values() for c in pair.contacts]
        breached = store.breached(connection, episode_ids) if episode_ids else set()
        cases = {}
        for row in store.cases_of(connection, episode_ids) if episode_ids else []:
            cases.setdefault(row.episode_id, row)
        duplicates = store.duplicates_of(connection, {(row.crm, row.case_id) for row in cases.values()})

        inquiry_rows: list[dict[str, Any]] = []
        offer_values: list[dict[str, Any]] = []
        for (customer, family), pair in facts.items():
            found, outcomes = inquiries(pair, self.window)
            citing_episodes = {
                c.episode_id for c in pair.contacts if c.deflection_id and c.deflection_id in cited_ids
            }
            counted_cases: set[tuple[str, str]] = set()
            for inquiry in sorted(found, key=lambda i: (i.first_at, i.episode_id)):
                case_row = cases.get(inquiry.episode_id)
                case_key = (case_row.crm, case_row.case_id) if case_row else None
                dupes = duplicates.get(case_key, 0) if case_key and case_key not in counted_cases else 0
                if case_key:
                    counted_cases.add(case_key)
                inquiry_rows.append(
                    {
                        "episode_id": inquiry.episode_id,
                        "customer_key": customer,
                        "family": family,
                        "day": inquiry.day,
                        "channel": inquiry.channel,
                        "intent": inquiry.intent,
                        "crm": case_row.crm if case_row else "",
                        "first_at": inquiry.first_at,
                        "automated": inquiry.automated,
                        "agent": inquiry.agent,
                        "resolved": inquiry.resolved_at is not None,
                        "recontacted": inquiry.recontact_at is not None,
                        "settles_at": inquiry.settles_at,
                        "offer_taken": inquiry.offer_taken or inquiry.episode_id in citing_episodes,
                        "sla_breached": inquiry.episode_id in breached,
                        "case_created": bool(case_row and case_row.created_by_hub),
                        "duplicates": dupes,
                        "contacts": inquiry.contacts,
                    }
                )
            offer_values += [_offer_values(outcome, customer, family) for outcome in outcomes]
        return store.replace_pairs(
            connection, keys, inquiry_rows, offer_values, [row.id for row in offer_rows]
        )


def _offer_values(outcome: OfferOutcome, customer: str, family: str) -> dict[str, Any]:
    return {
        "decision_id": outcome.decision_id,
        "customer_key": customer,
        "family": family,
        "day": outcome.day,
        "channel": outcome.channel,
        "intent": outcome.intent,
        "taken": outcome.taken_at is not None,
        "failed": outcome.failed,
    }


def _contact_row(row: Any) -> dict[str, Any]:
    """The facts of one linked inbox row, from its stored (already validated) payload."""
    payload = json.loads(row.payload)
    metadata = payload.get("metadata") or {}
    deflection_id = metadata.get("deflection_id")
    return {
        "inbox_id": row.id,
        "customer_key": row.customer_key,
        "family": row.intent_family,
        "episode_id": row.episode_id,
        "occurred_at": parse_timestamp(payload["occurred_at"]),
        "channel": payload["channel"],
        "outcome": payload["outcome"],
        "intent": payload["intent"],
        "handled_by": payload.get("handled_by"),
        "inbound": payload.get("direction", "inbound") == "inbound",
        "deflection_id": deflection_id[:64] if isinstance(deflection_id, str) else None,
    }


def _contact(row: Any) -> Contact:
    return Contact(
        inbox_id=row.inbox_id,
        episode_id=row.episode_id,
        occurred_at=row.occurred_at,
        channel=row.channel,
        outcome=row.outcome,
        intent=row.intent,
        handled_by=row.handled_by,
        inbound=row.inbound,
        deflection_id=row.deflection_id,
    )


def _offer(row: Any) -> OfferFact:
    offered = json.loads(row.offers).get("offers", [])
    channels = tuple(item["channel"] for item in offered if item.get("channel") not in (None, VOICE))
    return OfferFact(
        decision_id=row.id,
        jti=row.jti,
        decided_at=row.decided_at,
        intent=row.intent,
        episode_id=row.episode_id,
        channels=channels,
    )
