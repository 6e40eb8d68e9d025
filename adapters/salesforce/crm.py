"""``SalesforceCRM``: the hub's ``CRM`` port over the Salesforce REST API (simple-salesforce).

Writes are upserts by External ID, so repeating one never makes a second record, and each outcome
is ONE round trip (a Composite request counts as one call against the org's quota):

    create_case      POST  composite  allOrNone
                       refCase PATCH sobjects/Case/<case key field>/<episode key>
                                     (CaseWrite.fields, ContactId)
                       refTask PATCH sobjects/Task/<activity key field>/<event key>
                                     (fields, WhatId = @{refCase.id}, WhoId, Subject, Description)
    append_activity  POST  composite  allOrNone         (when the activity carries case fields)
                       refCase PATCH sobjects/Case/<id>                              (case_fields)
                       refTask PATCH sobjects/Task/<activity key field>/<event key>  (WhatId = <id>)
                     PATCH sobjects/Task/<activity key field>/<event key>     (no case fields)
    update_case      PATCH sobjects/Case/<id>                          (fields only: SLA due/status)
    get_case         GET   sobjects/Case/<id>?fields=Id,Status,IsClosed
    describe_objects GET   sobjects/<object>/describe, for the case and activity objects
    routing_targets  POST  composite  two queries: Group (Type = 'Queue'), QueueSobject (see ``queues``)

A new case routed by ``routing.yaml`` (``CaseWrite.routing``) gets ``OwnerId`` = the queue's Id in
its upsert. The upsert updates a case that exists, so a create that may have landed before
(``retrying``) first asks whether the case exists (``SELECT Id ... WHERE <key field> = <key>``) and
then leaves ``OwnerId`` out: a case an agent moved is never reassigned.

A Composite answer is HTTP 200 even when a subrequest failed: each subrequest's own status and
errorCode go through ``errors.TABLE`` (``errors.from_composite``), so the record is retried,
dead-lettered with Salesforce's reason, or the adapter pauses, exactly as for a single call.
``allOrNone`` keeps a Case from being written without its Task.

Around every call:

- authentication (``auth``): the token is minted when first needed and again when old; an
  INVALID_SESSION_ID answer mints a new one and repeats the call once, transparently; a second
  refusal (or a token endpoint's refusal) raises CrmAuthExpired and ``status()`` says
  ``auth_failed``.
- quota: REQUEST_LIMIT_EXCEEDED (403, no Retry-After) pauses the adapter (15 min, doubling up to
  2 h while it keeps coming back); until then every call raises CrmQuotaExhausted at once without
  sending, and ``status()`` says ``quota_exhausted`` with the time it ends.
- retries (``adapters.http.RetryPolicy``): a few quick tries for CrmRetryable failures inside the
  call; anything longer is the worker's. Web requests must use ``crm.without_retries()``: no call
  made for a web request ever waits.

``retrying`` changes nothing here: an upsert is idempotent by nature. Every failure leaves as a
``CrmError`` (see ``errors``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from simple_salesforce import Salesforce

from adapters.http import RetryPolicy, RetryViews, split_batch, write_alone
from hub.domain.errors import (
    CrmAuthExpired,
    CrmError,
    CrmQuotaExhausted,
    CrmRecordRejected,
    CrmRetryable,
    CrmWriteNotSent,
)
from hub.ports import (
    ActivityWrite,
    BatchWrite,
    CaseRecord,
    CaseWrite,
    CrmMetadata,
    CustomerProfile,
    LinkResult,
    RecordRef,
    RoutingTarget,
)

from . import auth, client
from .batch import CollectionsBatch
from .errors import CRM, QUOTA_CODE, from_composite, translated

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_CASE_OBJECT = "Case"
DEFAULT_ACTIVITY_OBJECT = "Task"
DEFAULT_CASE_KEY_FIELD = "CTI_Hub_Key__c"
DEFAULT_ACTIVITY_KEY_FIELD = "CTI_Hub_Event_Key__c"
CONTACT_ID = "salesforce_contact"  # CustomerProfile.external_ids key holding a Contact Id
SUBJECT_MAX = 255
DESCRIPTION_MAX = 32_000
QUOTA_PAUSE = (900.0, 7200.0)  # first pause, longest pause (seconds)
CASE_REF, TASK_REF = "refCase", "refTask"


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


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _OrgState:
    """What every view of one org shares (``without_retries()`` copies share it): the session,
    the token, the client built on it, and the quota and auth state."""

    session: client.SalesforceSession
    authenticator: auth.Authenticator
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: Salesforce | None = None
    token: auth.Token | None = None
    quota_until: float | None = None
    quota_pause: float = 0.0
    not_before: float | None = None  # the last Retry-After (429, 503) ends here
    auth_failure: str | None = None


class SalesforceCRM(RetryViews):
    """One Salesforce org. Connects on the first call, not when built."""

    name = CRM
    joins_batch_cases = True  # a new case's later events ride with it in one batch (``batch``)

    def __init__(
        self,
        settings: client.SalesforceSettings,
        mapping: Any = None,
        *,
        session: Any = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        quota_pause: tuple[float, float] = QUOTA_PAUSE,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        case = getattr(mapping, "case", None)
        activity = getattr(mapping, "activity", None)
        self.case_object: str = getattr(case, "object", None) or DEFAULT_CASE_OBJECT
        self.case_key_field: str = getattr(case, "key_field", None) or DEFAULT_CASE_KEY_FIELD
        self.activity_object: str = getattr(activity, "object", None) or DEFAULT_ACTIVITY_OBJECT
        self.activity_key_field: str = getattr(activity, "key_field", None) or DEFAULT_ACTIVITY_KEY_FIELD
        self.retry = retry or RetryPolicy(attempts=settings.retry_attempts, max_wait=settings.retry_max_wait)
        self.clock = clock
        self.quota_pause = quota_pause
        self._org = _OrgState(
            session=client.session_for(session, timeout),
            authenticator=auth.Authenticator(settings.token_source(), clock),
        )

    def __repr__(self) -> str:
        return f"SalesforceCRM({self.settings.where!r}, auth={self.settings.auth})"

    # -- the CRM port ------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseRecord | None:
        def read(sf: Salesforce, _retrying: bool) -> tuple[dict[str, Any], str]:
            record = getattr(sf, self.case_object).get(
                _segment(case_id), params={"fields": "Id,Status,IsClosed"}
            )
            return record, sf.sf_instance

        try:
            record, instance = self._call(read, retrying=False)
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
            url=f"https://{instance}/lightning/r/{self.case_object}/{record_id}/view",
        )

    def create_case(self, case: CaseWrite, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        def write(sf: Salesforce, again: bool) -> dict[str, dict[str, Any]]:
            fields = self.case_fields_for(case, activity)
            routed = case.owner_id is not None and "OwnerId" not in case.fields
            if again and routed and self._case_exists(sf, case.key):
                fields.pop("OwnerId", None)  # it exists: its owner is the agents' business now
            subrequests = [
                self._upsert_request(CASE_REF, self.case_object, self.case_key_field, case.key, fields),
                self._upsert_request(
                    TASK_REF,
                    self.activity_object,
                    self.activity_key_field,
                    activity.key,
                    self.task_fields_for(activity, f"@{{{CASE_REF}.id}}"),
                ),
            ]
            return self._composite(sf, subrequests)

        answers = self._call(write, retrying=retrying)
        return LinkResult(
            case=self._upserted(answers[CASE_REF], self.case_object),
            activity=self._upserted(answers[TASK_REF], self.activity_object),
        )

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        case_fields = self.case_update_fields(activity)
        task_fields = self.task_fields_for(activity, case_id)
        case_ref = RecordRef(CRM, self.case_object, case_id, False)
        if not case_fields:
            task_ref = self._call(
                lambda sf, _retrying: self._upsert(
                    sf, self.activity_object, self.activity_key_field, activity.key, task_fields
                ),
                retrying=retrying,
            )
            return LinkResult(case=case_ref, activity=task_ref)
        subrequests = [
            {
                "method": "PATCH",
                "url": f"{self.data_path}/sobjects/{self.case_object}/{_segment(case_id)}",
                "referenceId": CASE_REF,
                "body": case_fields,
            },
            self._upsert_request(
                TASK_REF, self.activity_object, self.activity_key_field, activity.key, task_fields
            ),
        ]
        answers = self._call(lambda sf, _retrying: self._composite(sf, subrequests), retrying=retrying)
        return LinkResult(case=case_ref, activity=self._upserted(answers[TASK_REF], self.activity_object))

    def update_case(self, case_id: str, fields: Mapping[str, Any], *, key: str) -> None:
        """PATCH sobjects/<case object>/<id> with the fields alone (204); nothing sent without any."""
        body = self._without_keys(fields, self.case_key_field)
        if not body:
            return
        log.debug("updating %s %s (%s): %s", self.case_object, case_id, key, sorted(body))
        self._call(
            lambda sf, _retrying: getattr(sf, self.case_object).update(_segment(case_id), body),
            retrying=False,
        )

    def write_batch(self, writes: Sequence[BatchWrite]) -> list[LinkResult | Exception]:
        """``hub.ports.BatchingCRM``: first attempts in two Composite calls (see ``batch``); a write
        being retried goes alone, so a record merged with others and rejected finds its culprit."""

        def composite(subrequests: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return self._call(
                lambda sf, _retrying: self._composite_entries(sf, subrequests, all_or_none=False),
                retrying=True,
            )

        # A write being retried goes alone under this view's bounded policy (an upsert repeated is
        # the same record); the first failure that is not its own stops the rest, unsent.
        return split_batch(
            writes,
            alone=lambda write: write_alone(self, write),
            together=lambda fresh: CollectionsBatch(self, fresh).run(composite),
        )

    # -- the records a write sends (shared by the single calls and the batches) --------------------

    def case_fields_for(self, case: CaseWrite, activity: ActivityWrite) -> dict[str, Any]:
        """A new case's fields, with the customer's Contact when the hub knows it."""
        fields = self._without_keys(case.fields, self.case_key_field)
        contact = _contact_id(case.customer, activity.customer)
        if contact and "ContactId" not in fields:
            fields["ContactId"] = contact
        if case.owner_id is not None and "OwnerId" not in fields:  # routing.yaml's queue
            fields["OwnerId"] = case.owner_id
        return fields

    def _case_exists(self, sf: Salesforce, key: str) -> bool:
        from .queues import case_exists_soql

        return bool(sf.query(case_exists_soql(self.case_object, self.case_key_field, key)).get("totalSize"))

    def case_update_fields(self, activity: ActivityWrite) -> dict[str, Any]:
        """The mapped case fields an appended activity updates on its case."""
        return self._without_keys(activity.case_fields, self.case_key_field)

    def task_fields_for(self, activity: ActivityWrite, what_id: str) -> dict[str, Any]:
        """The activity record: mapped fields, WhatId, WhoId, Subject and Description."""
        fields = self._without_keys(activity.fields, self.activity_key_field)
        fields["WhatId"] = what_id
        contact = _contact_id(activity.customer)
        if contact and "WhoId" not in fields:
            fields["WhoId"] = contact
        first_line = next((line.strip() for line in activity.body.splitlines() if line.strip()), "")
        if first_line:
            fields.setdefault("Subject", _truncate(first_line, SUBJECT_MAX))
        if activity.body:
            fields.setdefault("Description", _truncate(activity.body, DESCRIPTION_MAX))
        return fields

    @property
    def data_path(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    # -- metadata and state ---------------------------------------------------------------------------

    def describe_objects(self) -> dict[str, dict[str, Any] | None]:
        """The describe JSON of the mapped objects (case, activity); None for one that does not exist."""
        described: dict[str, dict[str, Any] | None] = {}
        for name in dict.fromkeys((self.case_object, self.activity_object)):

            def describe(sf: Salesforce, _retrying: bool, name: str = name) -> Any:
                return getattr(sf, name).describe()

            try:
                found = self._call(describe, retrying=False)
            except CrmRecordRejected as exc:
                if exc.status != 404:
                    raise
                found = None
            described[name] = found if isinstance(found, dict) else None
        return described

    def metadata(self) -> CrmMetadata:
        """``hub.ports.MetadataSource``: the describes ``ctihub crm check`` works on."""
        return CrmMetadata(crm=CRM, objects=self.describe_objects())

    def routing_targets(self) -> list[RoutingTarget]:
        """``hub.ports.RoutingSource``: every queue, and whether it supports the case object (one
        Composite of two queries; see ``queues``)."""
        from .queues import read_queues

        def composite(subrequests: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return self._call(
                lambda sf, _retrying: self._composite_entries(sf, subrequests, all_or_none=False),
                retrying=False,
            )

        def more(url: str) -> Any:
            return self._call(
                lambda sf, _retrying: sf.query_more(url, identifier_is_url=True), retrying=False
            )

        return read_queues(composite, more, self.data_path, self.case_object)

    def status(self) -> dict[str, Any]:
        """What operations should see, without calling Salesforce: ``state`` is ``ok``,
        ``quota_exhausted`` (with ``until``) or ``auth_failed`` (with ``reason``); ``api_usage`` is
        the last ``Sforce-Limit-Info`` seen."""
        now = self.clock()
        org = self._org
        with org.lock:
            quota_until, failure = org.quota_until, org.auth_failure
        usage = org.session.api_usage
        state, until, reason = "ok", None, None
        if quota_until is not None and now < quota_until:
            state, until, reason = "quota_exhausted", quota_until, "REQUEST_LIMIT_EXCEEDED"
        elif failure is not None:
            state, reason = "auth_failed", failure
        return {
            "crm": CRM,
            "state": state,
            "until": _iso(until),
            "reason": reason,
            "auth": self.settings.auth,
            "api_usage": {"used": usage[0], "max": usage[1]} if usage else None,
            "retries_in_call": self.retry.attempts - 1,
        }

    # -- around every call ----------------------------------------------------------------------------

    def _call(self, work: Callable[[Salesforce, bool], T], *, retrying: bool) -> T:
        """Run ``work(sf, retrying)`` with the quota check, the token, and the retry policy."""

        def attempt(number: int) -> T:
            self._refuse_while_paused()
            try:
                result = self._signed_in(lambda sf: work(sf, retrying or number > 1))
            except CrmQuotaExhausted as exc:
                self._pause(exc)
                raise
            except CrmRetryable as exc:
                if exc.retry_after is not None:
                    with self._org.lock:
                        self._org.not_before = self.clock() + exc.retry_after
                raise
            self._succeeded()
            return result

        return self.retry.call(attempt)

    def _signed_in(self, work: Callable[[Salesforce], T]) -> T:
        """``work`` with the current token; on INVALID_SESSION_ID, once more with a new one."""
        sf, token = self._connection()
        try:
            with translated():
                return work(sf)
        except CrmAuthExpired as exc:
            if not self._org.authenticator.renewable:
                self._auth_failed(exc)
                raise
            log.info("Salesforce refused the session (%s); minting a new token", exc.crm_code or exc.status)
        sf, token = self._connection(stale=token)
        try:
            with translated():
                return work(sf)
        except CrmAuthExpired as exc:
            self._auth_failed(exc)
            raise

    def _connection(self, stale: auth.Token | None = None) -> tuple[Salesforce, auth.Token]:
        org = self._org
        try:
            with translated(), org.lock:
                if stale is not None:
                    token = org.authenticator.renew(org.session, stale)
                else:
                    token = org.authenticator.token(org.session)
                if org.client is None or org.token is not token:
                    org.client = client.client_for(self.settings, org.session, token)
                    org.token = token
                return org.client, token
        except CrmAuthExpired as exc:
            self._auth_failed(exc)
            raise

    def _client(self) -> Salesforce:
        return self._connection()[0]

    def _auth_failed(self, exc: CrmError) -> None:
        org = self._org
        with org.lock:
            org.auth_failure = exc.describe()
            org.client = None
            org.token = None
        org.authenticator.forget()
        log.warning("Salesforce authentication failed: %s", exc.describe())

    def _succeeded(self) -> None:
        org = self._org
        with org.lock:
            org.auth_failure = None
            org.quota_until = None
            org.quota_pause = 0.0

    def _refuse_while_paused(self) -> None:
        """No call while the quota pause lasts, nor before the last Retry-After has passed."""
        now = self.clock()
        with self._org.lock:
            until, not_before = self._org.quota_until, self._org.not_before
        if until is not None and now < until:
            raise CrmQuotaExhausted(
                f"the org's API quota is exhausted; no Salesforce calls until {_iso(until)}",
                crm=CRM,
                crm_code=QUOTA_CODE,
                retry_after=until - now,
            )
        if not_before is not None and now < not_before:  # nothing sent: no attempt charged
            raise CrmWriteNotSent(
                f"Salesforce asked for no calls until {_iso(not_before)} (Retry-After)",
                crm=CRM,
                retry_after=not_before - now,
            )

    def _pause(self, exc: CrmQuotaExhausted) -> None:
        """REQUEST_LIMIT_EXCEEDED: no call for a while (doubling while it keeps coming back)."""
        first, longest = self.quota_pause
        org = self._org
        now = self.clock()
        with org.lock:
            if org.quota_until is not None and now < org.quota_until:  # another thread paused it
                pause = org.quota_until - now
            else:
                org.quota_pause = min(longest, org.quota_pause * 2) if org.quota_pause else first
                org.quota_until = now + org.quota_pause
                pause = org.quota_pause
                log.warning(
                    "Salesforce API quota exhausted (%s); no calls for %.0f s, until %s",
                    exc.crm_code,
                    pause,
                    _iso(org.quota_until),
                )
        if exc.retry_after is None or exc.retry_after < pause:
            exc.retry_after = pause

    # -- requests -------------------------------------------------------------------------------------

    @staticmethod
    def _without_keys(fields: Mapping[str, Any], key_field: str) -> dict[str, Any]:
        # Salesforce rejects Id and the External ID field in an upsert or update body.
        return {k: v for k, v in fields.items() if k not in ("Id", key_field)}

    def _upsert_request(
        self, reference: str, sobject: str, key_field: str, key: str, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "method": "PATCH",
            "url": f"{self.data_path}/sobjects/{sobject}/{key_field}/{_segment(key)}",
            "referenceId": reference,
            "body": self._without_keys(fields, key_field),
        }

    def _composite(self, sf: Salesforce, subrequests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """One Composite call; the answer of each subrequest by referenceId, or the table's error."""
        entries = self._composite_entries(sf, subrequests, all_or_none=True)
        names = {
            CASE_REF: self.case_object,
            TASK_REF: self.activity_object,
        }
        failure = from_composite(entries, names)
        if failure is not None:
            raise failure
        by_reference = {str(e.get("referenceId")): e for e in entries}
        missing = [s["referenceId"] for s in subrequests if s["referenceId"] not in by_reference]
        if missing:
            raise CrmRetryable(f"Salesforce's composite answer lacks {', '.join(missing)}", crm=CRM)
        return by_reference

    @staticmethod
    def _composite_entries(
        sf: Salesforce, subrequests: list[dict[str, Any]], *, all_or_none: bool
    ) -> list[dict[str, Any]]:
        answer = sf.restful(
            "composite", method="POST", json={"allOrNone": all_or_none, "compositeRequest": subrequests}
        )
        entries = answer.get("compositeResponse") if isinstance(answer, dict) else None
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise CrmRetryable("Salesforce answered a composite request without compositeResponse", crm=CRM)
        return entries

    @staticmethod
    def _upserted(entry: Mapping[str, Any], sobject: str) -> RecordRef:
        """201 created, 200 updated; the id is in the body from API 46.0."""
        status = int(entry.get("httpStatusCode") or 0)
        body = entry.get("body")
        record_id = body.get("id") if isinstance(body, dict) else None
        if not record_id:
            raise CrmRetryable(f"{sobject} upsert answered without an id", crm=CRM, status=status)
        return RecordRef(CRM, sobject, str(record_id), status == 201)

    def _upsert(self, sf: Salesforce, sobject: str, key_field: str, key: str, fields: Any) -> RecordRef:
        """PATCH by External ID: 201 created, 200 updated (with the id from API 46.0)."""
        path = f"{key_field}/{_segment(key)}"
        response = getattr(sf, sobject).upsert(path, self._without_keys(fields, key_field), raw_response=True)
        answer = response.json() if response.content else None
        return self._upserted({"httpStatusCode": response.status_code, "body": answer}, sobject)

    # -- the customer's do-not-contact flags ----------------------------------------------------------

    def opt_outs(self, profile: CustomerProfile) -> Any:
        """``hub.ports.CrmConsentSource``: the ``hub.ports.CrmOptOuts`` of the customer's Contacts
        (DoNotCall, HasOptedOutOfEmail); the queries are in ``adapters.salesforce.consent``."""
        from .consent import read_opt_outs

        def query(soql: str) -> Any:
            return self._call(lambda sf, _retrying: sf.query_all(soql), retrying=False)

        return read_opt_outs(query, profile)
