"""What recovery writes to the CRM, in the admin's terms: the field mapping, the catalog's labels and
disposition values, the customer's profile. The same context the link worker's activities get."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.domain.catalog import Catalog
from hub.domain.mapping import CrmMapping
from hub.domain.recovery import CHANNEL_OF
from hub.ports import ActivityWrite, CustomerProfile
from hub.store import recovery as store


@dataclass(frozen=True)
class CrmValues:
    """The mapping and catalog of one CRM (``crm_name``); none of them: plain values."""

    crm_name: str = ""
    mapping: CrmMapping | None = None
    catalog: Catalog | None = None

    def intent_label(self, intent: str) -> str:
        found = self.catalog.intents.get(intent) if self.catalog else None
        return found.label if found else intent.replace("_", " ")

    def context(
        self, plan: store.Plan, attempt: store.Attempt, code: str, subject: str, body: str, now: datetime
    ) -> dict[str, Any]:
        disposition = self.catalog.dispositions.get(code) if self.catalog else None
        crm = self.crm_name
        return {
            "event.source": "cti-hub-recovery",
            "event.event_id": attempt.key,
            "event.key": attempt.key,
            "event.channel": CHANNEL_OF[attempt.action],
            "event.direction": "outbound",
            "event.intent": plan.intent,
            "event.occurred_at": now,
            "intent.code": plan.intent,
            "intent.label": self.intent_label(plan.intent),
            "disposition.code": code,
            "disposition.label": disposition.label if disposition else code,
            "disposition.outcome_class": disposition.outcome_class if disposition else None,
            "disposition.value": disposition.crm_values.get(crm) if disposition else None,
            "disposition.tags": list(disposition.crm_tags.get(crm, ())) if disposition else [],
            "customer.key": plan.customer_key,
            "customer.phone": plan.phone,
            "customer.email": plan.email,
            "customer.name": plan.customer_name,
            "episode.id": plan.episode_id,
            "activity.subject": subject,
            "activity.body": body,
        }

    def activity(
        self,
        key: str,
        subject: str,
        body: str,
        code: str,
        plan: store.Plan,
        attempt: store.Attempt,
        now: datetime,
    ) -> ActivityWrite:
        """A note through the admin's field mapping, as the link worker writes its activities."""
        context = self.context(plan, attempt, code, subject, body, now)
        activity_fields = self.mapping.activity.apply(context, creating=True) if self.mapping else {}
        # The case keeps the channel of the customer's own contacts; the note carries the touch's channel.
        case_context = {k: v for k, v in context.items() if k != "event.channel"}
        case_fields = self.mapping.case.apply(case_context, creating=False) if self.mapping else {}
        return ActivityWrite(
            key=key, body=body, fields=activity_fields, case_fields=case_fields, customer=self.profile(plan)
        )

    def case_fields(
        self,
        plan: store.Plan,
        attempt: store.Attempt,
        code: str,
        subject: str,
        body: str,
        now: datetime,
        *,
        creating: bool,
    ) -> dict[str, Any]:
        context = self.context(plan, attempt, code, subject, body, now)
        context.pop("intent.code")  # a task ticket is no second ticket of the intent (dedup must not see one)
        context.pop("event.channel")
        return self.mapping.case.apply(context, creating=creating) if self.mapping else {}

    @staticmethod
    def profile(plan: store.Plan) -> CustomerProfile:
        return CustomerProfile(
            key=plan.customer_key,
            name=plan.customer_name,
            phone=plan.phone,
            email=plan.email,
            external_ids=dict(plan.external_ids),
        )
