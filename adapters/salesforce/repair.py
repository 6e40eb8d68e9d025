"""``SalesforceRepair``: the hub's ``CaseRepair`` port on the Salesforce REST API (``ctihub dedup``).

    people       SELECT Id FROM Contact WHERE Email = .. | Phone IN (..) | MobilePhone IN (..)
    open_cases   SELECT Id, CaseNumber, Subject, Status, CreatedDate, ContactId, ParentId, <key>,
                 <intent> FROM Case WHERE IsClosed = false AND <intent> IN (..)
                 AND ContactId IN (..) | SuppliedEmail IN (..) | SuppliedPhone IN (..)
                 ORDER BY CreatedDate ASC          (one query per way to match: SOQL OR is avoided)
    apply        link_only: PATCH Case/<dup> {ParentId: master}                 + CaseComment
                 merge:     PATCH Case/<dup> {ParentId: master, Status: <closed>} + CaseComment
    undo         PATCH Case/<dup> {ParentId: <before>, Status: <before>}        + CaseComment

Nothing here is irreversible in the CRM: the parent link is cleared and the previous status put
back by ``undo``. (A close may have fired the org's own automation, e.g. a survey email: that cannot
be called back, and the first CaseComment stays, followed by one saying the merge was undone.)

The closed status is never assumed to be ``Closed`` (crm-facts §5.5): ``dedup_closed_status``
(``CTIHUB_SALESFORCE_DEDUP_CLOSED_STATUS``) names it and is checked against the Case Status picklist
and, where the org answers it, ``CaseStatus.IsClosed``; without the option, the org's only closed
``CaseStatus`` is used, and several (or none readable) is a ``ConfigError`` asking for the option.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from simple_salesforce import Salesforce

from hub.domain.errors import ConfigError, CrmError, CrmRecordRejected
from hub.domain.identity import EMAIL, EXTERNAL_PREFIX, PHONE, Identifier
from hub.ports import LINK_ONLY, MERGE, CrmPerson, OpenCase, RepairResult

from . import client
from .crm import CONTACT_ID, DEFAULT_CASE_KEY_FIELD, DEFAULT_CASE_OBJECT, _segment
from .errors import CRM, translated

DEFAULT_INTENT_FIELD = "CTI_Hub_Intent__c"
COMMENT_MAX = 4000
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def soql_literal(value: str) -> str:
    """A quoted SOQL string literal (backslash and quote escaped): values are never spliced raw."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _in(values: Collection[str]) -> str:
    return "(" + ", ".join(soql_literal(v) for v in sorted(set(values))) + ")"


def intent_field(mapping: Any, settings: Any = None) -> str:
    """The Case field the hub writes the intent code to (from the field mapping)."""
    configured = (settings or {}).get("dedup_intent_field")
    if configured:
        return str(configured)
    for rule in getattr(getattr(mapping, "case", None), "rules", ()):
        if getattr(rule, "source", None) == "intent.code" and "." not in str(getattr(rule, "target", ".")):
            return str(rule.target)
    return DEFAULT_INTENT_FIELD


class SalesforceRepair:
    """Finds and repairs parallel Cases in one org. Connects on the first call."""

    name = CRM

    def __init__(
        self,
        settings: client.SalesforceSettings,
        *,
        case_object: str = DEFAULT_CASE_OBJECT,
        key_field: str = DEFAULT_CASE_KEY_FIELD,
        intent_field: str = DEFAULT_INTENT_FIELD,
        closed_status: str | None = None,
        session: Any = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        for name in (case_object, key_field, intent_field):
            if not _NAME.match(name):
                raise ConfigError(f"not a Salesforce API name: {name!r}")
        self.settings = settings
        self.case_object = case_object
        self.key_field = key_field
        self.intent_field = intent_field
        self.closed_status = closed_status
        self.timeout = timeout
        self._transport = session
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None
        self._closed: str | None = None

    # -- finding ---------------------------------------------------------------------------------

    def people(self, identifiers: Sequence[Identifier]) -> list[CrmPerson]:
        found = []
        with self._calls() as sf:
            for identifier in identifiers:
                if not identifier.strong:
                    continue
                if identifier.kind == f"{EXTERNAL_PREFIX}{CONTACT_ID}":
                    ids = {identifier.value}
                elif identifier.kind == EMAIL:
                    ids = self._ids(
                        sf,
                        f"SELECT Id FROM Contact WHERE Email = {soql_literal(identifier.value)}",  # noqa: S608
                    )
                elif identifier.kind == PHONE:
                    forms = _in({identifier.value, identifier.raw.strip()})
                    ids = self._ids(sf, f"SELECT Id FROM Contact WHERE Phone IN {forms}")  # noqa: S608
                    ids |= self._ids(sf, f"SELECT Id FROM Contact WHERE MobilePhone IN {forms}")  # noqa: S608
                else:
                    continue
                found.append(CrmPerson(identifier.kind, identifier.value, tuple(sorted(ids))))
        return found

    def open_cases(
        self, person_ids: Sequence[str], identifiers: Sequence[Identifier], intents: Collection[str]
    ) -> list[OpenCase]:
        if not intents:
            return []
        matches = []
        if person_ids:
            matches.append(f"ContactId IN {_in(person_ids)}")
        emails = {i.value for i in identifiers if i.kind == EMAIL and i.strong}
        if emails:
            matches.append(f"SuppliedEmail IN {_in(emails)}")
        phones = {v for i in identifiers if i.kind == PHONE and i.strong for v in (i.value, i.raw.strip())}
        if phones:
            matches.append(f"SuppliedPhone IN {_in(phones)}")
        cases: dict[str, OpenCase] = {}
        with self._calls() as sf:
            for match in matches:
                soql = (
                    f"{self._select()} WHERE IsClosed = false AND {self.intent_field} IN {_in(intents)} "
                    f"AND {match} ORDER BY CreatedDate ASC"
                )
                for record in sf.query_all(soql).get("records") or ():
                    cases[str(record["Id"])] = self._open_case(record)
        return sorted(cases.values(), key=lambda c: (c.created_at.isoformat() if c.created_at else "", c.id))

    def open_case(self, case_id: str) -> OpenCase | None:
        with self._calls() as sf:
            soql = f"{self._select()} WHERE Id = {soql_literal(case_id)} AND IsClosed = false"
            try:
                with translated():
                    records = sf.query_all(soql).get("records") or []
            except CrmRecordRejected:
                return None  # not an Id at all
        return self._open_case(records[0]) if records else None

    # -- repairing -------------------------------------------------------------------------------

    def irreversible(self, policy: str) -> bool:
        return False

    def apply(
        self, policy: str, master: OpenCase, duplicates: Sequence[OpenCase], *, note: str
    ) -> RepairResult:
        if policy not in (LINK_ONLY, MERGE):
            return RepairResult(policy, master.id, done=tuple(d.id for d in duplicates))
        done, failed, before = [], {}, {}
        with self._calls() as sf:
            closed = self._closed_status(sf) if policy == MERGE else None
            handler = getattr(sf, self.case_object)
            for duplicate in duplicates:
                try:
                    current = handler.get(_segment(duplicate.id), params={"fields": "Id,Status,ParentId"})
                    changes: dict[str, Any] = {"ParentId": master.id}
                    if closed is not None:
                        changes["Status"] = closed
                    handler.update(_segment(duplicate.id), changes)
                    before[duplicate.id] = {
                        "ParentId": current.get("ParentId"),
                        "Status": current.get("Status"),
                    }
                    what = "closed as a duplicate of" if closed else "linked as a duplicate of"
                    self._comment(sf, duplicate.id, f"{note}\n\nCTI Hub {what} case {master.id}.")
                    done.append(duplicate.id)
                except CrmError as exc:
                    failed[duplicate.id] = exc.describe()
        return RepairResult(policy, master.id, done=tuple(done), failed=failed, undo={"before": before})

    def undo(self, result: RepairResult, *, note: str) -> RepairResult:
        done, failed = [], {}
        with self._calls() as sf:
            handler = getattr(sf, self.case_object)
            for case_id, values in dict(result.undo.get("before") or {}).items():
                try:
                    restore = {"ParentId": values.get("ParentId") or None}
                    if result.policy == MERGE and values.get("Status"):
                        restore["Status"] = values["Status"]
                    handler.update(_segment(case_id), restore)
                    self._comment(
                        sf, case_id, f"{note}\n\nCTI Hub undid its duplicate link to {result.master_id}."
                    )
                    done.append(case_id)
                except CrmError as exc:
                    failed[case_id] = exc.describe()
        return RepairResult(result.policy, result.master_id, done=tuple(done), failed=failed)

    # -- inside ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _calls(self) -> Iterator[Salesforce]:
        with translated():
            with self._lock:
                if self._sf is None:
                    self._sf = client.connect(self.settings, self._transport, self.timeout)
                sf = self._sf
            yield sf

    def _select(self) -> str:
        fields = ["Id", "CaseNumber", "Subject", "Status", "CreatedDate", "ContactId", "ParentId"]
        fields += [f for f in (self.key_field, self.intent_field) if f not in fields]
        return f"SELECT {', '.join(fields)} FROM {self.case_object}"  # noqa: S608 (names checked in __init__)

    @staticmethod
    def _ids(sf: Salesforce, soql: str) -> set[str]:
        return {str(r["Id"]) for r in sf.query_all(soql).get("records") or () if r.get("Id")}

    def _comment(self, sf: Salesforce, case_id: str, body: str) -> None:
        text = body if len(body) <= COMMENT_MAX else body[: COMMENT_MAX - 1] + "…"
        sf.CaseComment.create({"ParentId": case_id, "CommentBody": text, "IsPublished": False})

    def _closed_status(self, sf: Salesforce) -> str:
        if self._closed is not None:
            return self._closed
        closed = self._closed_statuses(sf)
        if self.closed_status:
            values = self._status_values(sf)
            if values and self.closed_status not in values:
                raise ConfigError(
                    f"CTIHUB_SALESFORCE_DEDUP_CLOSED_STATUS {self.closed_status!r} is not a Case Status "
                    f"value (the org has: {', '.join(values)})"
                )
            if closed is not None and self.closed_status not in closed:
                raise ConfigError(
                    f"Case Status {self.closed_status!r} does not close a case (closed: {', '.join(closed)})"
                )
            self._closed = self.closed_status
        elif closed is not None and len(closed) == 1:
            self._closed = closed[0]
        else:
            listed = f" (closed statuses: {', '.join(closed)})" if closed else ""
            raise ConfigError(
                "set CTIHUB_SALESFORCE_DEDUP_CLOSED_STATUS to the Case Status a merged duplicate gets"
                + listed
            )
        return self._closed

    @staticmethod
    def _closed_statuses(sf: Salesforce) -> list[str] | None:
        """The org's closed Case statuses (``CaseStatus.IsClosed``), or None when it cannot say."""
        try:
            with translated():
                records = sf.query_all("SELECT MasterLabel FROM CaseStatus WHERE IsClosed = true").get(
                    "records"
                )
        except CrmRecordRejected:
            return None  # e.g. INVALID_TYPE where CaseStatus is not exposed (the sandbox)
        return [str(r["MasterLabel"]) for r in records or () if r.get("MasterLabel")]

    def _status_values(self, sf: Salesforce) -> list[str]:
        fields = getattr(sf, self.case_object).describe().get("fields") or []
        status = next((f for f in fields if f.get("name") == "Status"), {})
        return [str(v["value"]) for v in status.get("picklistValues") or () if v.get("active", True)]

    def _open_case(self, record: dict[str, Any]) -> OpenCase:
        return OpenCase(
            crm=CRM,
            object=self.case_object,
            id=str(record["Id"]),
            status=str(record.get("Status")),
            created_at=_when(record.get("CreatedDate")),
            person_id=record.get("ContactId"),
            hub_key=record.get(self.key_field),
            intent=record.get(self.intent_field),
            subject=record.get("Subject"),
            parent_id=record.get("ParentId"),
            url=f"{self.settings.instance_url}/lightning/r/{self.case_object}/{record['Id']}/view"
            if self.settings.instance_url
            else None,
        )


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    value = text.replace("Z", "+00:00")
    if len(value) >= 5 and value[-5] in "+-" and ":" not in value[-5:]:
        value = value[:-2] + ":" + value[-2:]
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
