"""``ctihub recovery simulate``: every attempt the policies would make for some outcome events.

Nothing is sent and the configured database is never touched: the events go through the real link
path (identity, episodes, consent from the events) and the real recovery engine (planning, every
guard at claim time, rescheduling, caps) on an in-memory SQLite database, with an in-memory CRM and
no sender (``RecoveryService(dry_run=True)``). An injected clock jumps from ``--from`` to ``--to``
through every instant where something happens (an event, an attempt due), so a week is simulated in
a moment and every attempt is decided at its exact due time.

Each attempt becomes one line: ``{event_id, episode_id, attempt, action, channel, at, status,
reason}`` with ``at`` in UTC, ``status`` planned (made at ``at``), rescheduled (made at ``at``, later
than planned because of the contact window) or blocked (a guard stopped it at ``at``; ``reason`` is
the guard's code: no_consent, customer_came_back, episode_cap, customer_cap_24h, ...). An attempt still
pending at ``--to`` is shown at the instant it is due. Disabled policies are simulated too (that is
what this is for), unless ``only_enabled``.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.pool import StaticPool

from hub.domain.consent import ConsentDecision
from hub.domain.errors import Problem, ValidationFailed
from hub.domain.recovery import RecoveryConfig
from hub.mappings import Mappings
from hub.ports import ActivityWrite, CaseRecord, CaseWrite, LinkResult, RecordRef
from hub.services.clock import FixedClock
from hub.services.link import Linker
from hub.services.recovery import RecoveryService
from hub.services.validation import OutcomeValidator, load_outcome_schema
from hub.services.worker import Worker
from hub.store import consent as consent_store
from hub.store import inbox, migrate
from hub.store import recovery as store
from hub.store.db import make_engine
from hub.store.recovery_tables import recovery_attempts

T = TypeVar("T")
FIELDS = ("event_id", "episode_id", "attempt", "action", "channel", "at", "status", "reason")


@dataclass
class PreviewCrm:
    """An in-memory CRM for the preview: cases and activities by key, numbered in order."""

    name: str = "zendesk"
    cases: dict[str, str] = field(default_factory=dict)
    activities: dict[str, str] = field(default_factory=dict)

    def get_case(self, case_id: str) -> CaseRecord | None:
        return CaseRecord(self.name, "case", case_id) if case_id in self.cases.values() else None

    def create_case(self, case: CaseWrite, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        created = case.key not in self.cases
        case_id = self.cases.setdefault(case.key, str(len(self.cases) + 1))
        return LinkResult(RecordRef(self.name, "case", case_id, created), self._activity(activity))

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        return LinkResult(RecordRef(self.name, "case", case_id, False), self._activity(activity))

    def _activity(self, activity: ActivityWrite) -> RecordRef:
        created = activity.key not in self.activities
        activity_id = self.activities.setdefault(activity.key, f"a{len(self.activities) + 1}")
        return RecordRef(self.name, "activity", activity_id, created)


def read_events(lines: Iterable[str], validator: OutcomeValidator, *, display: str) -> list[dict[str, Any]]:
    """Parse and validate JSON lines (contract v1); ValidationFailed lists every bad line."""
    events: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            payload = json.loads(line)
        except ValueError as exc:
            problems.append(Problem(f"{display}:{number}", f"not JSON: {exc}"))
            continue
        found = validator.problems(payload)
        for problem in found:
            problems.append(Problem(f"{display}:{number}", f"{problem.path}: {problem.message}"))
        if not found:
            events.append(payload)
    if problems:
        raise ValidationFailed(f"{display}: {len(problems)} problem(s) in the events", problems)
    return events


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(payload: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(payload["occurred_at"]).replace("Z", "+00:00")).astimezone(UTC)


def simulate(
    mappings: Mappings,
    config: RecoveryConfig,
    events: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    *,
    crm: str = "zendesk",
    default_region: str = "US",
    episode_window: timedelta = timedelta(hours=72),
    only_enabled: bool = False,
) -> list[dict[str, Any]]:
    """The preview lines, in time order (see the module docstring)."""
    return simulated(
        mappings,
        config,
        events,
        start,
        end,
        read=_lines,
        crm=crm,
        default_region=default_region,
        episode_window=episode_window,
        only_enabled=only_enabled,
    )


def simulated(
    mappings: Mappings,
    config: RecoveryConfig,
    events: list[dict[str, Any]],
    start: datetime,
    end: datetime,
    *,
    read: Callable[[Any], T],
    crm: str = "zendesk",
    default_region: str = "US",
    episode_window: timedelta = timedelta(hours=72),
    only_enabled: bool = False,
    consent: Iterable[ConsentDecision] = (),
) -> T:
    """``simulate``, answering ``read(engine)`` of the in-memory database at the end instead of the
    lines. ``consent``: decisions already in the consent ledger before the first event (the admin
    preview carries the customer's standing consent over from the hub's ledger this way)."""
    if not only_enabled:
        config = replace(
            config, enabled=True, policies=tuple(replace(p, enabled=True) for p in config.policies)
        )
    engine = memory_engine()
    try:
        clock = FixedClock(start.astimezone(UTC))
        catalog = mappings.catalog
        preview_crm = PreviewCrm(name=crm)
        numbers = itertools.count(1)
        linker = Linker(
            engine=engine,
            crm=preview_crm,
            mapping=mappings.crm(crm),
            catalog=catalog,
            clock=clock,
            default_region=default_region,
            window=episode_window,
            make_episode_id=lambda: f"ep_sim_{next(numbers):06d}",
        )
        worker = Worker(engine=engine, linker=linker, clock=clock, owner="simulate")
        service = RecoveryService(
            engine=engine,
            config=config,
            clock=clock,
            mapping=mappings.crm(crm),
            catalog=catalog,
            default_region=default_region,
            owner="simulate",
            dry_run=True,
        )
        with engine.begin() as connection:
            for decision in consent:
                consent_store.record_consent(connection, decision, now=clock.now())
        queue = deque(sorted((e for e in events if _at(e) <= end), key=lambda e: (_at(e), e.get("event_id"))))
        now = clock.now()
        while True:
            clock.set(now)
            with engine.begin() as connection:
                while queue and _at(queue[0]) <= now:
                    payload = queue.popleft()
                    inbox.add_event(
                        connection,
                        source=payload.get("source") or "generic",
                        event_id=payload["event_id"],
                        payload=json.dumps(payload),
                        now=min(_at(payload), now),
                    )
            worker.drain()
            service.tick()
            upcoming = [_at(queue[0])] if queue else []
            with engine.connect() as connection:
                due = connection.execute(
                    select(func.min(recovery_attempts.c.due_at)).where(
                        recovery_attempts.c.status == "pending"
                    )
                ).scalar()
            if due is not None:
                upcoming.append(due)
            later = [moment for moment in upcoming if moment > now]
            if not later or min(later) > end:
                break
            now = min(later)
        return read(engine)
    finally:
        engine.dispose()


_template: Engine | None = None
_template_lock = threading.Lock()


def memory_engine() -> Engine:
    """A new in-memory SQLite database at the latest revision. The migrations run once per process,
    on a template database; each simulation starts from a copy of it (SQLite's backup API: a few
    milliseconds instead of running every migration again, which the admin preview does twice per
    request)."""
    global _template
    engine = make_engine("sqlite://", poolclass=StaticPool)
    with _template_lock:
        if _template is None:
            template = make_engine("sqlite://", poolclass=StaticPool)
            migrate.upgrade(template)
            _template = template
        source, target = _template.raw_connection(), engine.raw_connection()
        try:
            source.driver_connection.backup(target.driver_connection)  # type: ignore[union-attr]
        finally:
            source.close()  # back to the StaticPool: the database lives on
            target.close()
    return engine


def _lines(engine: Any) -> list[dict[str, Any]]:
    lines: list[tuple[Any, ...]] = []
    with engine.connect() as connection:
        plans = {}
        for attempt in store.all_attempts(connection):
            plan = plans.get(attempt["plan_id"]) or store.get_plan(connection, attempt["plan_id"])
            plans[plan.id] = plan
            status, reason, at = fate(attempt)
            line = {
                "event_id": plan.event_id,
                "episode_id": plan.episode_id,
                "attempt": attempt["step"] + 1,
                "action": attempt["action"],
                "channel": attempt["channel"],
                "at": _utc_text(at),
                "status": status,
                "reason": reason,
            }
            lines.append((at, plan.occurred_at, plan.event_id, attempt["step"], line))
    return [line for *_, line in sorted(lines, key=lambda item: item[:4])]


def fate(attempt: Mapping[str, Any]) -> tuple[str, str | None, datetime]:
    """(planned | rescheduled | blocked, the reason, when) of a simulated attempt row."""
    if attempt["status"] in ("blocked", "cancelled", "failed"):
        return "blocked", attempt["reason"], attempt["finished_at"] or attempt["due_at"]
    at = attempt["touched_at"] or attempt["due_at"]
    if at > attempt["planned_for"]:
        return "rescheduled", "outside_contact_window", at
    return "planned", None, at


def as_json_lines(lines: Iterable[Mapping[str, Any]]) -> str:
    return "".join(
        json.dumps({name: line[name] for name in FIELDS}, ensure_ascii=False) + "\n" for line in lines
    )


def validator_for(mappings: Mappings) -> OutcomeValidator:
    return OutcomeValidator(load_outcome_schema(), mappings.catalog)
