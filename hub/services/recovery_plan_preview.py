"""The recovery plan one event would get under a configuration version (the admin preview).

Not a second planner: the event goes through ``recovery_preview.simulated`` (the real link path, the
real recovery engine with every guard, on an in-memory SQLite database, an injected clock jumping
from the failure to the plan's end, nothing sent or written anywhere). The customer's standing
consent for the event's addresses is carried over from the hub's ledger, so a guard such as
``no_consent`` says what it would say after linking.

What the simulation does not carry over (documented in docs/admin.md): the customer's earlier
touches (the rolling caps), other open plans of the episode, and the CRM's do-not-contact flags.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from hub.domain.consent import OUTREACH_CHANNELS, ConsentDecision
from hub.domain.identity import EMAIL, PHONE, Identifier
from hub.domain.outcome import Outcome
from hub.domain.recovery import ACTION_LABELS, RECOVERY_OUTCOMES, Policy
from hub.mappings import Mappings
from hub.mappings.recovery import load_recovery_config
from hub.services.contact_location import contact_location
from hub.services.recovery_preview import fate, simulated
from hub.store import consent as consent_store
from hub.store import recovery as store
from hub.store.recovery_tables import recovery_plans

SLACK = timedelta(days=1)  # simulated past the plan's time to live, so an expiry shows as such


def standing_consent(connection: Connection, identifiers: Iterable[Identifier]) -> list[ConsentDecision]:
    """Every ledger decision for the event's phone (sms, voice) and email addresses."""
    found: list[ConsentDecision] = []
    for identifier in identifiers:
        if identifier.kind not in (PHONE, EMAIL):
            continue
        for channel in OUTREACH_CHANNELS:
            if (channel == "email") == (identifier.kind == EMAIL):
                found.extend(consent_store.decisions_for(connection, channel, identifier.value))
    return found


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _at(payload: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(payload["occurred_at"]).replace("Z", "+00:00")).astimezone(UTC)


def recovery_plan(
    mappings: Mappings,
    payload: Mapping[str, Any],
    *,
    crm: str,
    default_region: str,
    episode_window: timedelta,
    consent: Iterable[ConsentDecision] = (),
) -> dict[str, Any]:
    """``{status, policy, policy_enabled, detail, plan_status, plan_reason, attempts: [...]}``.

    ``status``: planned (a policy matches and recovery is on), disabled (only a disabled policy
    matches, or recovery is off: ``attempts`` are what it would make if enabled), no_policy,
    not_a_failure (the outcome starts no recovery), no_recovery (the version has no recovery.yaml).
    """
    config = load_recovery_config(mappings.directory)
    outcome = Outcome.from_payload(dict(payload))
    answer: dict[str, Any] = {"status": "no_recovery", "policy": None, "policy_enabled": None, "attempts": []}
    if config is None:
        return {**answer, "detail": "this version has no recovery.yaml: no recovery"}
    if outcome.direction != "inbound" or outcome.outcome not in RECOVERY_OUTCOMES:
        detail = f"an {outcome.direction} {outcome.outcome} outcome starts no recovery"
        return {**answer, "status": "not_a_failure", "detail": detail}
    match = {"channel": outcome.channel, "intent": outcome.intent, "outcome": outcome.outcome}
    live = config.policy_for(**match) if config.enabled else None
    policy = live or config.policy_for(**match, include_disabled=True)
    if policy is None:
        detail = "no policy matches channel {channel}, intent {intent}, outcome {outcome}".format(**match)
        return {**answer, "status": "no_policy", "detail": detail}
    answer.update(status="planned" if live else "disabled", policy=policy.name)
    answer["policy_enabled"] = live is not None
    answer["detail"] = (
        _steps_text(policy)
        if live
        else "recovery is off in this version"
        if not config.enabled
        else "the matching policy is disabled"
    )
    start = _at(payload)
    plan, attempts = simulated(
        mappings,
        config,
        [dict(payload)],
        start,
        start + max(policy.ttl, *(step.delay for step in policy.steps)) + SLACK,
        read=lambda engine: _read(engine, default_region),
        crm=crm,
        default_region=default_region,
        episode_window=episode_window,
        only_enabled=live is not None,
        consent=consent,
    )
    answer.update(plan_status=plan.get("status"), plan_reason=plan.get("close_reason"), attempts=attempts)
    return answer


def _steps_text(policy: Policy) -> str:
    steps = ", ".join(f"{ACTION_LABELS[s.action]} after {_duration(s.delay)}" for s in policy.steps)
    return f"{len(policy.steps)} step(s): {steps}; valid for {_duration(policy.ttl)}"


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 1440 == 0 and minutes:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0 and minutes:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _read(engine: Engine, default_region: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The simulated plan (its status) and each attempt: when, where local, its fate and the guard."""
    with engine.connect() as connection:
        row = connection.execute(select(recovery_plans).order_by(recovery_plans.c.id)).first()
        plan = dict(row._mapping) if row is not None else {}
        attempts = []
        for attempt in store.all_attempts(connection):
            owner = store.get_plan(connection, attempt["plan_id"])
            status, reason, at = fate(attempt)
            location = contact_location(owner.phone, owner.postal_state, default_region)
            zone = location.zones[0] if location.zones else None
            local = at.astimezone(ZoneInfo(zone)) if zone else None
            guard, detail = _failed_guard(store.trail(connection, attempt_id=attempt["id"]), reason)
            if status == "rescheduled" and guard is None:  # moved when it was scheduled
                guard = "contact_window"
                detail = f"planned for {_utc(attempt['planned_for'])}, outside the contact window"
            attempts.append(
                {
                    "attempt": attempt["step"] + 1,
                    "action": attempt["action"],
                    "channel": attempt["channel"],
                    "planned_for": _utc(attempt["planned_for"]),
                    "at": _utc(at),
                    "local_time": f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}" if local else None,
                    "time_zone": zone,
                    "status": status,
                    "reason": reason,
                    "guard": guard,
                    "detail": detail,
                }
            )
    return plan, attempts


def _failed_guard(trail: list[dict[str, Any]], reason: str | None) -> tuple[str | None, str | None]:
    """The guard that gave ``reason`` and what it said, from the attempt's newest audit entry with it."""
    if reason is None:
        return None, None
    for entry in reversed(trail):
        for check in json.loads(entry.get("guards") or "[]"):
            if check.get("reason") == reason:
                return check.get("guard"), check.get("detail")
    return None, next((e["detail"] for e in reversed(trail) if e.get("reason") == reason), None)
