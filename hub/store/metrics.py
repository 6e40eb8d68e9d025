"""Reads and writes of the metrics rollup (``hub.store.metrics_tables``) and the source rows it is
built from: linked inbox events, deflection decisions, SLA breaches, cases and dedup links."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    true,
    union,
    update,
)
from sqlalchemy.engine import Row

from hub.store.db import driver_datetime
from hub.store.dedup_tables import dedup_links
from hub.store.deflection_tables import deflection_decisions
from hub.store.metrics_tables import (
    COUNTS,
    metric_contacts,
    metric_daily,
    metric_dedup_seen,
    metric_inquiries,
    metric_offer_facts,
    metric_offers,
    metric_ops_counts,
    metric_state,
)
from hub.store.sla_tables import sla_actions, sla_clocks
from hub.store.tables import episode_cases, episodes, inbox

STATE_ID = 1
CHUNK = 500  # keys per IN (...) list
ROLLUP_TABLES = (
    metric_contacts,
    metric_offer_facts,
    metric_inquiries,
    metric_offers,
    metric_daily,
    metric_dedup_seen,
    metric_ops_counts,
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(at: datetime) -> int:
    """Microseconds since the epoch, exactly (the rollup's SQL compares times as these integers)."""
    return (at - EPOCH) // timedelta(microseconds=1)


def chunks(items: Iterable[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- state ---------------------------------------------------------------------------------------


def load_state(connection: Connection) -> dict[str, Any] | None:
    row = connection.execute(select(metric_state).where(metric_state.c.id == STATE_ID)).first()
    return dict(row._mapping) if row else None


def reset(connection: Connection, window_hours: float) -> None:
    """Forget the rollup (first run, or R changed): the next tick rebuilds it from the sources."""
    for table in (*ROLLUP_TABLES, metric_state):
        connection.execute(delete(table))
    connection.execute(insert(metric_state).values(id=STATE_ID, recontact_window_hours=window_hours))


def analyze(connection: Connection) -> None:
    """Refresh PostgreSQL's statistics of the fact tables after a large load: with none (a fresh
    table) the planner takes the recomputation's derived tables for a row each and nests loops
    over them. SQLite's plans come from the indexes alone; nothing to do there."""
    if connection.dialect.name == "postgresql":
        for table in (metric_contacts, metric_offer_facts, metric_inquiries, metric_offers):
            connection.execute(text(f"ANALYZE {table.name}"))


def save_state(connection: Connection, **values: Any) -> None:
    connection.execute(update(metric_state).where(metric_state.c.id == STATE_ID).values(**values))


# -- sources -------------------------------------------------------------------------------------


def linked_page(
    connection: Connection, since: datetime | None, after: tuple[datetime, int] | None, limit: int
) -> list[Row[Any]]:
    """Linked events from ``since`` on, in (linked_at, id) order, after the keyset ``after``."""
    # A range on ix_inbox_linked_at, read in its order: each page costs its own rows, never a scan
    # of every linked event. The status is tested through coalesce() so that no planner can use
    # ix_inbox_due for it: SQLite did (nearly every row is linked), then sorted every linked event
    # for each page, which made a first build quadratic. (SQLAlchemy renders no INDEXED BY hint.)
    condition = and_(func.coalesce(inbox.c.status, "") == "linked", inbox.c.linked_at.is_not(None))
    if after is not None:
        at, row_id = after
        condition = and_(condition, inbox.c.linked_at >= at, or_(inbox.c.linked_at > at, inbox.c.id > row_id))
    elif since is not None:
        condition = and_(condition, inbox.c.linked_at >= since)
    query = (
        select(
            inbox.c.id,
            inbox.c.customer_key,
            inbox.c.episode_id,
            inbox.c.payload,
            inbox.c.linked_at,
            episodes.c.intent_family,
        )
        .select_from(inbox.join(episodes, episodes.c.id == inbox.c.episode_id))
        .where(condition)
        .order_by(inbox.c.linked_at, inbox.c.id)
        .limit(limit)
    )
    return list(connection.execute(query).all())


def linked_count(connection: Connection, since: datetime | None) -> int:
    condition = inbox.c.status == "linked"
    if since is not None:
        condition = and_(condition, inbox.c.linked_at >= since)
    return int(connection.execute(select(func.count()).where(condition)).scalar_one())


def known_contacts(connection: Connection, ids: Collection[int]) -> set[int]:
    c = metric_contacts.c
    return set(connection.execute(select(c.inbox_id).where(c.inbox_id.in_(list(ids)))).scalars())


CONTACT_COLUMNS = tuple(column.name for column in metric_contacts.columns)


def _driver_value(value: Any, dialect: str) -> Any:
    return driver_datetime(value, dialect) if isinstance(value, datetime) else value


def add_contacts(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many contacts through the driver's executemany: a first build inserts every linked
    event, and SQLAlchemy's per-row parameter processing was half of that phase's time. Values are
    converted here exactly as the column types would (the text SQLite's DateTime stores)."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == "postgresql":  # COPY: the fastest way in, same transaction
        cursor = connection.connection.cursor()
        try:
            command = f"COPY {metric_contacts.name} ({', '.join(CONTACT_COLUMNS)}) FROM STDIN"
            with cursor.copy(command) as copy:  # type: ignore[attr-defined]  (psycopg 3)
                for row in rows:
                    copy.write_row(tuple(_driver_value(row[name], dialect) for name in CONTACT_COLUMNS))
        finally:
            cursor.close()
        return
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = (
        f"INSERT INTO {metric_contacts.name} ({', '.join(CONTACT_COLUMNS)}) "  # noqa: S608 (our names)
        f"VALUES ({', '.join(mark for _ in CONTACT_COLUMNS)})"
    )
    values = [tuple(_driver_value(row[name], dialect) for name in CONTACT_COLUMNS) for row in rows]
    connection.exec_driver_sql(statement, values)


def decisions_after(connection: Connection, after_id: int, limit: int) -> list[Row[Any]]:
    d = deflection_decisions.c
    return list(
        connection.execute(
            select(d.id, d.jti, d.decided_at, d.intent, d.customer_key, d.episode_id, d.offers)
            .where(d.id > after_id)
            .order_by(d.id)
            .limit(limit)
        ).all()
    )


def breached_since(connection: Connection, computed_since: datetime | None, action_after: int) -> set[str]:
    """Episodes whose SLA clocks breached (recomputed since ``computed_since``) or that got a breach
    action after id ``action_after``."""
    # The status and kind go through coalesce() so that the ranges on computed_at and id drive
    # the reads: SQLite would otherwise take the status/kind indexes and read every breach.
    clocks = select(sla_clocks.c.episode_id).where(func.coalesce(sla_clocks.c.status, "") == "breached")
    if computed_since is not None:
        clocks = clocks.where(sla_clocks.c.computed_at >= computed_since)
    actions = select(sla_actions.c.episode_id).where(
        func.coalesce(sla_actions.c.kind, "") == "breach", sla_actions.c.id > action_after
    )
    return set(connection.execute(union(clocks, actions)).scalars())


def sla_marks(connection: Connection) -> tuple[datetime | None, int]:
    """The newest SLA clock computation time and breach action id: the next tick reads past them."""
    computed = connection.execute(select(func.max(sla_clocks.c.computed_at))).scalar()
    action = connection.execute(select(func.max(sla_actions.c.id))).scalar()
    return computed, int(action or 0)


def pairs_of_episodes(connection: Connection, episode_ids: Iterable[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    c = metric_contacts.c
    for batch in chunks(episode_ids):
        found.update(
            (row.customer_key, row.family)
            for row in connection.execute(
                select(c.customer_key, c.family).where(c.episode_id.in_(batch)).distinct()
            )
        )
    return found


def episodes_of_cases(connection: Connection, crm: str, case_ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    e = episode_cases.c
    for batch in chunks(case_ids):
        found.update(
            connection.execute(select(e.episode_id).where(e.crm == crm, e.case_id.in_(batch))).scalars()
        )
    return found


def dedup_links_now(connection: Connection) -> set[tuple[str, str, str]]:
    d = dedup_links.c
    return {tuple(row) for row in connection.execute(select(d.crm, d.duplicate_id, d.master_id))}  # type: ignore[misc]


def dedup_seen(connection: Connection) -> set[tuple[str, str, str]]:
    d = metric_dedup_seen.c
    return {tuple(row) for row in connection.execute(select(d.crm, d.duplicate_id, d.master_id))}  # type: ignore[misc]


def replace_dedup_seen(connection: Connection, links: Iterable[tuple[str, str, str]]) -> None:
    connection.execute(delete(metric_dedup_seen))
    rows = [{"crm": crm, "duplicate_id": dup, "master_id": master} for crm, dup, master in links]
    if rows:
        connection.execute(insert(metric_dedup_seen), rows)


# -- facts about offers ---------------------------------------------------------------------------


def contacts_citing(connection: Connection, jtis: Collection[str]) -> list[Row[Any]]:
    c = metric_contacts.c
    return list(
        connection.execute(select(c.customer_key, c.family).where(c.deflection_id.in_(list(jtis))).distinct())
    )


def decisions_by_id(connection: Connection, ids: Collection[int]) -> list[Row[Any]]:
    d = deflection_decisions.c
    return list(connection.execute(select(d.id, d.customer_key, d.intent).where(d.id.in_(list(ids)))))


def decision_ids_by_jti(connection: Connection, jtis: Collection[str]) -> dict[str, int]:
    d = deflection_decisions.c
    return dict(connection.execute(select(d.jti, d.id).where(d.jti.in_(list(jtis)))).all())  # type: ignore[arg-type]


def add_offer_facts(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(metric_offer_facts), list(rows))


# -- daily sums ----------------------------------------------------------------------------------


def settling_days(connection: Connection, before_us: int | None, now_us: int) -> set[str]:
    """The days of the inquiries that settled (or, with a clock set back, unsettled) between the
    last tick and this one: the only sums that time alone changes. Without a last tick, every
    day that still has pending inquiries."""
    if before_us is None:
        daily = metric_daily.c
        return set(connection.execute(select(daily.day).where(daily.pending > 0).distinct()).scalars())
    i = metric_inquiries.c
    low, high = min(before_us, now_us), max(before_us, now_us)
    query = select(i.day).where(i.settles_us > low, i.settles_us <= high).distinct()
    return set(connection.execute(query).scalars())


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def resum_days(connection: Connection, days: Collection[str], now_us: int) -> None:
    """Recompute ``metric_daily`` for these days from the inquiry and offer rows, as of ``now_us``
    (epoch microseconds)."""
    i, o = metric_inquiries.c, metric_offers.c
    for batch in chunks(sorted(days), 100):
        settled = i.settles_us <= now_us
        resolved, recontacted = i.resolved.is_(True), i.recontacted.is_(True)
        taken, breached_ = i.offer_taken.is_(True), i.sla_breached.is_(True)
        rows = connection.execute(
            select(
                i.day,
                i.channel,
                i.intent,
                i.crm,
                func.count().label("inquiries"),
                _count(i.automated.is_(True)).label("automated"),
                _count(resolved).label("automated_resolutions"),
                _count(and_(i.automated.is_(True), i.agent.is_(False))).label("contained"),
                _count(not_(settled)).label("pending"),
                _count(settled).label("settled"),
                _count(and_(settled, resolved, i.recontacted.is_(False))).label("held"),
                _count(and_(settled, resolved)).label("resolutions_settled"),
                _count(and_(settled, resolved, recontacted)).label("recontacted"),
                _count(i.case_created.is_(True)).label("cases_created"),
                func.coalesce(func.sum(i.duplicates), 0).label("duplicates"),
                _count(taken).label("offer_inquiries"),
                _count(and_(taken, breached_)).label("offer_breached"),
                _count(i.offer_taken.is_(False)).label("other_inquiries"),
                _count(and_(i.offer_taken.is_(False), breached_)).label("other_breached"),
                func.coalesce(func.sum(i.contacts), 0).label("contacts"),
            )
            .where(i.day.in_(batch))
            .group_by(i.day, i.channel, i.intent, i.crm)
        ).all()
        merged: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for row in rows:
            values = dict(row._mapping)
            merged[(row.day, row.channel, row.intent, row.crm)] = values
        for row in connection.execute(
            select(
                o.day,
                o.channel,
                o.intent,
                func.count().label("offers"),
                _count(o.taken.is_(True)).label("offers_taken"),
                _count(o.failed.is_(True)).label("offers_failed"),
            )
            .where(o.day.in_(batch))
            .group_by(o.day, o.channel, o.intent)
        ):
            key = (row.day, row.channel, row.intent, "")
            values = merged.setdefault(
                key, {"day": row.day, "channel": row.channel, "intent": row.intent, "crm": ""}
            )
            values.update(offers=row.offers, offers_taken=row.offers_taken, offers_failed=row.offers_failed)
        connection.execute(delete(metric_daily).where(metric_daily.c.day.in_(batch)))
        if merged:
            connection.execute(
                insert(metric_daily),
                [{**{name: 0 for name in COUNTS}, **values} for values in merged.values()],
            )


def daily_sums(
    connection: Connection,
    first: str,
    last: str,
    *,
    group_by: Sequence[str] = (),
    channel: str | None = None,
    intent: str | None = None,
) -> list[dict[str, Any]]:
    """The summed counts over [first, last] (ISO dates), grouped by the given columns."""
    d = metric_daily.c
    condition = and_(d.day >= first, d.day <= last, d.channel == channel if channel else true())
    if intent:
        condition = and_(condition, d.intent == intent)
    columns = [d[name] for name in group_by]
    query = select(*columns, *(func.coalesce(func.sum(d[name]), 0).label(name) for name in COUNTS)).where(
        condition
    )
    if columns:
        query = query.group_by(*columns).order_by(*columns)
    return [
        {key: (int(value) if key in COUNTS else value) for key, value in row._mapping.items()}
        for row in connection.execute(query)
    ]
