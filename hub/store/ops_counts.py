"""Cheap counts for a Prometheus scrape, never a scan of every event (``/metrics`` must answer in
well under 100 ms with a million events stored): the inbox's depth and oldest waiting event are
index ranges over the events not linked yet; SLA actions by kind, recovery attempts by status and
blocks by reason are index-only counts (``ix_sla_actions_kind``, ``ix_recovery_attempts_status``,
``ix_recovery_attempts_status_reason``), so they grow with the actions and attempts stored (about
50,000 and 100,000 with a million events), not with the events."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update

from hub.store.metrics_tables import metric_ops_counts, metric_state
from hub.store.recovery_tables import recovery_attempts
from hub.store.sla_tables import sla_actions
from hub.store.tables import inbox

QUEUED = ("pending", "processing", "failed")  # not linked yet, still to be tried
DEPTH_STATUSES = (*QUEUED, "dead")


def inbox_depth(connection: Connection) -> dict[str, int]:
    """Events per status that are not linked (served by ``ix_inbox_due``'s leading status column)."""
    rows = connection.execute(
        select(inbox.c.status, func.count())
        .where(inbox.c.status.in_(DEPTH_STATUSES))
        .group_by(inbox.c.status)
    ).all()
    found = dict.fromkeys(DEPTH_STATUSES, 0)
    found.update({status: int(count) for status, count in rows})
    return found


def oldest_queued(connection: Connection) -> datetime | None:
    """When the oldest event still waiting to be linked was received."""
    return connection.execute(
        select(func.min(inbox.c.received_at)).where(inbox.c.status.in_(QUEUED))
    ).scalar()


def sla_actions_by_kind(connection: Connection) -> dict[str, int]:
    """Warnings and breaches acted on (rows are never deleted: a counter)."""
    rows = connection.execute(select(sla_actions.c.kind, func.count()).group_by(sla_actions.c.kind)).all()
    return {kind: int(count) for kind, count in rows}


def recovery_attempts_by_status(connection: Connection) -> dict[str, int]:
    a = recovery_attempts.c
    return {
        status: int(n) for status, n in connection.execute(select(a.status, func.count()).group_by(a.status))
    }


def recovery_blocks_by_reason(connection: Connection) -> dict[str, int]:
    a = recovery_attempts.c
    rows = connection.execute(
        select(a.reason, func.count()).where(a.status.in_(("blocked", "cancelled"))).group_by(a.reason)
    ).all()
    return {str(reason or "unknown"): int(count) for reason, count in rows}


# -- the counters that grow with the rows stored, as of the rollup's last tick --------------------

SLOW = {
    "sla_actions": sla_actions_by_kind,
    "recovery_attempts": recovery_attempts_by_status,
    "recovery_blocks": recovery_blocks_by_reason,
}
Counts = dict[str, dict[str, int]]


def slow_counts(connection: Connection) -> Counts:
    return {family: count(connection) for family, count in SLOW.items()}


def save_snapshot(connection: Connection, counts: Counts, at: datetime) -> None:
    """Store ``counts`` as of ``at`` (the rollup's tick does, in its last transaction)."""
    connection.execute(delete(metric_ops_counts))
    rows = [
        {"family": family, "label": label, "value": value}
        for family, values in counts.items()
        for label, value in values.items()
    ]
    if rows:
        connection.execute(insert(metric_ops_counts), rows)
    connection.execute(update(metric_state).values(ops_counted_at=at))


def counts_for_scrape(connection: Connection, now: datetime, max_age: timedelta) -> Counts:
    """The snapshot when it is at most ``max_age`` old (a few rows), else counted now: a hub
    without a running scheduler still reports true figures, only slower."""
    taken = connection.execute(select(metric_state.c.ops_counted_at)).scalar()
    if taken is None or not timedelta(0) <= now - taken <= max_age:
        return slow_counts(connection)
    found: Counts = {family: {} for family in SLOW}
    for family, label, value in connection.execute(select(metric_ops_counts)).all():
        found.setdefault(family, {})[label] = int(value)
    return found
