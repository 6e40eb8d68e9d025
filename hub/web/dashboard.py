"""``/dashboard`` (role ``operations``): the deflection metrics as daily series with channel and
intent filters, the recovery funnel and inbox health, drawn as server-rendered SVG
(``hub.web.charts``) from the same report as ``GET /v1/metrics/deflection``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from hub.domain.errors import ValidationFailed
from hub.domain.outcome import CHANNELS
from hub.services.deflection_metrics import Query, deflection_report
from hub.store import ops_counts
from hub.web.charts import Chart, Series, bar_chart, line_chart, percent
from hub.web.context import current_hub
from hub.web.session import require_role

bp = Blueprint("dashboard", __name__)
DEFAULT_DAYS = 30


def _query(args: Any, today: Any) -> tuple[Query, list[str]]:
    """The filters asked for (defaults: the last 30 days), or the defaults and what was wrong."""
    values = {
        "from": args.get("from") or (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "to": args.get("to") or today.isoformat(),
        "group_by": "day",
        "channel": args.get("channel"),
        "intent": args.get("intent"),
        "with": "recovery",
    }
    try:
        return Query.parse(values), []
    except ValidationFailed as error:
        fallback = Query.parse({"from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
                                "to": today.isoformat(), "group_by": "day", "with": "recovery"})  # fmt: skip
        return fallback, [f"{problem.path}: {problem.message}" for problem in error.problems]


def _series(groups: list[dict[str, Any]], name: str) -> list[float | None]:
    return [group[name] for group in groups]


def charts(answer: dict[str, Any], depth: dict[str, int], oldest_seconds: float | None) -> list[Chart]:
    days = [group["day"] for group in answer["groups"]]
    groups, totals = answer["groups"], answer["totals"]
    span = f"{answer['from']} to {answer['to']}"
    gap = (
        f"; the gap is {percent(totals['deflection_rate'] - totals['recontact_adjusted_deflection_rate'])}"
        if totals["deflection_rate"] is not None and totals["recontact_adjusted_deflection_rate"] is not None
        else ""
    )
    found = [
        line_chart(
            "chart-deflection",
            "Deflection and recontact-adjusted deflection, by day",
            f"{span}: deflection {percent(totals['deflection_rate'])}, recontact-adjusted "
            f"{percent(totals['recontact_adjusted_deflection_rate'])}{gap}; {totals['pending']} inquiries "
            f"still pending (younger than {answer['recontact_window_hours']:g} h).",
            days,
            [
                Series("Deflection", _series(groups, "deflection_rate"), "chart-series--1"),
                Series(
                    "Recontact-adjusted",
                    _series(groups, "recontact_adjusted_deflection_rate"),
                    "chart-series--2",
                ),
            ],
            shade_between=True,
        ),
        line_chart(
            "chart-containment",
            "Containment and recontact, by day",
            f"{span}: containment {percent(totals['containment_rate'])} (hang-ups count as contained), "
            f"recontact {percent(totals['recontact_rate'])}.",
            days,
            [
                Series("Containment", _series(groups, "containment_rate"), "chart-series--3"),
                Series("Recontact", _series(groups, "recontact_rate"), "chart-series--4"),
            ],
        ),
        line_chart(
            "chart-duplicates",
            "Duplicate-ticket rate, by day",
            f"{span}: {totals['duplicates']} duplicates found among {totals['cases_created']} "
            f"cases or tickets created ({percent(totals['duplicate_ticket_rate'])}).",
            days,
            [Series("Duplicate tickets", _series(groups, "duplicate_ticket_rate"), "chart-series--4")],
        ),
        line_chart(
            "chart-sla",
            "SLA breach rate with and without a deflection offer taken, by day",
            f"{span}: {percent(totals['sla_breach_rate_after_deflection'])} of inquiries that took a "
            "deflection offer breached an SLA, against "
            f"{percent(totals['sla_breach_rate_without_deflection'])} of the others.",
            days,
            [
                Series(
                    "After deflection", _series(groups, "sla_breach_rate_after_deflection"), "chart-series--2"
                ),
                Series("Without", _series(groups, "sla_breach_rate_without_deflection"), "chart-series--1"),
            ],
        ),
    ]
    recovery = totals.get("recovery") or {}
    attempts = recovery.get("attempts", {})
    made = int(attempts.get("touches", 0))
    connected = round((recovery.get("connect_rate") or 0) * made)
    plans = recovery.get("plans", {})
    funnel = [
        ("Attempts planned", sum(int(v) for v in attempts.get("by_result", {}).values())),
        ("Attempts made", made),
        ("Connected", connected),
        ("Plans recovered", int(plans.get("recovered", 0))),
    ]
    blocked = sum(int(v) for v in recovery.get("blocked", {}).get("by_reason", {}).values())
    found.append(
        bar_chart(
            "chart-recovery",
            "Recovery funnel",
            f"Since {answer['from']}: {funnel[0][1]} attempts planned, {made} made, {connected} connected, "
            f"{funnel[3][1]} plans recovered; {blocked} blocked or cancelled by a guard.",
            funnel,
        )
    )
    age = "nothing waiting" if not oldest_seconds else f"the oldest has waited {oldest_seconds / 60:.0f} min"
    found.append(
        bar_chart(
            "chart-inbox",
            "Inbox health",
            f"Now: {depth['pending'] + depth['processing']} events waiting or in progress, {depth['failed']} "
            f"retrying, {depth['dead']} dead-lettered; {age}.",
            [
                ("Pending", depth["pending"]),
                ("Processing", depth["processing"]),
                ("Retrying", depth["failed"]),
                ("Dead-lettered", depth["dead"]),
            ],
        )
    )
    return found


@bp.get("/dashboard")
@require_role("operations")
def dashboard() -> ResponseReturnValue:
    hub = current_hub()
    now = hub.clock.now()
    query, problems = _query(request.args, now.date())
    answer = deflection_report(hub.engine, query, window_hours=hub.metrics.recontact_window_hours)
    with hub.engine.connect().execution_options(readonly=True) as connection:
        depth = ops_counts.inbox_depth(connection)
        oldest = ops_counts.oldest_queued(connection)
    oldest_seconds = (now - oldest).total_seconds() if oldest else None
    return render_template(
        "dashboard.html",
        answer=answer,
        totals=answer["totals"],
        charts=charts(answer, depth, oldest_seconds),
        problems=problems,
        channels=CHANNELS,
        intents=sorted(hub.mappings.catalog.intents),
        percent=percent,
    ), (422 if problems else 200)
