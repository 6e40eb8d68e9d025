"""``SalesforceCRM.write_batch``: the exact Composite requests (sObject Collections inside) and how
each record's answer becomes its own result. Answer shapes follow Salesforce's documented
UpsertResult/SaveResult arrays inside a ``compositeResponse`` (see crm-facts.md §5.2)."""

from __future__ import annotations

import json
from typing import Any

import responses
from responses import matchers

from adapters.http import split_batch
from adapters.salesforce import SalesforceCRM
from hub.domain.errors import CrmRecordRejected, CrmRetryable, CrmWriteNotSent
from hub.ports import ActivityWrite, BatchWrite, CaseWrite, LinkResult, RecordRef
from tests.adapters.test_salesforce import (
    BODY,
    CASE_ID,
    CONTACT_ID,
    CUSTOMER,
    EPISODE,
    EVENT,
    INSTANCE,
    TASK_ID,
    activity_write,
    case_write,
)
from tests.adapters.test_salesforce import crm as crm_fixture
from tests.adapters.test_salesforce import mapping as mapping_fixture

crm, mapping = crm_fixture, mapping_fixture  # the Salesforce adapter tests' fixtures, by name

COMPOSITE = f"{INSTANCE}/services/data/v59.0/composite"
COLLECTIONS = "/services/data/v59.0/composite/sobjects"
SOBJECTS = "/services/data/v59.0/sobjects"
NEW_CASE_ID = "5005g00000NeWCaSEAA1"
NEW_TASK_ID = "00T5g00000NeWTaSKAA1"
OTHER_EPISODE = "ep_01JAB3XKQ7T9ZC4M2N6P8R0S2W"
OTHER_EVENT = "ev_" + "1e" * 16
APPENDED_EVENT = "ev_" + "2d" * 16


def composite(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"compositeResponse": list(entries)}


def entry(reference: str, body: Any, status: int = 200) -> dict[str, Any]:
    return {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}


def task_record(key: str, what_id: str) -> dict[str, Any]:
    return {
        "attributes": {"type": "Task"},
        "CTI_Hub_Event_Key__c": key,
        "CallDisposition": "PW_RESET_OK",
        "Status": "Completed",
        "TaskSubtype": "Task",
        "WhatId": what_id,
        "WhoId": CONTACT_ID,
        "Subject": "Chat · Password reset done (PW_RESET_OK)",
        "Description": BODY,
    }


def case_record(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "Case"},
        "CTI_Hub_Key__c": key,
        "Subject": "Chat · Password reset",
        "Origin": "Chat",
        "Priority": "Medium",
        **fields,
        "ContactId": CONTACT_ID,
    }


def writes() -> list[BatchWrite]:
    bad = CaseWrite(
        key=OTHER_EPISODE, fields={**case_write().fields, "Origin": "Carrier pigeon"}, customer=CUSTOMER
    )
    return [
        BatchWrite(case=case_write(), activity=activity_write(case_fields={})),
        BatchWrite(case=bad, activity=activity_write(key=OTHER_EVENT, case_fields={})),
        BatchWrite(case_id=CASE_ID, activity=activity_write(key=APPENDED_EVENT)),
    ]


def pin(mocked: responses.RequestsMock, subrequests: list[dict[str, Any]], answer: dict[str, Any]) -> None:
    mocked.add(
        responses.POST,
        COMPOSITE,
        json=answer,
        match=[
            matchers.json_params_matcher(
                {"allOrNone": False, "compositeRequest": subrequests}, strict_match=True
            )
        ],
    )


def collection(reference: str, path: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "method": "PATCH",
        "url": f"{COLLECTIONS}{path}",
        "referenceId": reference,
        "body": {"allOrNone": False, "records": records},
    }


def ok(record_id: str, created: bool | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
    return answer if created is None else {**answer, "created": created}


def rejected_record(code: str, message: str, *fields: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": list(fields)}]}


PICKLIST = (
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    "Origin: bad value for restricted picklist field: Carrier pigeon",
)


def test_a_batch_is_two_composite_calls_and_each_record_gets_its_own_result(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    """Call 1 writes the cases (new ones upserted by episode key, known ones updated); call 2 the
    tasks of the cases that were written: the rejected case gets no task."""
    pin(
        mocked,
        [
            collection(
                "caseUpserts0",
                "/Case/CTI_Hub_Key__c",
                [case_record(EPISODE), case_record(OTHER_EPISODE, Origin="Carrier pigeon")],
            ),
            collection(
                "caseUpdates0", "", [{"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "Working"}]
            ),
        ],
        composite(
            entry("caseUpserts0", [ok(NEW_CASE_ID, True), rejected_record(*PICKLIST, "Origin")]),
            entry("caseUpdates0", [ok(CASE_ID)]),
        ),
    )
    pin(
        mocked,
        [
            collection(
                "tasks0",
                "/Task/CTI_Hub_Event_Key__c",
                [task_record(EVENT, NEW_CASE_ID), task_record(APPENDED_EVENT, CASE_ID)],
            )
        ],
        composite(entry("tasks0", [ok(NEW_TASK_ID, True), ok(TASK_ID, True)])),
    )

    created, rejected, appended = crm.write_batch(writes())

    assert created == LinkResult(
        case=RecordRef("salesforce", "Case", NEW_CASE_ID, True),
        activity=RecordRef("salesforce", "Task", NEW_TASK_ID, True),
    )
    assert isinstance(rejected, CrmRecordRejected)
    assert rejected.crm_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert "Carrier pigeon" in rejected.message
    assert appended == LinkResult(
        case=RecordRef("salesforce", "Case", CASE_ID, False),
        activity=RecordRef("salesforce", "Task", TASK_ID, True),
    )


def test_appends_to_one_case_update_it_once_with_the_later_values(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    first = BatchWrite(
        case_id=CASE_ID, activity=activity_write(case_fields={"Status": "Working", "Priority": "Low"})
    )
    later = BatchWrite(
        case_id=CASE_ID, activity=activity_write(key=APPENDED_EVENT, case_fields={"Status": "Escalated"})
    )
    merged = {"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "Escalated", "Priority": "Low"}
    pin(mocked, [collection("caseUpdates0", "", [merged])], composite(entry("caseUpdates0", [ok(CASE_ID)])))
    pin(
        mocked,
        [
            collection(
                "tasks0",
                "/Task/CTI_Hub_Event_Key__c",
                [task_record(EVENT, CASE_ID), task_record(APPENDED_EVENT, CASE_ID)],
            )
        ],
        composite(entry("tasks0", [ok(TASK_ID, True), ok(NEW_TASK_ID, False)])),
    )

    results = crm.write_batch([first, later])

    assert [r.activity.id for r in results if isinstance(r, LinkResult)] == [TASK_ID, NEW_TASK_ID]


def test_a_rejected_merged_update_is_retried_alone_and_only_its_culprit_is_rejected(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    good = BatchWrite(case_id=CASE_ID, activity=activity_write(case_fields={"Status": "Working"}))
    bad = BatchWrite(
        case_id=CASE_ID, activity=activity_write(key=APPENDED_EVENT, case_fields={"Origin": "Carrier pigeon"})
    )
    merged = {"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "Working", "Origin": "Carrier pigeon"}
    pin(
        mocked,
        [collection("caseUpdates0", "", [merged])],
        composite(entry("caseUpdates0", [rejected_record(*PICKLIST, "Origin")])),
    )

    first = crm.write_batch([good, bad])

    assert [type(r).__name__ for r in first] == ["CrmRetryable", "CrmRetryable"]  # no task was sent
    assert "each is retried alone" in str(first[0])

    def single(event: str, fields: dict[str, Any], answer: dict[str, Any]) -> None:
        mocked.add(
            responses.POST,
            COMPOSITE,
            json=answer,
            match=[
                matchers.json_params_matcher(
                    {
                        "allOrNone": True,
                        "compositeRequest": [
                            {
                                "method": "PATCH",
                                "url": f"{SOBJECTS}/Case/{CASE_ID}",
                                "referenceId": "refCase",
                                "body": fields,
                            },
                            {
                                "method": "PATCH",
                                "url": f"{SOBJECTS}/Task/CTI_Hub_Event_Key__c/{event}",
                                "referenceId": "refTask",
                                "body": {
                                    k: v
                                    for k, v in task_record(event, CASE_ID).items()
                                    if k not in ("attributes", "CTI_Hub_Event_Key__c")
                                },
                            },
                        ],
                    },
                    strict_match=True,
                )
            ],
        )

    single(
        EVENT,
        {"Status": "Working"},
        composite(entry("refCase", None, 204), entry("refTask", ok(TASK_ID, True), 201)),
    )
    halted = [
        {
            "errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same "
            "transaction failed.",
        }
    ]
    single(
        APPENDED_EVENT,
        {"Origin": "Carrier pigeon"},
        composite(
            entry("refCase", [{"errorCode": PICKLIST[0], "message": PICKLIST[1], "fields": ["Origin"]}], 400),
            entry("refTask", halted, 400),
        ),
    )

    again = crm.write_batch([BatchWrite(w.activity, w.case, w.case_id, retrying=True) for w in (good, bad)])

    assert isinstance(again[0], LinkResult)
    assert isinstance(again[1], CrmRecordRejected) and again[1].crm_code == PICKLIST[0]


def test_a_collection_that_fails_whole_fails_its_records_and_a_locked_row_is_retried(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    invalid = [
        {"message": "No such column 'CTI_Hub_Key__c' on sobject of type Case", "errorCode": "INVALID_FIELD"}
    ]
    locked = rejected_record("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record")
    pin(
        mocked,
        [
            collection("caseUpserts0", "/Case/CTI_Hub_Key__c", [case_record(EPISODE)]),
            collection(
                "caseUpdates0", "", [{"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "Working"}]
            ),
        ],
        composite(entry("caseUpserts0", invalid, 400), entry("caseUpdates0", [locked])),
    )

    new, appended = crm.write_batch(
        [
            BatchWrite(case=case_write(), activity=activity_write()),
            BatchWrite(case_id=CASE_ID, activity=activity_write(key=APPENDED_EVENT)),
        ]
    )

    assert isinstance(new, CrmRecordRejected) and new.crm_code == "INVALID_FIELD"
    assert isinstance(appended, CrmRetryable) and appended.crm_code == "UNABLE_TO_LOCK_ROW"
    assert len(mocked.calls) == 1  # no task for a case that was not written


def test_more_than_200_records_split_into_collections_of_200_in_order(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        subrequests = json.loads(request.body)["compositeRequest"]
        assert [len(s["body"]["records"]) for s in subrequests] == [200, 50]
        entries = [
            entry(
                s["referenceId"], [ok(f"00T{r['CTI_Hub_Event_Key__c']}", True) for r in s["body"]["records"]]
            )
            for s in subrequests
        ]
        return 200, {}, json.dumps(composite(*entries))

    mocked.add_callback(responses.POST, COMPOSITE, callback=answer)
    batch = [
        BatchWrite(case_id=CASE_ID, activity=ActivityWrite(key=f"ev_{n:04d}", body="x", customer=CUSTOMER))
        for n in range(250)
    ]

    results = crm.write_batch(batch)

    assert [r.activity.id for r in results if isinstance(r, LinkResult)] == [
        f"00Tev_{n:04d}" for n in range(250)
    ]


def test_a_write_joining_a_new_case_rides_in_its_upsert_and_gets_its_task_on_it(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    """The episode's later event needs no second batch call once the case exists: its case fields
    join the new case's record (later values win) and its task names the new case."""
    creator = BatchWrite(case=case_write(), activity=activity_write(case_fields={"Status": "Working"}))
    joiner = BatchWrite(
        activity=activity_write(key=APPENDED_EVENT, case_fields={"Status": "Escalated"}), joins=0
    )
    pin(
        mocked,
        [collection("caseUpserts0", "/Case/CTI_Hub_Key__c", [case_record(EPISODE, Status="Escalated")])],
        composite(entry("caseUpserts0", [ok(NEW_CASE_ID, True)])),
    )
    pin(
        mocked,
        [
            collection(
                "tasks0",
                "/Task/CTI_Hub_Event_Key__c",
                [task_record(EVENT, NEW_CASE_ID), task_record(APPENDED_EVENT, NEW_CASE_ID)],
            )
        ],
        composite(entry("tasks0", [ok(NEW_TASK_ID, True), ok(TASK_ID, True)])),
    )

    created, joined = crm.write_batch([creator, joiner])

    assert created == LinkResult(
        case=RecordRef("salesforce", "Case", NEW_CASE_ID, True),
        activity=RecordRef("salesforce", "Task", NEW_TASK_ID, True),
    )
    assert joined == LinkResult(
        # the upsert's own answer (the linker records the joining event as an append, and the
        # episode's case as created by the hub whichever of the two finishes first)
        case=RecordRef("salesforce", "Case", NEW_CASE_ID, True),
        activity=RecordRef("salesforce", "Task", TASK_ID, True),
    )
    assert len(mocked.calls) == 2


def test_a_rejected_new_case_with_joining_writes_fails_them_all_as_retryable_and_sends_no_task(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    """Whose value was wrong, the creator's or a joiner's? Each is retried alone (the single path),
    where only the culprit is rejected; no task lands without its case."""
    creator = BatchWrite(case=case_write(), activity=activity_write(case_fields={}))
    joiner = BatchWrite(
        activity=activity_write(key=APPENDED_EVENT, case_fields={"Origin": "Carrier pigeon"}), joins=0
    )
    pin(
        mocked,
        [collection("caseUpserts0", "/Case/CTI_Hub_Key__c", [case_record(EPISODE, Origin="Carrier pigeon")])],
        composite(entry("caseUpserts0", [rejected_record(*PICKLIST, "Origin")])),
    )

    results = crm.write_batch([creator, joiner])

    assert [type(r) for r in results] == [CrmRetryable, CrmRetryable]
    assert all(r.crm_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" for r in results)
    assert len(mocked.calls) == 1  # no tasks call


def test_a_write_joining_a_case_outside_its_batch_is_not_sent(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    """``joins`` must name a creating write of the same batch: anything else is answered unsent
    (retried, no attempt charged), never written without its case."""
    joiner = BatchWrite(activity=activity_write(key=APPENDED_EVENT), joins=3)

    [answer] = crm.write_batch([joiner])

    assert isinstance(answer, CrmWriteNotSent)
    assert len(mocked.calls) == 0


def test_joins_name_the_creating_write_among_those_sent_together() -> None:
    """A retry goes alone (the single path), so the writes sent together are re-indexed."""
    retried = BatchWrite(case_id=CASE_ID, activity=activity_write(key=OTHER_EVENT), retrying=True)
    creator = BatchWrite(case=case_write(), activity=activity_write())
    joiner = BatchWrite(activity=activity_write(key=APPENDED_EVENT), joins=1)
    alone = LinkResult(case=RecordRef("salesforce", "Case", CASE_ID, False), activity=None)  # type: ignore[arg-type]
    together: list[list[BatchWrite]] = []

    def send(fresh: list[BatchWrite]) -> list[LinkResult | Exception]:
        together.append(fresh)
        return [alone] * len(fresh)

    split_batch([retried, creator, joiner], alone=lambda _write: alone, together=send)

    assert [w.joins for w in together[0]] == [None, 0]
