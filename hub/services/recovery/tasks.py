"""Callback and email attempts: a task for an agent in the CRM, idempotent by the attempt key.

Salesforce: a Task on the episode's Case (an upsert by the attempt key), due the attempt's local day,
with a reminder at the attempt time. Zendesk (and any CRM whose case is a ticket): a task ticket due
at the end of the customer's contact window, linked to the episode's ticket by the episode field and
its text; the recovery note on the episode's ticket names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hub.domain.contact_window import ContactLocation
from hub.domain.recovery import CALLBACK, SENT_DISPOSITIONS, Verdict
from hub.ports import CRM, ActivityWrite, CaseWrite
from hub.store import recovery as store

from .crm_values import CrmValues
from .keys import local_text, step_count, utc_text


@dataclass(frozen=True)
class TaskMade:
    case_id: str
    activity_id: str
    detail: str = ""
    note: bool = True  # False: the task is itself the note on the case (Salesforce)


@dataclass(frozen=True)
class TaskWriter:
    crm: CRM
    values: CrmValues
    location: ContactLocation

    def write(
        self, case_id: str, attempt: store.Attempt, plan: store.Plan, verdict: Verdict, now: datetime
    ) -> TaskMade:
        """Write the task for ``attempt`` on the episode's case ``case_id``; raises ``CrmError``."""
        until = verdict.until or now + timedelta(hours=1)
        subject, body = self.text(case_id, attempt, plan, verdict, now, until)
        code = SENT_DISPOSITIONS[attempt.action]
        activity = self.values.activity(attempt.key, subject, body, code, plan, attempt, now)
        profile = self.values.profile(plan)
        retrying = attempt.claims > 1
        if self.crm.name == "salesforce":
            task_fields = {
                **activity.fields,
                "Subject": subject[:255],
                "Status": "Not Started",
                "Priority": "High",
                "ActivityDate": now.astimezone(self._zone()).date().isoformat(),
                "ReminderDateTime": utc_text(now),
                "IsReminderSet": True,
                "CallType": "Outbound",
            }
            if attempt.action != CALLBACK:
                task_fields.pop("CallType")
            written = ActivityWrite(
                key=attempt.key,
                body=body,
                fields=task_fields,
                case_fields=activity.case_fields,
                customer=profile,
            )
            result = self.crm.append_activity(case_id, written, retrying=retrying)
            return TaskMade(case_id, result.activity.id, note=False)
        ticket_fields = {
            **self.values.case_fields(plan, attempt, code, subject, body, now, creating=True),
            "subject": subject[:255],
            "type": "task",
            "due_at": utc_text(until),
        }
        made = self.crm.create_case(
            CaseWrite(key=attempt.key, fields=ticket_fields, customer=profile),
            ActivityWrite(key=attempt.key, body=body, fields=activity.fields, customer=profile),
            retrying=retrying,
        )
        detail = f"task {made.case.object} {made.case.id} due {utc_text(until)}"
        return TaskMade(made.case.id, made.activity.id, detail)

    def text(
        self,
        case_id: str,
        attempt: store.Attempt,
        plan: store.Plan,
        verdict: Verdict,
        now: datetime,
        until: datetime,
    ) -> tuple[str, str]:
        """(subject, body) of the task: who, where, why, by when, and the guards it passed."""
        action = "Call" if attempt.action == CALLBACK else "Email"
        label = self.values.intent_label(plan.intent)
        back = " back" if attempt.action == CALLBACK else ""
        who = plan.customer_name or "the customer"
        subject = f"Recovery: {action} {who}{back} about {label}"
        lines = [
            f"{action} {who} at {attempt.address or '-'} about {label}: their {plan.channel} "
            f"interaction ended {plan.outcome} at {utc_text(plan.occurred_at)}.",
            f"Due {utc_text(now)}{local_text(self.location, now)}; "
            f"{'call' if action == 'Call' else 'send'} before {utc_text(until)}"
            f"{local_text(self.location, until)} (the customer's contact window).",
            f"Step {attempt.step + 1} of {step_count(plan)} of policy {plan.policy!r}; "
            f"episode {plan.episode_id}, ticket/case {case_id}.",
            "",
            "Guards passed:",
            *(f"  {c.guard}: {c.detail}" for c in verdict.checks),
            "",
            f"CTI Hub recovery attempt {attempt.key}",
        ]
        return subject, "\n".join(lines)

    def _zone(self) -> ZoneInfo:
        zones = self.location.zones
        return ZoneInfo(zones[0]) if zones else ZoneInfo("UTC")
