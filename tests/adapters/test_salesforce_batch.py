"""``SalesforceCRM.write_batch``: the exact Composite requests (sObject Collections inside) and how
each record's answer becomes its own result. Answer shapes follow Salesforce's documented
UpsertResult/SaveResult arrays inside a ``compositeResponse`` (see crm-facts.md §5.2)."""

from __future__ import annotations

from typing import Any

import pytest
import responses
from responses import matchers

from adapters.salesforce import SalesforceCRM
from hub.domain.errors import CrmRecordRejected, CrmRetryable
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


def test_a_batch_is_two_composite_calls_and_each_record_gets_its_own_result(
    mocked: responses.RequestsMock,
    crm: SalesforceCRM,
) -> None:
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
            collection("appendTasks0", "/Task/CTI_Hub_Event_Key__c", [task_record(APPENDED_EVENT, CASE_ID)]),
        ],
        composite(
            entry(
                "caseUpserts0",
                [
                    {"id": NEW_CASE_ID, "success": True, "errors": [], "created": True},
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                                "message": "Origin: bad value for restricted picklist field: Carrier pigeon",
                                "fields": ["Origin"],
                            }
                        ],
                    },
                ],
            ),
            entry("caseUpdates0", [{"id": CASE_ID, "success": True, "errors": []}]),
            entry("appendTasks0", [{"id": TASK_ID, "success": True, "errors": [], "created": True}]),
        ),
    )
    pin(
        mocked,
        [collection("newTasks0", "/Task/CTI_Hub_Event_Key__c", [task_record(EVENT, NEW_CASE_ID)])],
        composite(entry("newTasks0", [{"id": NEW_TASK_ID, "success": True, "errors": [], "created": True}])),
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
    mocked: responses.RequestsMock,
    crm: SalesforceCRM,
) -> None:
    first = BatchWrite(
        case_id=CASE_ID, activity=activity_write(case_fields={"Status": "Working", "Priority": "Low"})
    )
    later = BatchWrite(
        case_id=CASE_ID, activity=activity_write(key=APPENDED_EVENT, case_fields={"Status": "Escalated"})
    )
    pin(
        mocked,
        [
            collection(
                "caseUpdates0",
                "",
                [{"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "Escalated", "Priority": "Low"}],
            ),
            collection(
                "appendTasks0",
                "/Task/CTI_Hub_Event_Key__c",
                [task_record(EVENT, CASE_ID), task_record(APPENDED_EVENT, CASE_ID)],
            ),
        ],
        composite(
            entry("caseUpdates0", [{"id": CASE_ID, "success": True, "errors": []}]),
            entry(
                "appendTasks0",
                [
                    {"id": TASK_ID, "success": True, "errors": [], "created": True},
                    {"id": NEW_TASK_ID, "success": True, "errors": [], "created": False},
                ],
            ),
        ),
    )

    results = crm.write_batch([first, later])

    assert [r.activity.id for r in results if isinstance(r, LinkResult)] == [TASK_ID, NEW_TASK_ID]


def test_a_collection_that_fails_whole_fails_its_records_and_a_locked_row_is_retried(
    mocked: responses.RequestsMock,
    crm: SalesforceCRM,
) -> None:
    pin(
        mocked,
        [
            collection("caseUpserts0", "/Case/CTI_Hub_Key__c", [case_record(EPISODE)]),
            collection(
                "caseUpdates0", "", [{"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "Working"}]
            ),
            collection("appendTasks0", "/Task/CTI_Hub_Event_Key__c", [task_record(APPENDED_EVENT, CASE_ID)]),
        ],
        composite(
            entry(
                "caseUpserts0",
                [
                    {
                        "message": "No such column 'CTI_Hub_Key__c' on sobject of type Case",
                        "errorCode": "INVALID_FIELD",
                    }
                ],
                400,
            ),
            entry(
                "caseUpdates0",
                [
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "UNABLE_TO_LOCK_ROW",
                                "message": "unable to obtain exclusive access to this record",
                                "fields": [],
                            }
                        ],
                    }
                ],
            ),
            entry("appendTasks0", [{"id": TASK_ID, "success": True, "errors": [], "created": True}]),
        ),
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


@pytest.mark.parametrize("records", [250])
def test_more_than_200_records_split_into_collections_of_200(
    mocked: responses.RequestsMock,
    crm: SalesforceCRM,
    records: int,
) -> None:
    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        import json

        subrequests = json.loads(request.body)["compositeRequest"]
        assert [len(s["body"]["records"]) for s in subrequests] == [200, 50]
        return (
            200,
            {},
            json.dumps(
                composite(
                    *(
                        entry(
                            s["referenceId"],
                            [{"id": TASK_ID, "success": True, "errors": [], "created": True}]
                            * len(s["body"]["records"]),
                        )
                        for s in subrequests
                    )
                )
            ),
        )

    mocked.add_callback(responses.POST, COMPOSITE, callback=answer)
    batch = [
        BatchWrite(case_id=CASE_ID, activity=ActivityWrite(key=f"ev_{n:04d}", body="x", customer=CUSTOMER))
        for n in range(records)
    ]

    results = crm.write_batch(batch)

    assert all(isinstance(r, LinkResult) for r in results) and len(results) == records
