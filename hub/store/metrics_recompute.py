"""The rollup's recomputation, set-based: a few ``INSERT ... SELECT`` statements per chunk of
customers (or of offers to unknown callers), on SQLite and PostgreSQL alike.

The definitions are those of ``hub.domain.deflection_metrics`` (docs/metrics.md); what a contact is
(automated, agent, an automated resolution) was decided once, in Python, when it was read
(``metric_contacts``). Times are compared as integer microseconds (``at_us``), so the window R is
exact on both backends. What a chunk does:

1. forget the chunk's offers and inquiries (remembering their days);
2. offers: the first contact of the offer's pair, on an offered channel, at or after the decision,
   in the offer's episode, citing it, or (an offer made before any episode) within R; failed when
   that contact failed or the customer called (voice) within R of it;
3. inquiries, one per episode: its first contact, its first automated resolution, the pair's first
   inbound contact within R after that resolution, its case (first CRM by name), the dedup links
   pointing at that case (counted on the pair's first inquiry with the case), SLA breaches, and
   whether an offer was taken in it (by step 2, or by a contact citing any decision).

``tests/metrics/test_rollup_properties.py`` holds this to an independent reading of the definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union,
)
from sqlalchemy.sql.elements import ColumnElement

from hub.store.dedup_tables import dedup_links
from hub.store.deflection_tables import deflection_decisions
from hub.store.metrics_tables import metric_contacts, metric_inquiries, metric_offer_facts, metric_offers
from hub.store.sla_tables import sla_actions, sla_clocks
from hub.store.tables import episode_cases

FAILED_OUTCOMES = ("failed", "abandoned", "no_response")
VOICE = "voice"
Pick = Callable[[Any], ColumnElement[bool]]  # a condition on a customer_key column


def customers_in(keys: Collection[str]) -> Pick:
    values = list(keys)
    return lambda column: column.in_(values)


def customers_between(first: str, last: str) -> Pick:
    """Customers from ``first`` to ``last``, both inclusive (a chunk of a full rebuild)."""
    return lambda column: and_(column >= first, column <= last)


def _days(connection: Connection, pick: Pick) -> set[str]:
    i, o = metric_inquiries.c, metric_offers.c
    query = union(
        select(i.day).where(pick(i.customer_key)),
        select(o.day).where(pick(o.customer_key), o.customer_key != ""),
    )
    return set(connection.execute(query).scalars())


def recompute_customers(connection: Connection, pick: Pick, window_us: int) -> set[str]:
    """Recompute every inquiry and offer of the picked customers; returns the days touched."""
    days = _days(connection, pick)
    connection.execute(delete(metric_offers).where(pick(metric_offers.c.customer_key)))
    connection.execute(delete(metric_inquiries).where(pick(metric_inquiries.c.customer_key)))
    connection.execute(_insert_offers(_customer_offers(pick, window_us), window_us, loose=False))
    connection.execute(_insert_inquiries(pick, window_us))
    return days | _days(connection, pick)


def recompute_loose(connection: Connection, decision_ids: Collection[int], window_us: int) -> set[str]:
    """Offers to callers the hub did not know: taken only by a contact citing them."""
    ids = list(decision_ids)
    o = metric_offers.c
    days = set(connection.execute(select(o.day).where(o.decision_id.in_(ids)).distinct()).scalars())
    connection.execute(delete(metric_offers).where(o.decision_id.in_(ids)))
    connection.execute(_insert_offers(_loose_offers(ids), window_us, loose=True))
    days.update(connection.execute(select(o.day).where(o.decision_id.in_(ids)).distinct()).scalars())
    return days


# -- offers --------------------------------------------------------------------------------------


def _offered(f: Any, x: Any) -> ColumnElement[bool]:
    """Contact ``x`` is on a channel offer ``f`` made, at or after its decision."""
    return and_(x.at_us >= f.decided_us, f.channels.like(literal("%,") + x.channel + literal(",%")))


def _customer_offers(pick: Pick, window_us: int) -> Any:
    """The picked customers' offers, and what makes a contact of the pair take one."""
    f, x = metric_offer_facts.alias("f"), metric_contacts.alias("x")
    takes = and_(
        x.c.customer_key == f.c.customer_key,
        x.c.family == f.c.family,
        _offered(f.c, x.c),
        or_(
            x.c.deflection_id == f.c.jti,
            and_(f.c.episode_id.is_not(None), x.c.episode_id == f.c.episode_id),
            and_(f.c.episode_id.is_(None), x.c.at_us <= f.c.decided_us + window_us),
        ),
    )
    return f, x, takes, pick(f.c.customer_key)


def _loose_offers(ids: list[int]) -> Any:
    f, x = metric_offer_facts.alias("f"), metric_contacts.alias("x")
    return f, x, and_(x.c.deflection_id == f.c.jti, _offered(f.c, x.c)), f.c.decision_id.in_(ids)


def _insert_offers(parts: Any, window_us: int, *, loose: bool) -> Any:
    """Each offer with the contact that took it (the first, by time then id), found by a
    correlated lookup on the contacts' pair (or citation) index, then joined by primary key."""
    f, x, takes, chosen = parts
    taking = select(x.c.inbox_id).where(takes).order_by(x.c.at_us, x.c.inbox_id).limit(1).scalar_subquery()
    offers = select(f, taking.label("taken_id")).where(chosen).subquery("offers")
    t = metric_contacts.alias("t")
    v = metric_contacts.alias("v")
    same = (
        v.c.deflection_id == offers.c.jti
        if loose
        else and_(v.c.customer_key == offers.c.customer_key, v.c.family == offers.c.family)
    )
    called = exists().where(
        same,
        v.c.channel == VOICE,
        v.c.inbound.is_(True),
        v.c.at_us > t.c.at_us,
        v.c.at_us <= t.c.at_us + window_us,
    )
    failed = and_(t.c.inbox_id.is_not(None), or_(t.c.outcome.in_(FAILED_OUTCOMES), called))
    query = select(
        offers.c.decision_id,
        offers.c.customer_key,
        offers.c.family,
        offers.c.day,
        offers.c.channel,
        offers.c.intent,
        t.c.inbox_id.is_not(None),
        failed,
        t.c.episode_id,
    ).select_from(offers.outerjoin(t, t.c.inbox_id == offers.c.taken_id))
    columns = ("decision_id", "customer_key", "family", "day", "channel", "intent", "taken", "failed",
               "taken_episode")  # fmt: skip
    return insert(metric_offers).from_select(columns, query)


# -- inquiries -----------------------------------------------------------------------------------


def _flag(column: Any, episode: Any) -> Any:
    return func.max(case((column.is_(True), 1), else_=0)).over(partition_by=episode)


def _insert_inquiries(pick: Pick, window_us: int) -> Any:
    """One pass of window functions over the picked customers' contacts gives each episode's
    first contact, kinds, count and first automated resolution; the recontact, the case and its
    dedup links are correlated lookups on indexes. No join between derived tables: the plans
    stay index-driven whatever the planner believes about row counts."""
    x = metric_contacts.c
    ordered = (x.at_us, x.inbox_id)
    resolutions_first = (case((x.resolution.is_(True), 0), else_=1), x.at_us, x.inbox_id)
    episodes = (
        select(
            x.episode_id,
            x.customer_key,
            x.family,
            x.day,
            x.channel,
            x.intent,
            x.occurred_at,
            x.at_us,
            func.row_number().over(partition_by=x.episode_id, order_by=ordered).label("n"),
            func.count().over(partition_by=x.episode_id).label("contacts"),
            _flag(x.automated, x.episode_id).label("automated"),
            _flag(x.agent, x.episode_id).label("agent"),
            func.first_value(case((x.resolution.is_(True), x.at_us)))
            .over(partition_by=x.episode_id, order_by=resolutions_first)
            .label("resolved_us"),
            func.first_value(x.inbox_id)
            .over(partition_by=x.episode_id, order_by=resolutions_first)
            .label("resolution_id"),
        )
        .where(pick(x.customer_key))
        .subquery("episodes")
    )
    e = episodes.c
    y = metric_contacts.alias("y")
    recontact = (
        select(func.min(y.c.at_us))
        .where(
            y.c.customer_key == e.customer_key,
            y.c.family == e.family,
            y.c.at_us > e.resolved_us,
            y.c.at_us <= e.resolved_us + window_us,
            y.c.inbound.is_(True),
            y.c.inbox_id != e.resolution_id,
        )
        .scalar_subquery()
    )
    ec = episode_cases.alias("ec")
    first_crm = select(func.min(ec.c.crm)).where(ec.c.episode_id == e.episode_id).scalar_subquery()
    cases = episode_cases.alias("cases")
    base = (
        select(
            e.episode_id,
            e.customer_key,
            e.family,
            e.day,
            e.channel,
            e.intent,
            e.occurred_at.label("first_at"),
            e.at_us.label("first_us"),
            e.contacts,
            e.automated,
            e.agent,
            e.resolved_us,
            recontact.label("recontact_us"),
            cases.c.crm,
            cases.c.case_id,
            cases.c.created_by_hub,
        )
        .select_from(
            episodes.outerjoin(cases, and_(cases.c.episode_id == e.episode_id, cases.c.crm == first_crm))
        )
        .where(e.n == 1)
        .subquery("base")
    )
    b = base.c
    window = literal(window_us)
    opens = b.first_us + window
    closes = func.coalesce(b.recontact_us, b.resolved_us + window)
    settles = case(
        (b.resolved_us.is_(None), opens),
        (opens >= closes, opens),
        else_=closes,
    )
    o = metric_offers.c
    z = metric_contacts.alias("z")
    d = deflection_decisions.c
    offer_taken = or_(
        exists().where(
            o.customer_key == b.customer_key, o.family == b.family, o.taken_episode == b.episode_id
        ),
        exists()
        .select_from(z.join(deflection_decisions, d.jti == z.c.deflection_id))
        .where(z.c.episode_id == b.episode_id),
    )
    # by episode (the primary key / unique index): coalesce() keeps SQLite off the status and kind
    # indexes, which would read every breach for each inquiry
    breached = or_(
        exists().where(
            sla_clocks.c.episode_id == b.episode_id, func.coalesce(sla_clocks.c.status, "") == "breached"
        ),
        exists().where(
            sla_actions.c.episode_id == b.episode_id, func.coalesce(sla_actions.c.kind, "") == "breach"
        ),
    )
    links = dedup_links.c
    pointing = select(func.count()).where(links.crm == b.crm, links.master_id == b.case_id).scalar_subquery()
    first_with_case = func.row_number().over(
        partition_by=(b.customer_key, b.family, b.crm, b.case_id), order_by=(b.first_us, b.episode_id)
    )
    duplicates = case((and_(b.case_id.is_not(None), first_with_case == 1), pointing), else_=0)
    query = select(
        b.episode_id,
        b.customer_key,
        b.family,
        b.day,
        b.channel,
        b.intent,
        func.coalesce(b.crm, ""),
        b.first_at,
        b.automated == 1,
        b.agent == 1,
        b.resolved_us.is_not(None),
        b.recontact_us.is_not(None),
        settles,
        offer_taken,
        breached,
        and_(b.case_id.is_not(None), b.created_by_hub.is_(True)),
        duplicates,
        b.contacts,
    )
    columns = ("episode_id", "customer_key", "family", "day", "channel", "intent", "crm", "first_at",
               "automated", "agent", "resolved", "recontacted", "settles_us", "offer_taken", "sla_breached",
               "case_created", "duplicates", "contacts")  # fmt: skip
    return insert(metric_inquiries).from_select(columns, query)
