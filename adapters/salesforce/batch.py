"""Many outcomes in two Composite calls, with sObject Collections inside (``SalesforceCRM.write_batch``).

    call 1  POST composite  (allOrNone false)
              caseUpserts<n>  PATCH composite/sobjects/<Case>/<case key field>   new cases, by episode key,
                                                                                 with the case fields of
                                                                                 the events joining them
              caseUpdates<n>  PATCH composite/sobjects                           mapped case fields of
                                                                                 appends, one record per case
    call 2  POST composite  (allOrNone false)
              tasks<n>        PATCH composite/sobjects/<Task>/<activity key>     every outcome whose case
                                                                                 was written, WhatId from
                                                                                 call 1 for new cases (and
                                                                                 for the events joining one)

Each collection holds at most 200 records and a composite at most 5 collections (more records, more
composites; each composite counts as one call against the org's quota). Collections run with
``allOrNone: false``, so every record gets its own result: a rejected record fails its outcome alone
with Salesforce's errorCode, through the same ``errors.TABLE`` as a single call. A task is sent only
after its case was written, so no activity lands without its case, as in the single call's
``allOrNone`` composite. A case update merged from several outcomes that is rejected fails them as
retryable: a retry takes the single path, where only the culprit is rejected. A collection that
fails as a whole (a subrequest answering 4xx/5xx) fails each of its outcomes with that error; a call
that fails as a whole raises. Upserts by External ID and updates are idempotent, so a repeated batch
writes nothing twice.

Why not one call with references: ``@{caseUpserts0[3].id}`` would tie every new case's task to the
whole collection, and one rejected case would halt the tasks of all the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.domain.errors import CrmError, CrmRetryable, CrmWriteNotSent
from hub.ports import BatchWrite, LinkResult, RecordRef

from .errors import CRM, from_answer, from_record_errors

if TYPE_CHECKING:
    from .crm import SalesforceCRM

COLLECTION_LIMIT = 200  # records per sObject Collections request
HEAVY_PER_COMPOSITE = 5  # sObject Collections (or query) subrequests per Composite
# Sends one Composite request's subrequests; returns its ``compositeResponse``.
Composite = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass
class _Collection:
    """One sObject Collections subrequest and, for each record, the writes it answers for."""

    reference: str
    url: str
    sobject: str
    records: list[dict[str, Any]] = field(default_factory=list)
    owners: list[list[int]] = field(default_factory=list)  # indexes of the writes per record


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CollectionsBatch:
    """The writes of one batch, their records, and what Salesforce answered for each."""

    def __init__(self, crm: SalesforceCRM, writes: Sequence[BatchWrite]) -> None:
        self.crm = crm
        self.writes = writes
        self.results: list[LinkResult | Exception | None] = [None] * len(writes)
        self.cases: dict[int, RecordRef] = {}  # write index -> its case (new or known)
        self.tasks: dict[int, RecordRef] = {}

    def run(self, call: Composite) -> list[LinkResult | Exception]:
        crm = self.crm
        creates = [i for i, w in enumerate(self.writes) if w.case is not None]
        appends = [i for i, w in enumerate(self.writes) if w.case is None and w.joins is None]
        joining = self._joining(creates)
        for index in appends:
            case_id = self.writes[index].case_id or ""
            self.cases[index] = RecordRef(CRM, crm.case_object, case_id, False)
        first = [
            *self._collections(
                "caseUpserts", crm.case_object, crm.case_key_field, self._new_cases(creates, joining)
            ),
            *self._collections("caseUpdates", crm.case_object, None, self._case_updates(appends)),
        ]
        self._send(first, call)
        # Tasks only for cases that were written (and updated): never an activity without its case.
        placed = [i for i in range(len(self.writes)) if i in self.cases and self.results[i] is None]
        self._send(
            self._collections("tasks", crm.activity_object, crm.activity_key_field, self._tasks(placed)), call
        )
        for index in range(len(self.writes)):
            if self.results[index] is None:
                if index in self.cases and index in self.tasks:
                    self.results[index] = LinkResult(case=self.cases[index], activity=self.tasks[index])
                else:
                    self.results[index] = CrmRetryable(
                        "Salesforce's batch answer left this record out", crm=CRM
                    )
        return [r for r in self.results if r is not None]

    # -- records -----------------------------------------------------------------------------------

    def _joining(self, creates: list[int]) -> dict[int, list[int]]:
        """The writes that join each new case (``BatchWrite.joins``), in order. One that names no
        creating write of this batch is answered unsent (the linker never builds one)."""
        joining: dict[int, list[int]] = {index: [] for index in creates}
        for index, write in enumerate(self.writes):
            if write.joins is None:
                continue
            if write.joins in joining:
                joining[write.joins].append(index)
            else:
                self.results[index] = CrmWriteNotSent(
                    "the case this write joins is not created in its batch", crm=CRM
                )
        return joining

    def _new_cases(
        self, indexes: list[int], joining: Mapping[int, list[int]]
    ) -> list[tuple[list[int], dict[str, Any]]]:
        """One record per new case; the events joining it add their case fields (later events'
        values win, as they would one by one), and its id answers for them all."""
        crm = self.crm
        records = []
        for index in indexes:
            write = self.writes[index]
            assert write.case is not None
            record = {crm.case_key_field: write.case.key, **crm.case_fields_for(write.case, write.activity)}
            for joiner in joining.get(index, []):
                record.update(crm.case_update_fields(self.writes[joiner].activity))
            records.append(([index, *joining.get(index, [])], record))
        return records

    def _case_updates(self, indexes: list[int]) -> list[tuple[list[int], dict[str, Any]]]:
        """One record per case: Salesforce refuses the same id twice in a collection; later events'
        values win, as they would one by one."""
        merged: dict[str, tuple[list[int], dict[str, Any]]] = {}
        for index in indexes:
            write = self.writes[index]
            fields = self.crm.case_update_fields(write.activity)
            if not fields:
                continue
            owners, record = merged.setdefault(write.case_id or "", ([], {"Id": write.case_id}))
            owners.append(index)
            record.update(fields)
        return list(merged.values())

    def _tasks(self, indexes: list[int]) -> list[tuple[list[int], dict[str, Any]]]:
        crm = self.crm
        records = []
        for index in indexes:
            activity = self.writes[index].activity
            fields = crm.task_fields_for(activity, self.cases[index].id)
            records.append(([index], {crm.activity_key_field: activity.key, **fields}))
        return records

    def _collections(
        self,
        name: str,
        sobject: str,
        key_field: str | None,
        records: list[tuple[list[int], dict[str, Any]]],
    ) -> list[_Collection]:
        path = f"{self.crm.data_path}/composite/sobjects"
        url = f"{path}/{sobject}/{key_field}" if key_field else path
        collections = []
        for number, chunk in enumerate(_chunks(records, COLLECTION_LIMIT)):
            collection = _Collection(f"{name}{number}", url, sobject)
            for owners, record in chunk:
                collection.records.append({"attributes": {"type": sobject}, **record})
                collection.owners.append(owners)
            collections.append(collection)
        return collections

    # -- calls and answers -------------------------------------------------------------------------

    def _send(self, collections: list[_Collection], call: Composite) -> None:
        for group in _chunks(collections, HEAVY_PER_COMPOSITE):
            subrequests = [
                {
                    "method": "PATCH",
                    "url": c.url,
                    "referenceId": c.reference,
                    "body": {"allOrNone": False, "records": c.records},
                }
                for c in group
            ]
            entries = {str(e.get("referenceId")): e for e in call(subrequests)}
            for collection in group:
                self._read(collection, entries.get(collection.reference))

    def _read(self, collection: _Collection, entry: Mapping[str, Any] | None) -> None:
        status = int(entry.get("httpStatusCode") or 0) if entry else 0
        body = entry.get("body") if entry else None
        readable = isinstance(body, list) and len(body) == len(collection.records)
        if entry is None or status >= 300 or not readable:
            failure: CrmError = (
                from_answer(status, body, entry.get("httpHeaders"))
                if entry is not None and status >= 300
                else CrmRetryable(f"{collection.sobject}: unreadable batch answer", crm=CRM, status=status)
            )
            for owners in collection.owners:
                self._fail(owners, failure)
            return
        for owners, item in zip(collection.owners, body, strict=True):
            if not isinstance(item, dict) or not item.get("success") or not item.get("id"):
                errors = item.get("errors") if isinstance(item, dict) else None
                failure = from_record_errors(errors, collection.sobject)
                if len(owners) > 1 and not isinstance(failure, CrmRetryable):  # which one's value?
                    failure = CrmRetryable(
                        f"{failure.describe()} (a case update merged from {len(owners)} outcomes; "
                        "each is retried alone)",
                        crm=CRM,
                        crm_code=failure.crm_code,
                    )
                self._fail(owners, failure)
                continue
            ref = RecordRef(CRM, collection.sobject, str(item["id"]), bool(item.get("created")))
            for index in owners:
                if collection.reference.startswith("caseUpserts"):  # a joiner gets its creator's answer:
                    self.cases[index] = ref  # the linker records its own event as an append
                elif collection.reference.startswith("tasks"):
                    self.tasks[index] = ref

    def _fail(self, owners: list[int], failure: CrmError) -> None:
        for index in owners:
            if self.results[index] is None:
                self.results[index] = failure
