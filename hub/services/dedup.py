"""Repair parallel cases/tickets created outside the hub: scan, plan, apply, undo (``ctihub dedup``).

For every open episode (one customer, one intent family) the CRM is asked, through the
``CaseRepair`` port, which people carry the customer's strong identifiers and which of their
cases/tickets of the family are open. Two or more make a plan:

- master: the case the hub's open episode is linked to, when it is among them (new events keep
  landing there, with its SLA clocks and panel); otherwise the oldest open one (the customer's first
  report). The reason is part of the plan.
- policy: the intents' ``duplicate_policy`` (attach, link_only, merge); intents of one family that
  disagree use the least destructive one.
- identity safety: an identifier the CRM shows on several people (one phone on two contacts) is
  recorded as shared (it joins no one from then on, at creation time too) and as an ambiguous match,
  and is not used to find cases; nothing is ever merged because of it.

Applying a plan writes a ``planned`` audit row, does the CRM part (nothing for attach), links the
duplicates to the master inside the hub (``dedup_links``; episode and event links re-pointed), and
writes ``applied`` (or ``failed``) with what undo needs. A plan whose CRM part cannot be undone (a
Zendesk merge) is flagged and only runs when confirmed. ``undo`` restores the hub's links exactly and
undoes in the CRM what can be undone, listing what cannot.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from hub.domain.catalog import DUPLICATE_POLICIES, Catalog
from hub.domain.errors import ConfigError, CrmError, HubError
from hub.domain.identity import Identifier
from hub.ports import ATTACH, HUB_CUSTOMER, CaseRepair, Clock, OpenCase, RepairResult
from hub.store import customers, dedup, links
from hub.store.dedup_tables import dedup_links
from hub.store.tables import episodes

ORDER = {policy: rank for rank, policy in enumerate(DUPLICATE_POLICIES)}  # least destructive first


def new_plan_id() -> str:
    return f"dd_{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Plan:
    id: str
    crm: str
    customer_key: str
    family: str
    episode_id: str
    policy: str
    master: OpenCase
    master_reason: str
    duplicates: tuple[OpenCase, ...]
    irreversible: bool
    what: str  # what applying it does, in one sentence

    def lines(self) -> list[str]:
        flag = "  IRREVERSIBLE in the CRM" if self.irreversible else ""
        out = [
            f"plan {self.id}  {self.crm}  customer {self.customer_key}  family {self.family}  "
            f"policy {self.policy}{flag}",
            f"  master     {_case(self.master)}",
            f"             why: {self.master_reason}",
        ]
        out += [f"  duplicate  {_case(d)}" for d in self.duplicates]
        out.append(f"  will: {self.what}")
        return out


@dataclass(frozen=True)
class Skipped:
    customer_key: str
    family: str
    reason: str


@dataclass
class ScanResult:
    plans: list[Plan] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)  # "<kind> <value>: <people>" noted as shared


@dataclass(frozen=True)
class Applied:
    plan_id: str
    state: str  # applied | failed | skipped
    done: tuple[str, ...]
    failed: dict[str, str]
    notes: tuple[str, ...] = ()


@dataclass
class DedupService:
    engine: Engine
    repair: CaseRepair
    catalog: Catalog
    clock: Clock
    actor: str = "ctihub dedup"

    # -- scan --------------------------------------------------------------------------------------

    def scan(self, *, customer_key: str | None = None, record: bool = True) -> ScanResult:
        """Plans for every open episode with parallel open cases. ``record=False`` writes nothing
        (not even the shared identifiers it discovers): the dry run."""
        result = ScanResult()
        with self.engine.connect() as connection:
            query = select(episodes.c.id, episodes.c.customer_key, episodes.c.intent_family).where(
                episodes.c.status == "open"
            )
            if customer_key:
                query = query.where(episodes.c.customer_key == customer_key)
            open_episodes = connection.execute(query.order_by(episodes.c.opened_at, episodes.c.id)).all()
        for episode in open_episodes:
            plan = self._plan(episode.id, episode.customer_key, episode.intent_family, result, record=record)
            if plan is not None:
                result.plans.append(plan)
        return result

    def _plan(
        self, episode_id: str, key: str, family: str, result: ScanResult, *, record: bool
    ) -> Plan | None:
        crm = self.repair.name
        with self.engine.connect() as connection:
            known = [i for i in customers.identifiers_of(connection, key) if i.joins]  # never asserted
            hub_case = links.episode_case(connection, episode_id, crm)
            linked = set(
                connection.execute(
                    select(dedup_links.c.duplicate_id).where(dedup_links.c.crm == crm)
                ).scalars()
            )
        lookup = [*known, Identifier(HUB_CUSTOMER, key, key)]
        people = self.repair.people(lookup)
        shared = [p for p in people if len(p.person_ids) > 1]
        persons = sorted({p.person_ids[0] for p in people if len(p.person_ids) == 1})
        shared_keys = {(p.kind, p.value) for p in shared}
        for person in shared:
            refs = [f"{crm}:{pid}" for pid in person.person_ids]
            result.shared.append(f"{person.kind} {person.value}: {', '.join(refs)}")
            if record:
                self._note_shared(key, person.kind, person.value, refs)
        usable = [i for i in known if (i.kind, i.value) not in shared_keys]
        intents = self._family_intents(family)
        cases = [c for c in self.repair.open_cases(persons, usable, intents) if c.id not in linked]
        if hub_case is not None and hub_case.id not in {c.id for c in cases}:
            own = self.repair.open_case(hub_case.id)
            if own is not None:
                cases.append(own)
        if shared:
            kinds = ", ".join(sorted({p.kind for p in shared}))
            result.skipped.append(
                Skipped(key, family, f"{kinds} shared by several {crm} people: not used to find cases")
            )
        if len(cases) < 2:
            return None
        covered = {c.id: plan.id for plan in result.plans for c in (plan.master, *plan.duplicates)}
        overlap = sorted({covered[c.id] for c in cases if c.id in covered})
        if overlap:  # another episode's plan (another hub customer of the same person) has them
            result.skipped.append(Skipped(key, family, f"its cases are in plan {', '.join(overlap)}"))
            return None
        hub_open = next((c for c in cases if hub_case is not None and c.id == hub_case.id), None)
        if hub_open is not None:
            master = hub_open
            reason = f"the hub's case of open episode {episode_id}: new events keep landing there"
        else:
            master = min(cases, key=_age)
            created = master.created_at.isoformat() if master.created_at else "unknown"
            reason = f"the oldest open one (created {created}): the customer's first report"
        duplicates = tuple(sorted((c for c in cases if c.id != master.id), key=_age))
        policy = self._policy(family)
        irreversible = self.repair.irreversible(policy)
        return Plan(
            id=new_plan_id(),
            crm=crm,
            customer_key=key,
            family=family,
            episode_id=episode_id,
            policy=policy,
            master=master,
            master_reason=reason,
            duplicates=duplicates,
            irreversible=irreversible,
            what=_what(crm, policy, master, duplicates, irreversible),
        )

    def _note_shared(self, key: str, kind: str, value: str, refs: list[str]) -> None:
        now = self.clock.now()
        identifier = Identifier(kind, value, value)
        with self.engine.begin() as connection:
            customers.mark_shared(connection, identifier, refs, source=f"{self.repair.name}:people", now=now)
            dedup.record_ambiguous(
                connection,
                customers.Resolution(key, customers.SHARED, tuple(refs), (identifier,)),
                event_ref=f"scan:{self.repair.name}:{kind}:{value}",
                inbox_id=None,
                now=now,
            )

    def _family_intents(self, family: str) -> set[str]:
        found = {code for code, intent in self.catalog.intents.items() if intent.family == family}
        return found or {family}

    def _policy(self, family: str) -> str:
        policies = [i.duplicate_policy for i in self.catalog.intents.values() if i.family == family]
        known = [p for p in policies if p in ORDER]
        return min(known, key=ORDER.__getitem__) if known else ATTACH

    # -- apply -------------------------------------------------------------------------------------

    def apply(self, plan: Plan, *, confirmed: bool = False) -> Applied:
        """Run one plan. An irreversible plan runs only when ``confirmed``; otherwise it is skipped."""
        if plan.irreversible and not confirmed:
            self._audit(plan, dedup.SKIPPED, {"why": "irreversible in the CRM and not confirmed"})
            return Applied(plan.id, dedup.SKIPPED, (), {"*": "irreversible: confirm with --yes"})
        self._audit(plan, dedup.PLANNED, {"what": plan.what, "master_reason": plan.master_reason})
        note = f"CTI Hub dedup plan {plan.id}: {plan.what}"
        try:
            outcome = self.repair.apply(plan.policy, plan.master, plan.duplicates, note=note)
        except (CrmError, ConfigError) as exc:
            self._audit(plan, dedup.FAILED, {"error": _describe(exc)})
            return Applied(plan.id, dedup.FAILED, (), {"*": _describe(exc)})
        with self.engine.begin() as connection:
            before = dedup.link_duplicates(
                connection,
                crm=plan.crm,
                master_id=plan.master.id,
                duplicate_ids=outcome.done,
                plan_id=plan.id,
                now=self.clock.now(),
            )
        state = dedup.APPLIED if outcome.done or not outcome.failed else dedup.FAILED
        self._audit(
            plan,
            state,
            {
                "done": list(outcome.done),
                "failed": dict(outcome.failed),
                "crm": asdict(outcome),
                "hub": before,
            },
        )
        return Applied(plan.id, state, outcome.done, dict(outcome.failed), outcome.notes)

    # -- undo --------------------------------------------------------------------------------------

    def undo(self, plan_id: str) -> Applied:
        """Put the hub's links back as they were before the plan; undo what the CRM can undo."""
        with self.engine.connect() as connection:
            rows = dedup.audit_rows(connection, plan_id)
        applied = [r for r in rows if r["state"] == dedup.APPLIED]
        if not applied:
            raise HubError(f"plan {plan_id} was never applied" if rows else f"no plan {plan_id}")
        if rows[-1]["state"] == dedup.UNDONE:
            raise HubError(f"plan {plan_id} is already undone")
        last = applied[-1]
        details = last["details"]
        crm_part = RepairResult(**{**details["crm"], "done": tuple(details["crm"].get("done") or ())})
        with self.engine.begin() as connection:
            dedup.restore(connection, crm=last["crm"], plan_id=plan_id, before=details.get("hub") or {})
        note = f"CTI Hub dedup plan {plan_id} undone"
        try:
            undone = self.repair.undo(crm_part, note=note)
        except (CrmError, ConfigError) as exc:
            self._audit_row(last, dedup.UNDO_FAILED, {"hub": "restored", "error": _describe(exc)})
            return Applied(plan_id, dedup.UNDO_FAILED, (), {"*": _describe(exc)})
        self._audit_row(
            last,
            dedup.UNDONE,
            {"hub": "restored", "crm_undone": list(undone.done), "crm_not_undone": dict(undone.failed)},
        )
        return Applied(plan_id, dedup.UNDONE, undone.done, dict(undone.failed))

    # -- audit -------------------------------------------------------------------------------------

    def _audit(self, plan: Plan, state: str, details: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            dedup.audit(
                connection,
                plan_id=plan.id,
                state=state,
                crm=plan.crm,
                customer_key=plan.customer_key,
                intent_family=plan.family,
                policy=plan.policy,
                master_id=plan.master.id,
                duplicate_ids=[d.id for d in plan.duplicates],
                irreversible=plan.irreversible,
                reason=plan.master_reason,
                details=details,
                actor=self.actor,
                now=self.clock.now(),
            )

    def _audit_row(self, row: dict[str, Any], state: str, details: dict[str, Any]) -> None:
        with self.engine.begin() as connection:
            dedup.audit(
                connection,
                plan_id=row["plan_id"],
                state=state,
                crm=row["crm"],
                customer_key=row["customer_key"],
                intent_family=row["intent_family"],
                policy=row["policy"],
                master_id=row["master_id"],
                duplicate_ids=row["duplicate_ids"],
                irreversible=row["irreversible"],
                reason=row["reason"],
                details=details,
                actor=self.actor,
                now=self.clock.now(),
            )


def _age(case: OpenCase) -> tuple[str, str]:
    return (case.created_at.isoformat() if case.created_at else "9999", case.id.rjust(20, "0"))


def _case(case: OpenCase) -> str:
    created = case.created_at.strftime("%Y-%m-%d %H:%M") if case.created_at else "?"
    origin = "created by the hub" if case.hub_key else "created outside the hub"
    return (
        f"{case.object} {case.id}  {case.status}  created {created}  {origin}  {case.subject or ''}".rstrip()
    )


def _what(crm: str, policy: str, master: OpenCase, duplicates: Sequence[OpenCase], irreversible: bool) -> str:
    ids = ", ".join(d.id for d in duplicates)
    if policy == ATTACH:
        return f"link {ids} to {master.id} inside the hub only; nothing changes in {crm}"
    if crm == "zendesk":
        if policy == "merge":
            return (
                f"merge {ids} into {master.id} with Zendesk's merge (sources closed, private comments); "
                "a Zendesk merge cannot be undone"
            )
        return f"tag {ids} ctihub_duplicate with a private note naming {master.id}; nothing is closed"
    if policy == "merge":
        return (
            f"set ParentId of {ids} to {master.id}, close them with the configured closed status and add "
            "a CaseComment; undo reopens them (close-triggered automation cannot be called back)"
        )
    suffix = " (irreversible)" if irreversible else ""
    return f"set ParentId of {ids} to {master.id} and add a CaseComment; nothing is closed{suffix}"


def _describe(exc: Exception) -> str:
    if isinstance(exc, CrmError):
        return exc.describe()
    message = getattr(exc, "message", str(exc))
    problems = "; ".join(f"{p.path}: {p.message}" for p in getattr(exc, "problems", ()))
    return f"{message} ({problems})" if problems else message
