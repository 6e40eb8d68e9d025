"""``GET /v1/metrics/deflection`` and ``ctihub report deflection``: the figures of docs/metrics.md over
a range of days, read from the rollup (``hub.services.deflection_rollup``), never from the events.

Rates are numbers from 0 to 1, rounded to 4 places, or ``None`` when their denominator is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine

from hub.domain.errors import Problem, ValidationFailed
from hub.services.recovery_metrics import recovery_metrics
from hub.store import metrics as store
from hub.store.corrections import corrected_activities
from hub.store.metrics_tables import COUNTS

GROUPS = ("day", "channel", "intent")
MAX_DAYS = 731


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class Query:
    first: date
    last: date
    group_by: str | None = None
    channel: str | None = None
    intent: str | None = None
    with_recovery: bool = False  # ``with=recovery``: add GET /v1/metrics/recovery's figures (slower)

    @classmethod
    def parse(cls, args: Mapping[str, str | None]) -> Query:
        """From request parameters (``from``, ``to``, ``group_by``, ``channel``, ``intent``); every
        problem is reported with the parameter's name."""
        problems: list[Problem] = []
        days: dict[str, date] = {}
        for name in ("from", "to"):
            raw = args.get(name)
            if not raw:
                problems.append(Problem(name, "is required (a UTC date, YYYY-MM-DD)"))
                continue
            try:
                days[name] = date.fromisoformat(raw)
                if len(raw) != 10:
                    raise ValueError(raw)
            except ValueError:
                problems.append(Problem(name, f"{raw!r} is not a date (YYYY-MM-DD)"))
        if len(days) == 2 and days["to"] < days["from"]:
            problems.append(Problem("to", f"{days['to']} is before from ({days['from']})"))
        elif len(days) == 2 and (days["to"] - days["from"]).days >= MAX_DAYS:
            problems.append(Problem("to", f"the range is longer than {MAX_DAYS} days"))
        group_by = args.get("group_by") or None
        if group_by is not None and group_by not in GROUPS:
            problems.append(Problem("group_by", f"{group_by!r} is not one of {', '.join(GROUPS)}"))
        extra = args.get("with") or None
        if extra not in (None, "recovery"):
            problems.append(Problem("with", f"{extra!r} is not recovery (the only extra figures)"))
        if problems:
            raise ValidationFailed("the report's parameters are not valid", problems)
        return cls(
            days["from"],
            days["to"],
            group_by,
            args.get("channel") or None,
            args.get("intent") or None,
            with_recovery=extra == "recovery",
        )


def figures(sums: Mapping[str, int]) -> dict[str, Any]:
    """The named figures from one set of summed counts (docs/metrics.md)."""
    return {
        "inquiries": sums["inquiries"],
        "automated_inquiries": sums["automated"],
        "automated_resolutions": sums["automated_resolutions"],
        "deflection_rate": ratio(sums["automated_resolutions"], sums["inquiries"]),
        "contained": sums["contained"],
        "containment_rate": ratio(sums["contained"], sums["automated"]),
        "pending": sums["pending"],
        "settled": sums["settled"],
        "held": sums["held"],
        "recontact_adjusted_deflection_rate": ratio(sums["held"], sums["settled"]),
        "resolutions_settled": sums["resolutions_settled"],
        "recontacted": sums["recontacted"],
        "recontact_rate": ratio(sums["recontacted"], sums["resolutions_settled"]),
        "offers": sums["offers"],
        "offers_taken": sums["offers_taken"],
        "offers_failed": sums["offers_failed"],
        "offer_acceptance_rate": ratio(sums["offers_taken"], sums["offers"]),
        "offer_failure_rate": ratio(sums["offers_failed"], sums["offers_taken"]),
        "cases_created": sums["cases_created"],
        "duplicates": sums["duplicates"],
        "duplicate_ticket_rate": ratio(sums["duplicates"], sums["cases_created"]),
        "inquiries_with_offer_taken": sums["offer_inquiries"],
        "sla_breached_with_offer_taken": sums["offer_breached"],
        "sla_breach_rate_after_deflection": ratio(sums["offer_breached"], sums["offer_inquiries"]),
        "inquiries_without_offer_taken": sums["other_inquiries"],
        "sla_breached_without_offer_taken": sums["other_breached"],
        "sla_breach_rate_without_deflection": ratio(sums["other_breached"], sums["other_inquiries"]),
        "activities": sums["contacts"],
    }


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def deflection_report(engine: Engine, query: Query, *, window_hours: float) -> dict[str, Any]:
    first, last = query.first.isoformat(), query.last.isoformat()
    filters = {"channel": query.channel, "intent": query.intent}
    with engine.connect().execution_options(readonly=True) as connection:
        state = store.load_state(connection)
        by_crm = store.daily_sums(connection, first, last, group_by=("crm",), **filters)
        total = {name: sum(row[name] for row in by_crm) for name in COUNTS}  # one query for both
        grouped = (
            store.daily_sums(connection, first, last, group_by=(query.group_by,), **filters)
            if query.group_by
            else []
        )
        corrected = corrected_activities(connection, first, last, **filters)
    totals = figures(total)
    totals["duplicate_ticket_rate_by_crm"] = {
        row["crm"]: ratio(row["duplicates"], row["cases_created"]) for row in by_crm if row["crm"]
    }
    totals["disposition_corrections"] = corrected
    totals["disposition_accuracy"] = ratio(total["contacts"] - corrected, total["contacts"])
    if query.with_recovery:
        since = datetime.combine(query.first, time(), tzinfo=UTC)
        recovery = recovery_metrics(engine, since=since)
        totals["recovery"] = {
            key: recovery[key]
            for key in (
                "attempts",
                "blocked",
                "plans",
                "connect_rate",
                "recovery_rate",
                "opt_out_rate_per_touch",
            )
        }
    groups = (
        [{query.group_by: row[query.group_by], **figures(row)} for row in grouped] if query.group_by else []
    )
    if query.group_by == "day":  # every day of the range, so a time series has no holes
        present = {group["day"]: group for group in groups}
        empty = figures({key: 0 for key in total})
        groups = [present.get(day) or {"day": day, **empty} for day in _days(query.first, query.last)]
    return {
        "from": first,
        "to": last,
        "recontact_window_hours": window_hours,
        "as_of": state["as_of"].isoformat() if state and state["as_of"] else None,
        "group_by": query.group_by,
        "filters": filters,
        "totals": totals,
        "groups": groups,
    }
