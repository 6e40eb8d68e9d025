"""The agent panel's data: from one CRM record to the customer, the trail, the SLA clocks, recovery
and parallel cases, as one JSON-ready dict (the page renders the same dict server-side).

Access is by record only: ``PanelService.for_record`` is the one way in, and everything it shows is
what that record leads to (its episode, that episode's customer, the customer's other episodes and
the cases of the same problem). Phones and emails are masked; transcripts appear as a short excerpt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from hub.domain.catalog import Catalog
from hub.domain.identity import EMAIL, EXTERNAL_PREFIX, PHONE
from hub.ports import Clock
from hub.services.panel_format import (
    Times,
    channel_label,
    mask_email,
    mask_phone,
    minutes_text,
    reason_text,
    record_url,
    transcript_excerpt,
    zone,
)
from hub.services.sla import METRIC_LABELS, SlaService
from hub.store import panel as store

OBJECTS = {"zendesk": "tickets", "salesforce": "cases"}  # the panel's URL segment per CRM
CRM_OBJECT = {"zendesk": "ticket", "salesforce": "Case"}
NOTHING_YET = (
    "No hub activity for this {noun} yet. The panel fills in when a chat, SMS or self-service "
    "contact is linked to it."
)

AMBIGUITY_TEXT = {
    "conflicting_customers": (
        "This contact's identifiers point at more than one customer; nothing was merged."
    ),
    "shared_identifier": "A phone or email of this contact is shared by several people in the CRM.",
    "name_only": "This contact was matched by name only; check who it is before acting.",
}


@dataclass
class PanelService:
    engine: Engine
    catalog: Catalog
    clock: Clock
    sla: SlaService | None
    crm_name: str
    crm_settings: dict[str, str]

    def url(self, crm: str, object_name: str, record_id: str) -> str | None:
        return record_url(crm, object_name, record_id, self.crm_settings if crm == self.crm_name else {})

    # -- the one way in ----------------------------------------------------------------------------

    def for_record(self, crm: str, record_id: str, *, time_zone: str = "UTC") -> dict[str, Any]:
        """The panel of one CRM record; ``found`` False (with a calm message) when the hub has none."""
        times = Times(zone(time_zone))
        now = self.clock.now()
        record = {
            "crm": crm,
            "object": CRM_OBJECT.get(crm, "record"),
            "id": record_id,
            "url": self.url(crm, CRM_OBJECT.get(crm, ""), record_id),
            "panel_path": f"/panel/{crm}/{OBJECTS.get(crm, 'records')}/{record_id}",
        }
        base = {"record": record, "time_zone": times.tz.key, "now": times(now)}
        with self.engine.connect() as connection:
            linked = store.episodes_of_record(connection, crm, record_id)
            if not linked:
                noun = "ticket" if crm == "zendesk" else "case"
                return {**base, "found": False, "message": NOTHING_YET.format(noun=noun), "version": "none"}
            episode = linked[0]
            episode_ids = [row.id for row in linked]
            customer_key = episode.customer_key
            body = {
                **base,
                "found": True,
                "customer": self._customer(connection, customer_key, times),
                "episode": self._episode(episode, times),
                "episodes": self._episodes(connection, customer_key, episode.id, times),
                "trail": self._trail(connection, episode.id, times),
                "recovery": self._recovery(connection, episode.id, times),
                "parallel": self._parallel(connection, crm, record_id, customer_key, episode.intent_family),
                "dispositions": [
                    {"code": d.code, "label": d.label} for d in self.catalog.dispositions.values()
                ],
                "sla": self._sla(connection, episode.id, now, times),
                "version": store.version(connection, episode_ids, customer_key),
            }
        return body

    def version(self, crm: str, record_id: str) -> str:
        """What ``for_record`` would fingerprint, for the page's cheap live poll."""
        with self.engine.connect() as connection:
            linked = store.episodes_of_record(connection, crm, record_id)
            if not linked:
                return "none"
            return store.version(connection, [row.id for row in linked], linked[0].customer_key)

    # -- the parts ---------------------------------------------------------------------------------

    def _customer(self, connection: Connection, key: str, times: Times) -> dict[str, Any]:
        row = store.customer_row(connection, key)
        identifiers = store.identifiers_of(connection, key)
        phones = [mask_phone(i.value) for i in identifiers if i.kind == PHONE and i.valid]
        emails = [mask_email(i.value) for i in identifiers if i.kind == EMAIL and i.valid]
        platforms = sorted(
            {i.kind[len(EXTERNAL_PREFIX) :] for i in identifiers if i.kind.startswith(EXTERNAL_PREFIX)}
        )
        ambiguities = store.open_ambiguities(connection, key)
        if ambiguities:
            confidence, why = "low", "the hub recorded an ambiguous match for this customer"
        elif platforms:
            confidence, why = "high", "identified by a platform or CRM id"
        elif phones or emails:
            confidence, why = "medium", "identified by a verified-format phone or email"
        else:
            confidence, why = "low", "no phone, email or platform id: this customer stands alone"
        return {
            "name": row.name if row else None,
            "phones": phones,
            "emails": emails,
            "platforms": platforms,
            "confidence": confidence,
            "confidence_reason": why,
            "ambiguity": [
                {
                    "reason": a["reason"],
                    "text": AMBIGUITY_TEXT.get(a["reason"], "The hub could not name one customer."),
                    "candidates": a["candidates"],
                    "at": times(a["at"]),
                }
                for a in ambiguities
            ],
        }

    def _intent_label(self, code: str) -> str:
        intent = self.catalog.intents.get(code)
        return intent.label if intent else code.replace("_", " ")

    def _disposition(self, code: str | None) -> dict[str, str] | None:
        if not code:
            return None
        found = self.catalog.dispositions.get(code)
        return {"code": code, "label": found.label if found else code}

    def _episode(self, row: Any, times: Times) -> dict[str, Any]:
        return {
            "id": row.id,
            "intent": row.intent,
            "intent_label": self._intent_label(row.intent),
            "intent_family": row.intent_family,
            "status": row.status,
            "opened_at": times(row.opened_at),
            "last_event_at": times(row.last_event_at),
            "closed_reason": row.closed_reason,
        }

    def _episodes(self, connection: Connection, key: str, current: str, times: Times) -> list[dict[str, Any]]:
        listed: dict[str, dict[str, Any]] = {}
        for row in store.episodes_of_customer(connection, key):
            item = listed.setdefault(
                row.id, {**self._episode(row, times), "current": row.id == current, "cases": []}
            )
            if row.case_id is not None:
                item["cases"].append(
                    {
                        "crm": row.crm,
                        "id": row.case_id,
                        "url": self.url(row.crm, row.object, row.case_id),
                        "panel_path": f"/panel/{row.crm}/{OBJECTS.get(row.crm, 'records')}/{row.case_id}",
                    }
                )
        return sorted(listed.values(), key=lambda e: not e["current"])  # stable: newest first otherwise

    def _trail(self, connection: Connection, episode_id: str, times: Times) -> list[dict[str, Any]]:
        rows = store.trail(connection, episode_id)
        corrections = store.corrections_of_episode(connection, episode_id)
        cited = [
            str((r.payload.get("metadata") or {}).get("deflection_id"))
            for r in rows
            if isinstance(r.payload.get("metadata"), dict) and (r.payload["metadata"].get("deflection_id"))
        ]
        offers = store.decisions(connection, cited)
        items = []
        for r in rows:
            p = r.payload
            original = r.disposition or p.get("disposition")
            correction = corrections.get(r.inbox_id)
            jti = (
                (p.get("metadata") or {}).get("deflection_id")
                if isinstance(p.get("metadata"), dict)
                else None
            )
            items.append(
                {
                    "inbox_id": r.inbox_id,
                    "source": r.source,
                    "channel": p.get("channel"),
                    "channel_label": channel_label(p.get("channel")),
                    "direction": p.get("direction", "inbound"),
                    "occurred_at": p.get("occurred_at"),
                    "at": times(_parse(p.get("occurred_at"))),
                    "outcome": p.get("outcome"),
                    "status": r.status,
                    "disposition": self._disposition(correction.corrected_code if correction else original),
                    "original_disposition": self._disposition(original) if correction else None,
                    "corrected_by": correction.corrected_by if correction else None,
                    "summary": p.get("summary"),
                    "transcript": transcript_excerpt(p.get("transcript")),
                    "offer": _offer(offers.get(str(jti)), times) if jti else None,
                }
            )
        return sorted(items, key=lambda i: (i["at"]["iso"] if i["at"] else "", i["inbox_id"]))

    def _sla(
        self, connection: Connection, episode_id: str, now: datetime, times: Times
    ) -> list[dict[str, Any]]:
        if self.sla is None:
            return []
        clocks = []
        for clock in self.sla.episode_on(connection, episode_id, now).current:
            running = clock.ended_at is None
            left = clock.target_minutes - clock.elapsed_minutes if running else None
            if left is None:
                remaining = "met" if clock.status == "fulfilled" else "-"
            elif left < 0 or clock.status == "breached":
                remaining = f"overdue by {minutes_text(abs(left))}"
            else:
                remaining = f"{minutes_text(left)} left"
            clocks.append(
                {
                    "metric": clock.metric,
                    "label": METRIC_LABELS.get(clock.metric, clock.metric),
                    "policy": clock.policy,
                    "target_minutes": clock.target_minutes,
                    "target": f"{minutes_text(clock.target_minutes)} "
                    + ("business time" if clock.business_hours else "calendar time"),
                    "business_hours": clock.business_hours,
                    "status": clock.status,
                    "paused": clock.status == "paused",
                    "breached": clock.status == "breached" or clock.breached_at is not None,
                    "due_at": times(clock.due_at),
                    "breached_at": times(clock.breached_at),
                    "remaining_minutes": round(left, 2) if left is not None else None,
                    "remaining": remaining,
                }
            )
        return clocks

    def _recovery(self, connection: Connection, episode_id: str, times: Times) -> dict[str, Any]:
        plans = store.recovery_plans_of(connection, episode_id)
        attempts = store.recovery_attempts_of(connection, episode_id)
        blocks = store.recovery_blocks(connection, episode_id)
        listed = []
        for plan in plans:
            own = [a for a in attempts if a.plan_id == plan.id]
            upcoming = next((a for a in own if a.status in ("pending", "claimed", "paused")), None)
            listed.append(
                {
                    "id": plan.id,
                    "status": plan.status,
                    "policy": plan.policy,
                    "purpose": plan.purpose,
                    "trigger": {
                        "channel": plan.channel,
                        "channel_label": channel_label(plan.channel),
                        "outcome": plan.outcome,
                        "at": times(plan.occurred_at),
                    },
                    "steps": len(json.loads(plan.steps).get("steps", [])) if plan.steps else None,
                    "close_reason": plan.close_reason,
                    "close_text": reason_text(plan.close_reason) if plan.close_reason else None,
                    "next": _next_attempt(upcoming, times) if upcoming else None,
                    "attempts": [
                        {
                            "step": a.step + 1,
                            "action": a.action,
                            "status": a.status,
                            "reason": a.reason,
                            "reason_text": reason_text(a.reason) if a.reason else None,
                            "at": times(a.finished_at or a.due_at),
                        }
                        for a in own
                        if a.status not in ("pending", "claimed", "paused")
                    ],
                }
            )
        open_plans = [p for p in listed if p["status"] in ("recorded", "active", "paused")]
        return {
            "plans": listed,
            "can_pause": any(p["status"] in ("recorded", "active") for p in open_plans),
            "can_resume": any(p["status"] == "paused" for p in open_plans),
            "can_cancel": bool(open_plans),
            "blocks": [
                {
                    "event": b.event,
                    "reason": b.reason,
                    "text": reason_text(b.reason) if b.reason else b.event,
                    "detail": b.detail,
                    "at": times(b.at),
                    "by": b.actor,
                }
                for b in blocks
            ],
        }

    def _parallel(
        self, connection: Connection, crm: str, record_id: str, customer_key: str, family: str
    ) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        object_name = CRM_OBJECT.get(crm, "")

        def add(case_id: str, why: str) -> None:
            if case_id and case_id != record_id and case_id not in found:
                found[case_id] = {
                    "crm": crm,
                    "object": object_name,
                    "id": case_id,
                    "url": self.url(crm, object_name, case_id),
                    "why": why,
                }

        for other, relation in store.duplicates_linked(connection, crm, record_id):
            add(
                other,
                "the case of record for this one (ctihub dedup)"
                if relation == "master"
                else "linked as a duplicate of this one (ctihub dedup)",
            )
        for row in store.scan_findings(connection, crm, customer_key, family):
            for case_id in [row.master_id, *json.loads(row.duplicate_ids or "[]")]:
                add(case_id, f"found by ctihub dedup scan ({row.state})")
        for row in store.sibling_cases(connection, crm, customer_key, family, record_id):
            why = "same customer and problem, another episode"
            if not row.created_by_hub:
                why = "same customer and problem; not created by the hub"
            add(row.case_id, why + ("" if row.status == "open" else " (closed)"))
        return list(found.values())


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _offer(decision: Any, times: Times) -> dict[str, Any] | None:
    if decision is None:
        return None
    offers = json.loads(decision.offers or "{}")
    return {
        "mode": decision.mode,
        "summary": offers.get("summary"),
        "channels": [o.get("channel") for o in offers.get("offers", [])],
        "at": times(decision.decided_at),
    }


def _next_attempt(attempt: Any, times: Times) -> dict[str, Any]:
    moved = attempt.due_at != attempt.planned_for
    return {
        "step": attempt.step + 1,
        "action": attempt.action,
        "status": attempt.status,
        "planned_for": times(attempt.planned_for),
        "due_at": times(attempt.due_at),
        "window": "moved into the customer's contact window"
        if moved
        else "inside the contact window as planned",
        "reason": attempt.reason,
        "reason_text": reason_text(attempt.reason) if attempt.reason else None,
    }
