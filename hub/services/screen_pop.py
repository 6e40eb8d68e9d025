"""Screen pop: which record to open for an incoming digital contact, from a phone, email or platform id.

The open case/ticket of the customer's current episode; otherwise the customer's contact/user in the
CRM. Several matches are returned as a choice, each with its reason, never a guess: two open
episodes (two problems), an identifier the CRM has on several people, several CRM people known for
the customer. Read-only, from the hub's own tables: no CRM call, nothing created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from hub.domain.catalog import Catalog
from hub.domain.errors import Problem, ValidationFailed
from hub.domain.identity import EMAIL, PHONE, Identifier, external, normalize_email
from hub.services.identity import normalize_phone
from hub.services.panel import OBJECTS
from hub.services.panel_format import Times, mask_email, mask_phone, record_url, zone
from hub.store import panel as store
from hub.store.dedup_tables import shared_identifiers

PERSON = {"zendesk": ("user", "ext:zendesk_user"), "salesforce": ("Contact", "ext:salesforce_contact")}


@dataclass
class ScreenPop:
    engine: Engine
    catalog: Catalog
    crm_name: str
    crm_settings: dict[str, str]
    default_region: str = "US"

    def identifier(self, args: dict[str, str]) -> Identifier:
        """The one identifier the request names, normalized; a clear error otherwise."""
        given = [name for name in ("phone", "email", "platform") if (args.get(name) or "").strip()]
        if len(given) != 1:
            raise ValidationFailed(
                "give exactly one of phone, email, or platform with id",
                [Problem(name, "one of these is required") for name in ("phone", "email", "platform")],
            )
        name = given[0]
        value = args[name].strip()
        if name == "phone":
            found = normalize_phone(value, self.default_region)
            if found.kind != PHONE:
                raise ValidationFailed(
                    f"{value!r} is not a phone number", [Problem("phone", "not a phone number")]
                )
            return found
        if name == "email":
            found = normalize_email(value)
            if not found.valid:
                raise ValidationFailed("not an email address", [Problem("email", "not an email address")])
            return found
        record_id = (args.get("id") or "").strip()
        if not record_id:
            raise ValidationFailed("platform needs an id", [Problem("id", "required with platform")])
        return external(value, record_id)

    def pop(self, args: dict[str, str], *, time_zone: str = "UTC") -> dict[str, Any]:
        identifier = self.identifier(args)
        times = Times(zone(time_zone))
        shown = (
            mask_phone(identifier.value)
            if identifier.kind == PHONE
            else mask_email(identifier.value)
            if identifier.kind == EMAIL
            else identifier.kind
        )
        answer: dict[str, Any] = {"query": {"kind": identifier.kind, "shown": shown}}
        with self.engine.connect() as connection:
            shared = connection.execute(
                select(shared_identifiers.c.candidates).where(
                    shared_identifiers.c.kind == identifier.kind,
                    shared_identifiers.c.value == identifier.value,
                )
            ).scalar()
            if shared:
                people = [ref.split(":", 1) for ref in json.loads(shared)]
                candidates = [
                    self._person(
                        crm, pid, "this identifier is on several people in the CRM: choose who it is"
                    )
                    for crm, pid in people
                    if crm == self.crm_name
                ]
                return self._decide(answer, candidates)
            key = store.customer_by_identifier(connection, identifier.kind, identifier.value)
            if key is None:
                return {
                    **answer,
                    "decision": "none",
                    "candidates": [],
                    "message": "The hub has no customer with this identifier.",
                }
            open_cases = store.current_episode_case(connection, key, self.crm_name)
            ambiguous = bool(store.open_ambiguities(connection, key))
            if open_cases:
                several = len(open_cases) > 1
                candidates = []
                for row in open_cases:
                    label = self._intent_label(row.intent)
                    last = times(row.last_event_at)
                    reason = f"open {label} case, last contact {last['local'] if last else '-'}" + (
                        " (one of several open problems)" if several else " (the customer's current episode)"
                    )
                    candidates.append(self._case(row.object, row.case_id, reason, label))
                return {**self._decide(answer, candidates), "ambiguous_identity": ambiguous}
            kind = PERSON.get(self.crm_name, ("", ""))[1]
            people_ids = [
                i.value for i in store.identifiers_of(connection, key) if i.kind == kind and i.valid
            ]
        candidates = [
            self._person(self.crm_name, pid, "the customer's contact in the CRM (no open case)")
            for pid in people_ids
        ]
        if not candidates:
            return {
                **answer,
                "decision": "none",
                "candidates": [],
                "message": "The hub knows this customer but has no open case or CRM contact for them.",
                "ambiguous_identity": ambiguous,
            }
        return {**self._decide(answer, candidates), "ambiguous_identity": ambiguous}

    def _intent_label(self, code: str) -> str:
        intent = self.catalog.intents.get(code)
        return intent.label if intent else code

    def _case(self, object_name: str, case_id: str, reason: str, label: str) -> dict[str, Any]:
        return {
            "crm": self.crm_name,
            "object": object_name,
            "id": case_id,
            "label": label,
            "reason": reason,
            "url": record_url(self.crm_name, object_name, case_id, self.crm_settings),
            "panel_path": f"/panel/{self.crm_name}/{OBJECTS.get(self.crm_name, 'records')}/{case_id}",
        }

    def _person(self, crm: str, person_id: str, reason: str) -> dict[str, Any]:
        object_name = PERSON.get(crm, ("person", ""))[0]
        return {
            "crm": crm,
            "object": object_name,
            "id": person_id,
            "label": f"{object_name} {person_id}",
            "reason": reason,
            "url": record_url(crm, object_name, person_id, self.crm_settings if crm == self.crm_name else {}),
            "panel_path": None,
        }

    @staticmethod
    def _decide(answer: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
        if not candidates:
            return {**answer, "decision": "none", "candidates": [], "message": "Nothing to pop."}
        if len(candidates) == 1:
            return {**answer, "decision": "pop", "record": candidates[0], "candidates": candidates}
        return {
            **answer,
            "decision": "choose",
            "candidates": candidates,
            "message": f"{len(candidates)} records match: choose one.",
        }
