"""Recovery metrics, read from the tables at request time (``GET /v1/metrics/recovery``).

    attempts.by_result         attempts by status (pending, claimed, sent, blocked, cancelled, failed)
    attempts.by_action         the same, per action (sms, callback, email)
    blocked.by_reason          blocked and cancelled attempts by the guard that stopped them
    rescheduled                attempts moved to the next allowed instant (the window), counted once
                               per move
    touches                    attempts made (sent, or failed after possibly reaching the customer)
    connect_rate               connected touches / touches. A text whose final delivery status
                               Twilio reported (status callbacks) connected when it was delivered
                               (or read), and did not when it was undelivered, failed or canceled.
                               Any other touch (a text with no final status: no callback configured
                               or none yet; a callback or email task, whose live right-party connect
                               is the agent's disposition in the CRM, which the hub does not read
                               back) connected when its plan was recovered after it: the measurable
                               proxy. ``connect_basis`` counts the touches judged each way.
    sms_delivery               touched texts by final delivery status (delivered, not_delivered,
                               unknown) and ``rate`` = delivered / (delivered + not_delivered)
    recovery_rate              recovered / touched plans: a plan is recovered when, after its first
                               touch, the customer came back on their own (any channel) or the issue
                               was resolved (this was ``connect_rate`` before delivery statuses)
    touches_per_resolution     touches of recovered plans / recovered plans
    opt_out_rate_per_touch     touches followed within ``opt_out_days`` by a revocation of consent for
                               that channel and address (any source: STOP, events, the provider)
                               / touches, overall and per channel
    crm_flags.lifts_not_applied
                               Salesforce outbound messages whose cleared do-not-contact flag was kept
                               but not applied, because ``CTIHUB_SALESFORCE_OUTBOUND_TOKEN`` is not set
                               (``hub.services.channel_events``); more than 0 calls for the token

``since`` (an aware datetime) counts only attempts created from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select, true

from hub.domain.recovery import SMS
from hub.services.channel_events import LIFT_NOT_APPLIED, SALESFORCE_OUTBOUND
from hub.services.recovery.delivery import DELIVERED, NOT_DELIVERED
from hub.store.recovery_tables import recovery_attempts, recovery_audit, recovery_plans, recovery_sms_status
from hub.store.tables import consent_ledger
from hub.store.webhook_tables import webhook_deliveries

RECOVERED = ("customer_came_back", "resolved")
FINAL_STATUSES = (*DELIVERED, *NOT_DELIVERED)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class _Connects:
    connected: int = 0
    by_status: int = 0  # touches judged by a text's final delivery status
    by_proxy: int = 0  # touches judged by their plan's recovery
    delivered: int = 0
    not_delivered: int = 0
    unknown: int = 0


def _connects(connection: Connection, touched: Any) -> _Connects:
    """Each touch, connected or not (see ``connect_rate`` in the module docstring)."""
    a, p, d = recovery_attempts.c, recovery_plans.c, recovery_sms_status.c
    rows = connection.execute(
        select(a.action, a.touched_at, d.status, p.close_reason, p.closed_at)
        .select_from(
            recovery_attempts.join(recovery_plans, p.id == a.plan_id).outerjoin(
                recovery_sms_status, d.message_sid == a.provider_id
            )
        )
        .where(touched)
    ).all()
    found = _Connects()
    for row in rows:
        final = row.status if row.action == SMS and row.status in FINAL_STATUSES else None
        if row.action == SMS:
            found.delivered += final in DELIVERED
            found.not_delivered += final in NOT_DELIVERED
            found.unknown += final is None
        if final is not None:
            found.by_status += 1
            found.connected += final in DELIVERED
            continue
        found.by_proxy += 1
        recovered = row.close_reason in RECOVERED and row.closed_at is not None
        found.connected += recovered and row.closed_at > row.touched_at
    return found


def recovery_metrics(
    engine: Engine, *, since: datetime | None = None, opt_out_days: int = 7
) -> dict[str, Any]:
    a, p = recovery_attempts.c, recovery_plans.c
    scope = a.created_at >= since if since is not None else true()
    touched = and_(scope, a.touched_at.is_not(None), a.status.in_(("sent", "failed")))
    with engine.connect().execution_options(readonly=True) as connection:
        by_result = dict(
            connection.execute(select(a.status, func.count()).where(scope).group_by(a.status)).all()
        )
        by_action: dict[str, dict[str, int]] = {}
        for action, status, count in connection.execute(
            select(a.action, a.status, func.count()).where(scope).group_by(a.action, a.status)
        ).all():
            by_action.setdefault(action, {})[status] = count
        blocked = dict(
            connection.execute(
                select(a.reason, func.count())
                .where(and_(scope, a.status.in_(("blocked", "cancelled"))))
                .group_by(a.reason)
            ).all()
        )
        audit_scope = recovery_audit.c.at >= since if since is not None else true()
        rescheduled = connection.execute(
            select(func.count()).where(and_(audit_scope, recovery_audit.c.event == "rescheduled"))
        ).scalar_one()
        touches = connection.execute(select(func.count()).where(touched)).scalar_one()
        touches_by_channel = dict(
            connection.execute(select(a.channel, func.count()).where(touched).group_by(a.channel)).all()
        )

        first_touch = (
            select(a.plan_id, func.min(a.touched_at).label("first"), func.count().label("touches"))
            .where(touched)
            .group_by(a.plan_id)
            .subquery()
        )
        touched_plans = connection.execute(select(func.count()).select_from(first_touch)).scalar_one()
        recovered = connection.execute(
            select(func.count(), func.coalesce(func.sum(first_touch.c.touches), 0))
            .select_from(first_touch.join(recovery_plans, p.id == first_touch.c.plan_id))
            .where(and_(p.close_reason.in_(RECOVERED), p.closed_at > first_touch.c.first))
        ).one()

        connects = _connects(connection, touched)

        w = webhook_deliveries.c
        lifts_not_applied = connection.execute(
            select(func.count()).where(
                and_(
                    w.received_at >= since if since is not None else true(),
                    w.source == SALESFORCE_OUTBOUND,
                    w.detail.contains(LIFT_NOT_APPLIED, autoescape=True),
                )
            )
        ).scalar_one()

        window = timedelta(days=opt_out_days)
        revocations = connection.execute(
            select(a.id, a.channel, a.touched_at, consent_ledger.c.decided_at)
            .select_from(
                recovery_attempts.join(
                    consent_ledger,
                    and_(
                        consent_ledger.c.channel == a.channel,
                        consent_ledger.c.address == a.address,
                        consent_ledger.c.granted.is_(False),
                        consent_ledger.c.decided_at >= a.touched_at,
                    ),
                )
            )
            .where(touched)
        ).all()
    opted_out: dict[int, str] = {
        row.id: row.channel for row in revocations if row.decided_at < row.touched_at + window
    }
    opt_outs_by_channel: dict[str, int] = {}
    for channel in opted_out.values():
        opt_outs_by_channel[channel] = opt_outs_by_channel.get(channel, 0) + 1
    opt_outs = sum(opt_outs_by_channel.values())
    recovered_plans, recovered_touches = int(recovered[0]), int(recovered[1])
    return {
        "attempts": {"by_result": by_result, "by_action": by_action, "touches": touches},
        "blocked": {"by_reason": blocked, "rescheduled": rescheduled},
        "plans": {"touched": touched_plans, "recovered": recovered_plans},
        "connect_rate": _ratio(connects.connected, touches),
        "connect_basis": {"delivery_status": connects.by_status, "recovered_plan": connects.by_proxy},
        "sms_delivery": {
            "delivered": connects.delivered,
            "not_delivered": connects.not_delivered,
            "unknown": connects.unknown,
            "rate": _ratio(connects.delivered, connects.delivered + connects.not_delivered),
        },
        "recovery_rate": _ratio(recovered_plans, touched_plans),
        "touches_per_resolution": _ratio(recovered_touches, recovered_plans),
        "opt_out_rate_per_touch": {
            "all": _ratio(opt_outs, touches),
            **{
                channel: _ratio(opt_outs_by_channel.get(channel, 0), count)
                for channel, count in touches_by_channel.items()
            },
        },
        "opt_outs": opt_outs,
        "opt_out_window_days": opt_out_days,
        "crm_flags": {"lifts_not_applied": lifts_not_applied},
    }
