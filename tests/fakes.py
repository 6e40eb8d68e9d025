"""Fakes that implement the real Protocols (no mocks): a CRM that records what it was asked."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.domain.errors import CrmError
from hub.ports import ActivityWrite, CaseRecord, CaseWrite, LinkResult, RecordRef


@dataclass
class FakeCRM:
    """An in-memory CRM, idempotent by key like the real adapters. ``fail_next`` raises once each."""

    name: str = "zendesk"
    cases: dict[str, dict] = field(default_factory=dict)
    activities: dict[str, dict] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    fail_next: list[CrmError] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)
    case_updates: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)  # update_case calls
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def get_case(self, case_id: str) -> CaseRecord | None:
        self.calls.append(("get_case", case_id))
        self._maybe_fail()
        case = next((c for c in self.cases.values() if c["id"] == case_id), None)
        return CaseRecord(self.name, "ticket", case_id, is_open=case_id not in self.closed) if case else None

    def add_existing_case(self, case_id: str) -> None:
        self.cases[f"external-{case_id}"] = {"id": case_id, "fields": {}, "customer": None}

    def create_case(self, case: CaseWrite, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        self.calls.append(("create_case", case.key))
        self._maybe_fail()
        created = case.key not in self.cases
        if created:
            self.cases[case.key] = {
                "id": str(next(self._ids)),
                "fields": dict(case.fields),
                "customer": case.customer,
            }
        case_id = self.cases[case.key]["id"]
        return LinkResult(RecordRef(self.name, "ticket", case_id, created), self._activity(case_id, activity))

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        self.calls.append(("append_activity", case_id))
        self._maybe_fail()
        return LinkResult(RecordRef(self.name, "ticket", case_id, False), self._activity(case_id, activity))

    def update_case(self, case_id: str, fields: Mapping[str, Any], *, key: str) -> None:
        """Set fields on the case: ``case_updates`` keeps every update, in order."""
        self.calls.append(("update_case", case_id))
        self._maybe_fail()
        self.case_updates.append((case_id, dict(fields), key))

    def _activity(self, case_id: str, activity: ActivityWrite) -> RecordRef:
        created = activity.key not in self.activities
        if created:
            self.activities[activity.key] = {
                "id": f"c{next(self._ids)}",
                "case_id": case_id,
                "activity": activity,
            }
        return RecordRef(self.name, "comment", self.activities[activity.key]["id"], created)

    def activities_on(self, case_id: str) -> list[ActivityWrite]:
        return [a["activity"] for a in self.activities.values() if a["case_id"] == case_id]
