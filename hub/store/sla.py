"""SLA persistence: the episode history, its derived clocks, the warnings/breaches acted on, and what
each case's mapped SLA fields should say and last said."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from hub.domain.sla import MERGED, AppliedPolicy, MetricClock
from hub.store.sla_tables import sla_actions, sla_clocks, sla_events, sla_field_writes
from hub.store.sql import insert_ignoring_conflicts

MAX_MERGE_DEPTH = 10


@dataclass(frozen=True)
class StoredEvent:
    id: int
    episode_id: str
    kind: str
    at: datetime
    public: bool
    status: str | None
    merged_into: str | None
    attributes: dict[str, str | None]  # channel, intent, priority, crm, tier
    assigned: bool
    applied: AppliedPolicy | None


ATTRIBUTE_COLUMNS = ("channel", "intent", "priority", "crm", "tier")


def record_event(connection: Connection, values: dict[str, Any]) -> bool:
    """Append one history row; False when its ``event_key`` was recorded before (a redelivery)."""
    return insert_ignoring_conflicts(connection, sla_events, values, ["event_key"]) == 1


def _stored(row: Any) -> StoredEvent:
    applied = json.loads(row.applied) if row.applied else None
    return StoredEvent(
        id=row.id,
        episode_id=row.episode_id,
        kind=row.kind,
        at=row.at,
        public=row.public,
        status=row.status,
        merged_into=row.merged_into,
        attributes={name: getattr(row, name) for name in ATTRIBUTE_COLUMNS},
        assigned=row.assigned_at is not None,
        applied=AppliedPolicy.from_dict(applied) if applied else None,
    )


def episode_events(connection: Connection, episode_id: str) -> list[StoredEvent]:
    """The episode's own history, in time order (recording order within one instant)."""
    rows = connection.execute(
        select(sla_events)
        .where(sla_events.c.episode_id == episode_id)
        .order_by(sla_events.c.at, sla_events.c.id)
    ).all()
    return [_stored(row) for row in rows]


def merged_sources(connection: Connection, episode_id: str) -> list[tuple[str, datetime]]:
    """Episodes merged into ``episode_id``, directly or through others: (episode id, merged at)."""
    found: list[tuple[str, datetime]] = []
    frontier, seen = [episode_id], {episode_id}
    for _ in range(MAX_MERGE_DEPTH):
        if not frontier:
            break
        rows = connection.execute(
            select(sla_events.c.episode_id, sla_events.c.at).where(
                and_(sla_events.c.kind == MERGED, sla_events.c.merged_into.in_(frontier))
            )
        ).all()
        frontier = []
        for source, at in rows:
            if source not in seen:
                seen.add(source)
                found.append((source, at))
                frontier.append(source)
    return found


def merge_target(connection: Connection, episode_id: str) -> str | None:
    return connection.execute(
        select(sla_events.c.merged_into)
        .where(and_(sla_events.c.episode_id == episode_id, sla_events.c.kind == MERGED))
        .order_by(sla_events.c.at, sla_events.c.id)
        .limit(1)
    ).scalar()


def assign(connection: Connection, event_id: int, applied: AppliedPolicy | None, now: datetime) -> None:
    """Record the policy matched on an event (once: a concurrent assignment keeps the first)."""
    connection.execute(
        update(sla_events)
        .where(and_(sla_events.c.id == event_id, sla_events.c.assigned_at.is_(None)))
        .values(applied=json.dumps(applied.as_dict() if applied else None), assigned_at=now)
    )


def unassigned_episodes(connection: Connection, limit: int) -> list[str]:
    """Episodes with history not matched against the policies yet (recorded by a config-less path)."""
    rows = connection.execute(
        select(sla_events.c.episode_id)
        .where(sla_events.c.assigned_at.is_(None))
        .group_by(sla_events.c.episode_id)
        .order_by(sla_events.c.episode_id)
        .limit(limit)
    ).all()
    return [row[0] for row in rows]


# --- derived clocks ------------------------------------------------------------------------------


def _upsert(connection: Connection, table: Any, values: dict[str, Any], keys: Sequence[str]) -> None:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys), set_={k: v for k, v in values.items() if k not in keys}
    )
    connection.execute(statement)


def store_clocks(
    connection: Connection, episode_id: str, clocks: Iterable[MetricClock], now: datetime
) -> None:
    """Replace the cached latest clock of each metric of the episode."""
    kept = []
    for clock in clocks:
        kept.append(clock.metric)
        _upsert(
            connection,
            sla_clocks,
            {
                "episode_id": episode_id,
                "metric": clock.metric,
                "instance": clock.instance,
                "policy": clock.policy[:200],
                "target_minutes": clock.target_minutes,
                "business_hours": clock.business_hours,
                "started_at": clock.started_at,
                "ended_at": clock.ended_at,
                "due_at": clock.due_at,
                "warn_at": clock.warn_at,
                "status": clock.status,
                "breached_at": clock.breached_at,
                "computed_at": now,
            },
            ["episode_id", "metric"],
        )
    connection.execute(
        delete(sla_clocks).where(
            and_(sla_clocks.c.episode_id == episode_id, sla_clocks.c.metric.not_in(kept))
        )
    )


def stored_clocks(connection: Connection, episode_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(sla_clocks).where(sla_clocks.c.episode_id == episode_id).order_by(sla_clocks.c.metric)
    ).all()
    return [dict(row._mapping) for row in rows]


def _acted(kind: str) -> Any:
    return exists().where(
        and_(
            sla_actions.c.episode_id == sla_clocks.c.episode_id,
            sla_actions.c.metric == sla_clocks.c.metric,
            sla_actions.c.instance == sla_clocks.c.instance,
            sla_actions.c.kind == kind,
        )
    )


def episodes_due(connection: Connection, now: datetime, limit: int) -> list[str]:
    """Episodes with a running clock that is breached, or due a warning, and not yet acted on."""
    breach_due = and_(
        or_(sla_clocks.c.breached_at.is_not(None), sla_clocks.c.due_at <= now), ~_acted("breach")
    )
    warning_due = and_(
        sla_clocks.c.status == "active", sla_clocks.c.warn_at <= now, ~_acted("warning"), ~_acted("breach")
    )
    rows = connection.execute(
        select(sla_clocks.c.episode_id)
        .where(and_(sla_clocks.c.ended_at.is_(None), or_(breach_due, warning_due)))
        .group_by(sla_clocks.c.episode_id)
        .order_by(sla_clocks.c.episode_id)
        .limit(limit)
    ).all()
    return [row[0] for row in rows]


# --- actions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    id: int
    episode_id: str
    metric: str
    instance: int
    kind: str
    key: str
    due_at: datetime | None
    breached_at: datetime | None
    attempts: int


def record_action(connection: Connection, values: dict[str, Any]) -> bool:
    """Insert the action once per (episode, metric, instance, kind); False when it exists already."""
    return (
        insert_ignoring_conflicts(
            connection, sla_actions, values, ["episode_id", "metric", "instance", "kind"]
        )
        == 1
    )


def claim_actions(connection: Connection, now: datetime, until: datetime, limit: int) -> list[Action]:
    """Actions not done whose time has come and that no one holds; each claimed row is ours alone."""
    candidates = connection.execute(
        select(sla_actions.c.id)
        .where(
            and_(
                sla_actions.c.done_at.is_(None),
                or_(sla_actions.c.next_attempt_at.is_(None), sla_actions.c.next_attempt_at <= now),
                or_(sla_actions.c.claimed_until.is_(None), sla_actions.c.claimed_until < now),
            )
        )
        .order_by(sla_actions.c.id)
        .limit(limit)
    ).all()
    claimed = []
    for (action_id,) in candidates:
        result = connection.execute(
            update(sla_actions)
            .where(
                and_(
                    sla_actions.c.id == action_id,
                    sla_actions.c.done_at.is_(None),
                    or_(sla_actions.c.claimed_until.is_(None), sla_actions.c.claimed_until < now),
                )
            )
            .values(claimed_until=until, attempts=sla_actions.c.attempts + 1)
        )
        if result.rowcount == 1:
            row = connection.execute(select(sla_actions).where(sla_actions.c.id == action_id)).one()
            claimed.append(
                Action(
                    id=row.id,
                    episode_id=row.episode_id,
                    metric=row.metric,
                    instance=row.instance,
                    kind=row.kind,
                    key=row.key,
                    due_at=row.due_at,
                    breached_at=row.breached_at,
                    attempts=row.attempts,
                )
            )
    return claimed


def finish_action(
    connection: Connection,
    action_id: int,
    now: datetime,
    *,
    case_id: str | None = None,
    activity_id: str | None = None,
    note: str | None = None,
) -> None:
    connection.execute(
        update(sla_actions)
        .where(sla_actions.c.id == action_id)
        .values(done_at=now, claimed_until=None, case_id=case_id, activity_id=activity_id, last_error=note)
    )


def retry_action(connection: Connection, action_id: int, next_attempt_at: datetime, error: str) -> None:
    connection.execute(
        update(sla_actions)
        .where(sla_actions.c.id == action_id)
        .values(claimed_until=None, next_attempt_at=next_attempt_at, last_error=error[:2000])
    )


def episode_actions(connection: Connection, episode_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(sla_actions).where(sla_actions.c.episode_id == episode_id).order_by(sla_actions.c.id)
    ).all()
    return [dict(row._mapping) for row in rows]


# --- the case's mapped SLA fields ----------------------------------------------------------------

LINK, ACTION, SYNC = "link", "action", "sync"  # who wrote the fields (sla_field_writes.written_by)
NO_FIELDS = "{}"  # ``wanted`` when the derivation maps to no fields (no mapping, no clocks)
HELD, LOST, ALREADY_WRITTEN = "held", "lost", "already written"  # what ``hold_field_write`` found


@dataclass(frozen=True)
class FieldWrite:
    """A claimed row of ``sla_field_writes``: this episode's case fields are to be written."""

    episode_id: str
    crm: str
    attempts: int  # counting this one
    owner: str  # this claim's token (``claimed_by``): only its holder writes, finishes or retries


def canonical(fields: Mapping[str, Any]) -> str:
    """The fields as JSON that compares equal exactly when the fields do."""
    return json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), default=str)


def _field_row(episode_id: str, crm: str) -> Any:
    return and_(sla_field_writes.c.episode_id == episode_id, sla_field_writes.c.crm == crm)


def _held(claim: FieldWrite) -> Any:
    return and_(_field_row(claim.episode_id, claim.crm), sla_field_writes.c.claimed_by == claim.owner)


def want_fields(connection: Connection, episode_id: str, crm: str, fields: str, now: datetime) -> None:
    """What the case's fields should say now (canonical JSON); pending when not what was written.

    ``NO_FIELDS`` (nothing mapped) is recorded too, on a row that exists, and is never pending: a
    mapping restored later with the value wanted before is then a change, and written.
    """
    table = sla_field_writes
    if fields == NO_FIELDS:
        connection.execute(
            update(table)
            .where(and_(_field_row(episode_id, crm), table.c.wanted != NO_FIELDS))
            .values(wanted=NO_FIELDS, wanted_at=now, pending=False)
        )
        return
    current = connection.execute(select(table.c.wanted).where(_field_row(episode_id, crm))).first()
    if current is not None and current.wanted == fields:
        return  # the common case: a refresh that changed nothing the fields show
    if current is None:
        row = {"episode_id": episode_id, "crm": crm, "wanted": fields, "wanted_at": now, "pending": True}
        if insert_ignoring_conflicts(connection, table, row, ["episode_id", "crm"]):
            return
    connection.execute(  # also when another transaction inserted it meanwhile
        update(table)
        .where(and_(_field_row(episode_id, crm), table.c.wanted != fields))
        .values(
            wanted=fields, wanted_at=now, pending=or_(table.c.written.is_(None), table.c.written != fields)
        )
    )


def fields_written(
    connection: Connection,
    episode_id: str,
    crm: str,
    fields: str,
    now: datetime,
    *,
    by: str,
    case_id: str | None = None,
) -> None:
    """What the case's fields say now, written by the link path, an action or the sync.

    Leaves any claim alone: only the sync that holds it releases it (``finish_field_write``). A
    holder about to write the same values sees them here and does not (``hold_field_write``).
    """
    table = sla_field_writes
    values: dict[str, Any] = {
        "written": fields,
        "written_at": now,
        "written_by": by,
        "pending": table.c.wanted != fields,
    }
    if case_id is not None:
        values["case_id"] = case_id
    if connection.execute(update(table).where(_field_row(episode_id, crm)).values(**values)).rowcount:
        return
    row = {
        **values,
        "episode_id": episode_id,
        "crm": crm,
        "wanted": fields,
        "wanted_at": now,
        "pending": False,
    }
    if not insert_ignoring_conflicts(connection, table, row, ["episode_id", "crm"]):
        connection.execute(update(table).where(_field_row(episode_id, crm)).values(**values))


def written_fields(connection: Connection, episode_id: str, crm: str) -> str | None:
    return connection.execute(select(sla_field_writes.c.written).where(_field_row(episode_id, crm))).scalar()


def _differs() -> Any:
    """``pending`` as SQL: fields are wanted, and they are not what was last written."""
    table = sla_field_writes
    return and_(
        table.c.wanted != NO_FIELDS, or_(table.c.written.is_(None), table.c.written != table.c.wanted)
    )


def _field_write_due(now: datetime) -> Any:
    table = sla_field_writes
    return and_(
        table.c.pending == true(),
        or_(table.c.next_attempt_at.is_(None), table.c.next_attempt_at <= now),
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
    )


def claim_field_writes(
    connection: Connection, crm: str, now: datetime, until: datetime, limit: int
) -> list[FieldWrite]:
    """Pending rows whose time has come and that no one holds; each claimed row is ours alone, under
    a token of its own, until ``until`` (or until another claim takes it over after that).

    An episode with a warning or breach still to write waits for it: that write carries the fields.
    """
    table = sla_field_writes
    action_to_write = exists().where(
        and_(sla_actions.c.episode_id == table.c.episode_id, sla_actions.c.done_at.is_(None))
    )
    candidates = connection.execute(
        select(table.c.episode_id)
        .where(and_(table.c.crm == crm, _field_write_due(now), ~action_to_write))
        .order_by(table.c.wanted_at, table.c.episode_id)
        .limit(limit)
    ).all()
    claimed = []
    for (episode_id,) in candidates:
        owner = uuid.uuid4().hex
        result = connection.execute(
            update(table)
            .where(and_(_field_row(episode_id, crm), _field_write_due(now)))
            .values(claimed_until=until, claimed_by=owner, attempts=table.c.attempts + 1)
        )
        if result.rowcount == 1:
            attempts = connection.execute(
                select(table.c.attempts).where(_field_row(episode_id, crm))
            ).scalar_one()
            claimed.append(FieldWrite(episode_id, crm, attempts, owner))
    return claimed


def hold_field_write(
    connection: Connection, claim: FieldWrite, now: datetime, until: datetime, fields: str
) -> str:
    """Right before writing ``fields``: is the claim still ours, and are they still to be written?

    ``HELD``: yes, and the claim now runs until ``until``; ``LOST``: it ran out (or another claim took
    it over), leave the row alone; ``ALREADY_WRITTEN``: the case says them already (another writer).
    One conditional UPDATE, so no other claim can slip in between the check and the extension.
    """
    table = sla_field_writes
    result = connection.execute(
        update(table)
        .where(
            and_(
                _held(claim),
                table.c.claimed_until >= now,
                or_(table.c.written.is_(None), table.c.written != fields),
            )
        )
        .values(claimed_until=until)
    )
    if result.rowcount == 1:
        return HELD
    row = connection.execute(
        select(table.c.claimed_by, table.c.claimed_until).where(_field_row(claim.episode_id, claim.crm))
    ).first()
    if row is None or row.claimed_by != claim.owner or row.claimed_until is None or row.claimed_until < now:
        return LOST
    return ALREADY_WRITTEN


def finish_field_write(
    connection: Connection,
    claim: FieldWrite,
    now: datetime,
    *,
    fields: str | None = None,
    case_id: str | None = None,
    note: str | None = None,
) -> bool:
    """Release the claim; ``fields``: what was written. Without them and with a ``note``, the change
    is given up (a later change is tried again).

    What was written is recorded even when the claim was lost meanwhile (the case says it now, and a
    later holder must not write it again); the claim is released only by its holder. False when
    the claim was no longer ours.
    """
    if fields is not None:
        fields_written(connection, claim.episode_id, claim.crm, fields, now, by=SYNC, case_id=case_id)
    table = sla_field_writes
    values: dict[str, Any] = {
        "claimed_until": None,
        "claimed_by": None,
        "attempts": 0,
        "next_attempt_at": None,
        "last_error": None if note is None else note[:2000],
        # given up, or still pending only when what is wanted is not what the case says
        "pending": False if note is not None else _differs(),
    }
    return connection.execute(update(table).where(_held(claim)).values(**values)).rowcount == 1


def retry_field_write(
    connection: Connection, claim: FieldWrite, next_attempt_at: datetime, error: str, *, counted: bool = True
) -> bool:
    """Release the claim until ``next_attempt_at``; ``counted=False`` gives the attempt back.

    Only by its holder: False (and nothing changed) when the claim was no longer ours.
    """
    table = sla_field_writes
    values: dict[str, Any] = {
        "claimed_until": None,
        "claimed_by": None,
        "next_attempt_at": next_attempt_at,
        "last_error": error[:2000],
    }
    if not counted:
        values["attempts"] = table.c.attempts - 1
    return connection.execute(update(table).where(_held(claim)).values(**values)).rowcount == 1


def field_write(connection: Connection, episode_id: str, crm: str) -> dict[str, Any] | None:
    row = connection.execute(select(sla_field_writes).where(_field_row(episode_id, crm))).first()
    return dict(row._mapping) if row is not None else None
