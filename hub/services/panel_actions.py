"""What an agent does from the panel: set or correct a disposition, pause / resume / cancel recovery,
mark the episode resolved. Each is written to the CRM through the CRM port (a note on the case,
with the mapped fields) and recorded in the hub with the agent's identity.

Exactly once under double clicks and retries: the client names each action (``action_id``); the
first request records it (``panel_actions``), makes the CRM write under a key derived from it (so a
repeated write is the same write), and finishes it in one transaction that applies the hub's side
only if the action is not finished yet. A repeated request answers what the first one answered.
Nothing is half-written: when the CRM write fails, the hub records nothing but the failed attempt,
and the same action id can be sent again.

Actions the agent cannot undo (cancelling follow-ups, resolving) need ``confirm: true``; the page
asks in a dialog first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from hub.domain.catalog import Catalog
from hub.domain.errors import CrmError, HubError, Problem, ValidationFailed
from hub.domain.mapping import CrmMapping
from hub.ports import CRM, ActivityWrite, Clock
from hub.services import recovery
from hub.services.episode_events import STATUS_CHANGED, EpisodeEvent, apply_episode_event
from hub.store import panel as store
from hub.store.panel_tables import panel_actions
from hub.store.recovery import open_plans

DISPOSITION = "disposition"
PAUSE = "recovery_pause"
RESUME = "recovery_resume"
CANCEL = "recovery_cancel"
RESOLVE = "resolve"
KINDS = (DISPOSITION, PAUSE, RESUME, CANCEL, RESOLVE)
IRREVERSIBLE = frozenset({CANCEL, RESOLVE})  # need confirm: true
ZENDESK_USER = "zendesk:user:"


def resolved_fields(crm: str, actor_subject: str) -> dict[str, Any]:
    """The case status that means "resolved". Salesforce: ``Closed`` (a standard org's closed status).
    Zendesk: ``solved``, which needs an assignee: the agent, when they signed in with Zendesk; otherwise
    (the sandbox agent, a hub token) the ticket's status is left to the agent and only the note is written."""
    if crm == "salesforce":
        return {"Status": "Closed"}
    if crm == "zendesk" and actor_subject.startswith(ZENDESK_USER):
        user = actor_subject.removeprefix(ZENDESK_USER)
        if user.isdigit():
            return {"status": "solved", "assignee_id": int(user)}
    return {}


MAX_REASON = 1000


class ActionRefused(HubError):
    """The action cannot be done as asked; ``status`` is the HTTP status the web layer answers."""

    code = "action_refused"

    def __init__(self, status: int, code: str, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message, problems)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Actor:
    subject: str  # Principal.subject, e.g. "zendesk:user:381"
    name: str


def action_key(action_id: str) -> str:
    """The CRM key of an action's note: fixed length and URL-safe (Salesforce external ids)."""
    return "pa_" + hashlib.sha256(action_id.encode()).hexdigest()[:32]


@dataclass
class PanelActions:
    engine: Engine
    crm: CRM
    mapping: CrmMapping | None
    catalog: Catalog
    clock: Clock
    # The agent's CRM user is real outside the sandbox; the sandbox's signed-in users (ui-shell's
    # identities) are not users of the sandbox CRM, so there a resolve writes the note only.
    agents_are_crm_users: bool = True

    @classmethod
    def for_hub(cls, hub: Any) -> PanelActions:
        crm = hub.crm
        once = getattr(crm, "without_retries", None)  # web code never sleeps inside a request
        return cls(
            engine=hub.engine,
            crm=once() if callable(once) else crm,
            mapping=hub.mappings.crm(hub.crm.name) if hub.crm.name in hub.mappings.crms else None,
            catalog=hub.mappings.catalog,
            clock=hub.clock,
            agents_are_crm_users=hub.sandbox is None,
        )

    # -- the entry point -------------------------------------------------------------------------------

    def perform(
        self, crm: str, record_id: str, kind: str, body: dict[str, Any], actor: Actor
    ) -> dict[str, Any]:
        """Validate, then do the action once; returns what the client is told (also on a repeat)."""
        if kind not in KINDS:
            raise ActionRefused(404, "not_found", f"no panel action {kind!r}")
        if crm != self.crm.name:
            raise ActionRefused(404, "not_found", f"this hub writes to {self.crm.name}, not {crm}")
        action_id = _text(body, "action_id", required=True, limit=64)
        reason = _text(body, "reason", required=kind in (PAUSE, CANCEL), limit=MAX_REASON)
        if kind in IRREVERSIBLE and body.get("confirm") is not True:
            raise ValidationFailed(
                "this action cannot be undone: send confirm: true after the agent confirmed it",
                [Problem("confirm", "must be true")],
            )
        with self.engine.connect() as connection:
            episodes = store.episodes_of_record(connection, crm, record_id)
        if not episodes:
            raise ActionRefused(404, "not_found", f"no hub activity for {crm} record {record_id!r}")
        episode_id = episodes[0].id
        if kind == RESOLVE and episodes[0].status != "open" and not _known(self.engine, action_id):
            raise ActionRefused(409, "nothing_to_do", "this episode is already closed")
        request = {k: body.get(k) for k in ("code", "inbox_id", "reason") if body.get(k) is not None}
        started = self._start(action_id, kind, crm, record_id, episode_id, actor, request)
        if started.get("done"):
            return {**started["result"], "replayed": True}
        plan = self._plan(kind, episode_id, body, reason)
        try:
            self._write_crm(record_id, kind, action_id, plan, actor, retrying=started["retrying"])
        except CrmError as exc:
            self._failed(action_id, exc)
            raise
        return self._finish(action_id, kind, crm, record_id, episode_id, plan, actor)

    # -- steps -------------------------------------------------------------------------------------------

    def _start(
        self,
        action_id: str,
        kind: str,
        crm: str,
        record_id: str,
        episode_id: str,
        actor: Actor,
        request: dict[str, Any],
    ) -> dict[str, Any]:
        now = self.clock.now()
        with self.engine.begin() as connection:
            existing = _action(connection, action_id)
            if existing is None:
                savepoint = connection.begin_nested()
                try:
                    connection.execute(
                        panel_actions.insert().values(
                            action_id=action_id,
                            kind=kind,
                            crm=crm,
                            record_id=record_id,
                            episode_id=episode_id,
                            actor=actor.subject[:200],
                            actor_name=actor.name[:200],
                            request=json.dumps(request, sort_keys=True),
                            status="started",
                            created_at=now,
                        )
                    )
                    savepoint.commit()
                    return {"retrying": False}
                except IntegrityError:  # the same click, arriving twice at once
                    savepoint.rollback()
                    existing = _action(connection, action_id)
            assert existing is not None
            if (existing.kind, existing.crm, existing.record_id) != (kind, crm, record_id):
                raise ActionRefused(409, "conflict", f"action id {action_id!r} was used for another action")
            if existing.status == "done":
                return {"done": True, "result": json.loads(existing.result or "{}")}
            return {"retrying": True}

    def _plan(self, kind: str, episode_id: str, body: dict[str, Any], reason: str | None) -> dict[str, Any]:
        """What the action will write, read before the CRM call (validated against the hub's records)."""
        plan: dict[str, Any] = {"reason": reason}
        if kind != DISPOSITION:
            with self.engine.connect() as connection:
                plans = open_plans(connection, episode_id)
            if kind in (PAUSE, RESUME, CANCEL) and not plans:
                raise ActionRefused(409, "nothing_to_do", "this episode has no open recovery plan")
            return plan
        code = _text(body, "code", required=True, limit=100)
        disposition = self.catalog.dispositions.get(code or "")
        if disposition is None:
            raise ValidationFailed(
                f"{code!r} is not a disposition code of the catalog (GET /v1/catalog lists them)",
                [Problem("code", "unknown disposition code")],
            )
        with self.engine.connect() as connection:
            inbox_id = body.get("inbox_id")
            if inbox_id is not None:
                if not isinstance(inbox_id, int) or isinstance(inbox_id, bool):
                    raise ValidationFailed(
                        "inbox_id must be an integer", [Problem("inbox_id", "not an integer")]
                    )
                event = store.event_of_episode(connection, episode_id, inbox_id)
                if event is None:
                    raise ValidationFailed(
                        f"event {inbox_id} is not part of this record's episode",
                        [Problem("inbox_id", "not in this episode")],
                    )
            else:
                event = store.latest_event(connection, episode_id)
                if event is None:
                    raise ActionRefused(
                        409, "nothing_to_do", "this episode has no event to give a disposition"
                    )
            in_force = store.corrections_of_episode(connection, episode_id).get(event.inbox_id)
        original = event.disposition or event.payload.get("disposition")
        current = in_force.corrected_code if in_force else original
        if current == code:
            raise ValidationFailed(
                f"{code} is already the disposition of this event", [Problem("code", "unchanged")]
            )
        plan.update(
            code=code,
            label=disposition.label,
            original=original,
            current=current,
            inbox_id=event.inbox_id,
            channel=event.payload.get("channel"),
        )
        return plan

    def _write_crm(
        self, record_id: str, kind: str, action_id: str, plan: dict[str, Any], actor: Actor, *, retrying: bool
    ) -> None:
        subject, body = _note(kind, plan, actor, self.catalog)
        context: dict[str, Any] = {
            "event.source": "cti-hub-panel",
            "event.event_id": action_id,
            "event.key": action_key(action_id),
            "event.direction": None,
            "event.occurred_at": self.clock.now(),
            "activity.subject": subject,
            "activity.body": body,
        }
        if kind == DISPOSITION:
            disposition = self.catalog.dispositions[plan["code"]]
            context.update(
                {
                    "disposition.code": disposition.code,
                    "disposition.label": disposition.label,
                    "disposition.outcome_class": disposition.outcome_class,
                    "disposition.value": disposition.crm_values.get(self.crm.name),
                    "disposition.tags": list(disposition.crm_tags.get(self.crm.name, ())),
                }
            )
        fields = self.mapping.activity.apply(context, creating=True) if self.mapping else {}
        case_fields = (
            self.mapping.case.apply(context, creating=False) if self.mapping and kind == DISPOSITION else {}
        )
        if kind == RESOLVE:
            case_fields = resolved_fields(self.crm.name, actor.subject if self.agents_are_crm_users else "")
        activity = ActivityWrite(key=action_key(action_id), body=body, fields=fields, case_fields=case_fields)
        self.crm.append_activity(record_id, activity, retrying=retrying)

    def _failed(self, action_id: str, exc: CrmError) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(panel_actions)
                .where(panel_actions.c.action_id == action_id, panel_actions.c.status != "done")
                .values(status="failed", error=f"{exc.code}: {exc.message}"[:2000])
            )

    def _finish(
        self,
        action_id: str,
        kind: str,
        crm: str,
        record_id: str,
        episode_id: str,
        plan: dict[str, Any],
        actor: Actor,
    ) -> dict[str, Any]:
        now = self.clock.now()
        result: dict[str, Any] = {"action_id": action_id, "kind": kind, "done": True, "by": actor.name}
        with self.engine.begin() as connection:
            claimed = connection.execute(
                update(panel_actions)
                .where(panel_actions.c.action_id == action_id, panel_actions.c.status != "done")
                .values(status="done", done_at=now, error=None)
            ).rowcount
            if claimed != 1:  # another request of the same action finished first: answer as it did
                existing = _action(connection, action_id)
                return {**json.loads(existing.result or "{}"), "replayed": True}
            result.update(self._apply(connection, kind, crm, record_id, episode_id, plan, actor, now))
            connection.execute(
                update(panel_actions)
                .where(panel_actions.c.action_id == action_id)
                .values(result=json.dumps(result, sort_keys=True, default=str))
            )
        return result

    def _apply(
        self,
        connection: Connection,
        kind: str,
        crm: str,
        record_id: str,
        episode_id: str,
        plan: dict[str, Any],
        actor: Actor,
        now: datetime,
    ) -> dict[str, Any]:
        """The hub's side of the action, in the transaction that marks it done."""
        detail = f"{actor.name} ({actor.subject})" + (f": {plan['reason']}" if plan.get("reason") else "")
        if kind == DISPOSITION:
            correction_id = store.record_correction(
                connection,
                {
                    "inbox_id": plan["inbox_id"],
                    "episode_id": episode_id,
                    "crm": crm,
                    "record_id": record_id,
                    "original_code": plan["original"],
                    "corrected_code": plan["code"],
                    "corrected_by": actor.subject[:200],
                    "reason": plan.get("reason"),
                    "corrected_at": now,
                },
            )
            return {"correction_id": correction_id, "inbox_id": plan["inbox_id"], "code": plan["code"]}
        if kind == PAUSE:
            return {
                "plans": recovery.pause_episode(
                    connection, episode_id, now=now, actor=actor.subject, detail=detail
                )
            }
        if kind == RESUME:
            return {
                "plans": recovery.resume_episode(
                    connection, episode_id, now=now, actor=actor.subject, detail=detail
                )
            }
        if kind == CANCEL:
            return {
                "attempts": recovery.cancel_by_agent(connection, episode_id, now=now, actor=actor.subject)
            }
        apply_episode_event(
            connection, EpisodeEvent(episode_id, STATUS_CHANGED, now, status="solved"), now=now
        )
        return {"episode": episode_id, "status": "closed"}


def _known(engine: Engine, action_id: str) -> bool:
    """Whether this action id was recorded already (a repeat answers as the first request did)."""
    with engine.connect() as connection:
        return _action(connection, action_id) is not None


def _action(connection: Connection, action_id: str) -> Any:
    return connection.execute(select(panel_actions).where(panel_actions.c.action_id == action_id)).first()


def _text(body: dict[str, Any], name: str, *, required: bool, limit: int) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"{name} is required", [Problem(name, "missing")])
        return None
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string", [Problem(name, "not a string")])
    if len(value) > limit:
        raise ValidationFailed(f"{name} is longer than {limit} characters", [Problem(name, "too long")])
    return value.strip()


def _note(kind: str, plan: dict[str, Any], actor: Actor, catalog: Catalog) -> tuple[str, str]:
    """The note's subject and body: what was done, by whom, and why."""
    why = f"\nReason: {plan['reason']}" if plan.get("reason") else ""
    by = f"by {actor.name} in the CTI Hub panel"
    if kind == DISPOSITION:
        before = plan.get("current")
        label = catalog.dispositions[before].label if before in catalog.dispositions else before
        verb = f"corrected from {label} ({before}) to" if before else "set to"
        return (
            f"Disposition {plan['code']}",
            f"Disposition of the {plan.get('channel') or ''} contact {verb} "
            f"{plan['label']} ({plan['code']}) {by}.{why}",
        )
    text = {
        PAUSE: ("Follow-ups paused", f"Recovery follow-ups paused {by}.{why}"),
        RESUME: ("Follow-ups resumed", f"Recovery follow-ups resumed {by}.{why}"),
        CANCEL: ("Follow-ups cancelled", f"Recovery follow-ups cancelled {by}.{why}"),
        RESOLVE: ("Marked resolved", f"Marked resolved {by}.{why}"),
    }
    return text[kind]
