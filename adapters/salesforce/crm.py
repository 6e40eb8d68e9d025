"""``SalesforceCRM``: the hub's ``CRM`` port over the Salesforce REST API (simple-salesforce).

Writes are upserts by External ID, so repeating one never makes a second record:

    create_case      PATCH sobjects/Case/<case key field>/<episode key>   (CaseWrite.fields, ContactId)
                     PATCH sobjects/Task/<activity key field>/<event key> (fields, WhatId, WhoId, ...)
    append_activity  PATCH sobjects/Case/<id>                              (case_fields; skipped if none)
                     PATCH sobjects/Task/<activity key field>/<event key>
    get_case         GET   sobjects/Case/<id>?fields=Id,Status,IsClosed

``retrying`` changes nothing here: an upsert is idempotent by nature. Every failure leaves as a
``CrmError`` (see ``errors``); nothing is retried in here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from simple_salesforce import Salesforce

from hub.domain.errors import CrmAuthExpired, CrmRecordRejected, CrmRetryable
from hub.ports import ActivityWrite, CaseRecord, CaseWrite, CustomerProfile, LinkResult, RecordRef

from . import client
from .errors import CRM, translated

DEFAULT_CASE_OBJECT = "Case"
DEFAULT_ACTIVITY_OBJECT = "Task"
DEFAULT_CASE_KEY_FIELD = "CTI_Hub_Key__c"
DEFAULT_ACTIVITY_KEY_FIELD = "CTI_Hub_Event_Key__c"
CONTACT_ID = "salesforce_contact"  # CustomerProfile.external_ids key holding a Contact Id
SUBJECT_MAX = 255
DESCRIPTION_MAX = 32_000


def _segment(value: str) -> str:
    """One URL path segment: simple-salesforce joins ids into URLs without quoting them."""
    return quote(value, safe="")


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _contact_id(*customers: CustomerProfile | None) -> str | None:
    for customer in customers:
        if customer is not None and customer.external_ids.get(CONTACT_ID):
            return customer.external_ids[CONTACT_ID]
    return None


class SalesforceCRM:
    """One Salesforce org. Connects on the first call, not when built."""

    name = CRM

    def __init__(
        self,
        settings: client.SalesforceSettings,
        mapping: Any = None,
        *,
        session: Any = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self._transport = session
        case = getattr(mapping, "case", None)
        activity = getattr(mapping, "activity", None)
        self.case_object: str = getattr(case, "object", None) or DEFAULT_CASE_OBJECT
        self.case_key_field: str = getattr(case, "key_field", None) or DEFAULT_CASE_KEY_FIELD
        self.activity_object: str = getattr(activity, "object", None) or DEFAULT_ACTIVITY_OBJECT
        self.activity_key_field: str = getattr(activity, "key_field", None) or DEFAULT_ACTIVITY_KEY_FIELD
        self._lock = threading.Lock()
        self._sf: Salesforce | None = None

    def __repr__(self) -> str:
        return f"SalesforceCRM({self.settings.instance_url or 'legacy login'!r})"

    # -- the CRM port ------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseRecord | None:
        try:
            with self._calls() as sf:
                record = getattr(sf, self.case_object).get(
                    _segment(case_id), params={"fields": "Id,Status,IsClosed"}
                )
        except CrmRecordRejected as exc:
            if exc.status == 404:
                return None
            raise
        record_id = str(record.get("Id") or case_id)
        return CaseRecord(
            crm=CRM,
            object=self.case_object,
            id=record_id,
            is_open=not record.get("IsClosed", False),
            url=f"https://{sf.sf_instance}/lightning/r/{self.case_object}/{record_id}/view",
        )

    def create_case(self, case: CaseWrite, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        contact = _contact_id(case.customer, activity.customer)
        fields = dict(case.fields)
        if contact and "ContactId" not in fields:
            fields["ContactId"] = contact
        with self._calls() as sf:
            case_ref = self._upsert(sf, self.case_object, self.case_key_field, case.key, fields)
            task_ref = self._upsert_task(sf, case_ref.id, activity, contact)
        return LinkResult(case=case_ref, activity=task_ref)

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        contact = _contact_id(activity.customer)
        with self._calls() as sf:
            case_fields = self._without_keys(activity.case_fields, self.case_key_field)
            if case_fields:
                getattr(sf, self.case_object).update(_segment(case_id), case_fields)
            task_ref = self._upsert_task(sf, case_id, activity, contact)
        return LinkResult(case=RecordRef(CRM, self.case_object, case_id, False), activity=task_ref)

    # -- inside --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _calls(self) -> Iterator[Salesforce]:
        """``with self._calls() as sf:`` gives the lazy client; every failure leaves as a CrmError.

        An expired session drops the client, so the next call builds a new one (and a legacy
        login logs in again).
        """
        try:
            with translated():
                yield self._client()
        except CrmAuthExpired:
            self._forget_session()
            raise

    def _client(self) -> Salesforce:
        with self._lock:
            if self._sf is None:
                self._sf = client.connect(self.settings, self._transport, self.timeout)
            return self._sf

    def _forget_session(self) -> None:
        with self._lock:
            self._sf = None

    def _upsert_task(
        self, sf: Salesforce, case_id: str, activity: ActivityWrite, contact: str | None
    ) -> RecordRef:
        fields = dict(activity.fields)
        fields["WhatId"] = case_id
        if contact and "WhoId" not in fields:
            fields["WhoId"] = contact
        first_line = next((line.strip() for line in activity.body.splitlines() if line.strip()), "")
        if first_line:
            fields.setdefault("Subject", _truncate(first_line, SUBJECT_MAX))
        if activity.body:
            fields.setdefault("Description", _truncate(activity.body, DESCRIPTION_MAX))
        return self._upsert(sf, self.activity_object, self.activity_key_field, activity.key, fields)

    @staticmethod
    def _without_keys(fields: Any, key_field: str) -> dict[str, Any]:
        # Salesforce rejects Id and the External ID field in an upsert or update body.
        return {k: v for k, v in fields.items() if k not in ("Id", key_field)}

    def _upsert(self, sf: Salesforce, sobject: str, key_field: str, key: str, fields: Any) -> RecordRef:
        """PATCH by External ID: 201 created, 200 updated (204 before API 46.0, without a body)."""
        path = f"{key_field}/{_segment(key)}"
        handler = getattr(sf, sobject)
        response = handler.upsert(path, self._without_keys(fields, key_field), raw_response=True)
        created = response.status_code == 201
        record_id = None
        if response.status_code != 204 and response.content:
            answer = response.json()
            if isinstance(answer, dict):
                record_id = answer.get("id")
        if not record_id:  # an old API version answered 204: ask for the Id
            record_id = handler.get(path, params={"fields": "Id"}).get("Id")
        if not record_id:
            raise CrmRetryable(
                f"{sobject} upsert answered without an id", crm=CRM, status=response.status_code
            )
        return RecordRef(CRM, sobject, str(record_id), created)
