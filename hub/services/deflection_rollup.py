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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text

from hub.domain.catalog import Catalog
from hub.domain.deflection_metrics import Contact, is_agent, is_automated, is_automated_resolution
from hub.domain.outcome import parse_timestamp
from hub.ports import Clock
from hub.store import metrics as store
from hub.store import metrics_recompute as recompute
from hub.store import ops_counts

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
    rebuild_chunk: int = 5000  # customers per transaction when rebuilding from scratch
    analyze_from: int = 50_000  # new facts after which the rollup's tables are analyzed (PostgreSQL)
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
        if result.contacts + result.decisions >= self.analyze_from:
            with self.engine.begin() as connection:  # fresh statistics for the recomputation's plans
                store.analyze(connection)
        days = self._recompute(pairs, loose, result.rebuilt)
        with self.engine.begin() as connection:
            before = store.epoch_us(state["as_of"]) if state["as_of"] else None
            days |= store.settling_days(connection, before, store.epoch_us(now))
            store.resum_days(connection, days, store.epoch_us(now))
            ops_counts.save_snapshot(connection, ops_counts.slow_counts(connection), now)
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
                store.add_offer_facts(connection, self._offer_facts(rows))
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
        cases: dict[str, set[str]] = {}
        for crm, duplicate, master in changed:
            cases.setdefault(crm, set()).update((duplicate, master))
        episodes: set[str] = set()
        for crm, ids in cases.items():
            episodes |= store.episodes_of_cases(connection, crm, sorted(ids))
        store.replace_dedup_seen(connection, now_links)
        return store.pairs_of_episodes(connection, episodes)

    # -- recomputation ----------------------------------------------------------------------------

    def _recompute(self, pairs: Iterable[Pair], loose: set[int], rebuilt: bool) -> set[str]:
        """Recompute the customers of these pairs (all their families) and these loose offers, in
        SQL, one chunk of customers per transaction. A rebuild takes the customers in key ranges
        of ``rebuild_chunk`` (index range scans, no key lists)."""
        window_us = round(self.window_hours * 3_600_000_000)
        started, days = time.perf_counter(), set()
        customers = sorted({customer for customer, _ in pairs if customer})
        if rebuilt:
            picks = [
                recompute.customers_between(batch[0], batch[-1])
                for batch in store.chunks(customers, self.rebuild_chunk)
            ]
        else:
            picks = [recompute.customers_in(batch) for batch in store.chunks(customers)]
        for done, pick in enumerate(picks, 1):
            with self.engine.begin() as connection:
                days |= recompute.recompute_customers(connection, pick, window_us)
            if done % 20 == 0 or done == len(picks):
                log.debug("metrics rollup: recomputed %d of %d customer chunks in %.1f s",
                         done, len(picks), time.perf_counter() - started)  # fmt: skip
        for ids in store.chunks(sorted(loose)):
            with self.engine.begin() as connection:
                days |= recompute.recompute_loose(connection, ids, window_us)
        return days

    # -- facts ------------------------------------------------------------------------------------

    def _offer_facts(self, rows: Iterable[Any]) -> list[dict[str, Any]]:
        facts = []
        for row in rows:
            offered = json.loads(row.offers).get("offers", [])
            channels = [item["channel"] for item in offered if item.get("channel") not in (None, VOICE)]
            facts.append(
                {
                    "decision_id": row.id,
                    "jti": row.jti,
                    "customer_key": row.customer_key or "",
                    "family": self.family_of(row.intent),
                    "episode_id": row.episode_id,
                    "decided_us": store.epoch_us(row.decided_at),
                    "day": row.decided_at.date().isoformat(),
                    "intent": row.intent,
                    "channel": channels[0] if channels else VOICE,
                    "channels": "," + ",".join(channels) + "," if channels else "",
                }
            )
        return facts


def _contact_row(row: Any) -> dict[str, Any]:
    """The facts of one linked inbox row, from its stored (already validated) payload; what kind
    of contact it is is decided here, once, by the definitions' own functions."""
    payload = json.loads(row.payload)
    metadata = payload.get("metadata") or {}
    deflection_id = metadata.get("deflection_id")
    occurred_at = parse_timestamp(payload["occurred_at"])
    contact = Contact(
        inbox_id=row.id,
        episode_id=row.episode_id,
        occurred_at=occurred_at,
        channel=payload["channel"],
        outcome=payload["outcome"],
        intent=payload["intent"],
        handled_by=payload.get("handled_by"),
        inbound=payload.get("direction", "inbound") == "inbound",
        deflection_id=deflection_id[:64] if isinstance(deflection_id, str) else None,
    )
    return {
        "inbox_id": contact.inbox_id,
        "customer_key": row.customer_key,
        "family": row.intent_family,
        "episode_id": contact.episode_id,
        "occurred_at": occurred_at,
        "at_us": store.epoch_us(occurred_at),
        "day": occurred_at.astimezone(UTC).date().isoformat(),
        "channel": contact.channel,
        "outcome": contact.outcome,
        "intent": contact.intent,
        "handled_by": contact.handled_by,
        "inbound": contact.inbound,
        "automated": is_automated(contact),
        "agent": is_agent(contact),
        "resolution": is_automated_resolution(contact),
        "deflection_id": contact.deflection_id,
    }
