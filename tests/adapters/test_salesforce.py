"""The Salesforce adapter against recorded-shape answers: the exact requests it sends, and how every
failure is classified. Answer bodies follow the shapes in fixtures/salesforce (restforce, CumulusCI,
simple-salesforce) and the REST API guide; they are written here, not copied."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from adapters.salesforce import SalesforceCRM, build_crm
from hub.domain.errors import (
    ConfigError,
    CrmAuthExpired,
    CrmError,
    CrmQuotaExhausted,
    CrmRecordRejected,
    CrmRetryable,
)
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import (
    ActivityWrite,
    AdapterConfig,
    CaseRecord,
    CaseWrite,
    CustomerProfile,
    LinkResult,
    RecordRef,
)

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0/sobjects"
TOKEN = "00DAcme!sf-session-secret"
CASE_ID = "5005g00000AbCdEAAZ"
TASK_ID = "00T5g00000XyZ12EAB"
CONTACT_ID = "0035g00000QrStUAAV"
EPISODE = "ep_01JAB3XKQ7T9ZC4M2N6P8R0S1V"
EVENT = "ev_" + "0f" * 16

CUSTOMER = CustomerProfile(
    key="cus_7", name="Ana Lima", phone="+14155550100", external_ids={"salesforce_contact": CONTACT_ID}
)
BODY = "Chat · Password reset done (PW_RESET_OK)\nIntent: Password reset\n\nchat-platform · e-1 · 2026-05-01"


def upsert_answer(record_id: str, created: bool) -> dict[str, Any]:
    return {"id": record_id, "success": True, "errors": [], "created": created}


def sf_errors(code: str, message: str) -> list[dict[str, str]]:
    return [{"message": message, "errorCode": code}]


@pytest.fixture
def mapping() -> CrmMapping:
    return CrmMapping(
        crm="salesforce",
        case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
        activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
    )


@pytest.fixture
def crm(mapping: CrmMapping, timeouts: tuple[float, float]) -> SalesforceCRM:
    return build_crm(
        AdapterConfig(
            settings={"instance_url": INSTANCE, "access_token": TOKEN},
            mapping=mapping,
            connect_timeout=timeouts[0],
            read_timeout=timeouts[1],
        )
    )


def case_write(**fields: Any) -> CaseWrite:
    return CaseWrite(
        key=EPISODE,
        fields={"Subject": "Chat · Password reset", "Origin": "Chat", "Priority": "Medium", **fields},
        customer=CUSTOMER,
    )


def activity_write(**overrides: Any) -> ActivityWrite:
    values: dict[str, Any] = {
        "key": EVENT,
        "body": BODY,
        "fields": {"CallDisposition": "PW_RESET_OK", "Status": "Completed", "TaskSubtype": "Task"},
        "case_fields": {"Status": "Working"},
        "customer": CUSTOMER,
    }
    values.update(overrides)
    return ActivityWrite(**values)


def assert_headers(call: Any) -> None:
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"


# -- building -----------------------------------------------------------------------------------------


def test_build_crm_checks_settings_and_sends_nothing(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    assert crm.name == "salesforce"
    assert len(mocked.calls) == 0  # no request while building (the mock would refuse any)
    assert TOKEN not in repr(crm) and TOKEN not in repr(crm.settings)


def test_build_crm_names_every_missing_setting(mapping: CrmMapping) -> None:
    with pytest.raises(ConfigError) as caught:
        build_crm(AdapterConfig(settings={"instance_url": "http://acme"}, mapping=mapping))
    assert [p.path for p in caught.value.problems] == ["CTIHUB_SALESFORCE_ACCESS_TOKEN"]
    with pytest.raises(ConfigError) as caught:
        build_crm(AdapterConfig(settings={"access_token": TOKEN, "api_version": "vNext"}, mapping=mapping))
    assert [p.path for p in caught.value.problems] == [
        "CTIHUB_SALESFORCE_INSTANCE_URL",
        "CTIHUB_SALESFORCE_API_VERSION",
    ]
    assert TOKEN not in str(caught.value)


def test_the_api_version_is_a_setting(mocked: responses.RequestsMock, mapping: CrmMapping) -> None:
    crm = build_crm(
        AdapterConfig(
            settings={"instance_url": INSTANCE, "access_token": TOKEN, "api_version": "v61.0"},
            mapping=mapping,
        )
    )
    mocked.get(
        f"{INSTANCE}/services/data/v61.0/sobjects/Case/{CASE_ID}",
        json={"Id": CASE_ID, "Status": "New", "IsClosed": False},
    )
    assert crm.get_case(CASE_ID) is not None


def test_timeouts_cannot_be_passed_to_upsert_so_the_session_adds_them() -> None:
    """Pins why adapters.http.BoundSession exists: simple-salesforce's upsert/update take no timeout."""
    import inspect

    from simple_salesforce.api import SFType

    for method in (SFType.upsert, SFType.update, SFType.create):
        parameters = inspect.signature(method).parameters
        assert "timeout" not in parameters and not any(p.kind is p.VAR_KEYWORD for p in parameters.values())


# -- create_case: one Composite round trip -----------------------------------------------------------------

COMPOSITE = f"{INSTANCE}/services/data/v59.0/composite"
PATH = "/services/data/v59.0/sobjects"


def entry(reference: str, status: int, body: Any, location: str | None = None) -> dict[str, Any]:
    """One compositeResponse item, as the recorded composite answers carry it."""
    return {
        "body": body,
        "httpHeaders": {"Location": location} if location else {},
        "httpStatusCode": status,
        "referenceId": reference,
    }


def composite(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"compositeResponse": list(entries)}


def created_both(case_created: bool = True, task_created: bool = True) -> dict[str, Any]:
    return composite(
        entry(
            "refCase",
            201 if case_created else 200,
            upsert_answer(CASE_ID, case_created),
            f"{PATH}/Case/{CASE_ID}" if case_created else None,
        ),
        entry(
            "refTask",
            201 if task_created else 200,
            upsert_answer(TASK_ID, task_created),
            f"{PATH}/Task/{TASK_ID}" if task_created else None,
        ),
    )


def halted(reference: str) -> dict[str, Any]:
    return entry(
        reference,
        400,
        sf_errors(
            "PROCESSING_HALTED",
            "The transaction was rolled back since another operation in the same transaction failed.",
        ),
    )


def subrequests(call: Any) -> list[dict[str, Any]]:
    body = json.loads(call.request.body)
    assert body["allOrNone"] is True
    return body["compositeRequest"]


def test_create_case_is_one_composite_round_trip(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any
) -> None:
    expected = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "PATCH",
                "url": f"{PATH}/Case/CTI_Hub_Key__c/{EPISODE}",
                "referenceId": "refCase",
                "body": {
                    "Subject": "Chat · Password reset",
                    "Origin": "Chat",
                    "Priority": "Medium",
                    "ContactId": CONTACT_ID,
                },
            },
            {
                "method": "PATCH",
                "url": f"{PATH}/Task/CTI_Hub_Event_Key__c/{EVENT}",
                "referenceId": "refTask",
                "body": {
                    "CallDisposition": "PW_RESET_OK",
                    "Status": "Completed",
                    "TaskSubtype": "Task",
                    "WhatId": "@{refCase.id}",
                    "WhoId": CONTACT_ID,
                    "Subject": "Chat · Password reset done (PW_RESET_OK)",
                    "Description": BODY,
                },
            },
        ],
    }
    mocked.post(
        COMPOSITE,
        json=created_both(),
        match=[matchers.json_params_matcher(expected, strict_match=True)],
    )

    result = crm.create_case(case_write(), activity_write(), retrying=False)

    assert result == LinkResult(
        case=RecordRef("salesforce", "Case", CASE_ID, True),
        activity=RecordRef("salesforce", "Task", TASK_ID, True),
    )
    assert sent() == [("POST", COMPOSITE)]  # one round trip, one call against the org's quota
    assert json.loads(mocked.calls[0].request.body) == expected  # byte for byte the same keys, in order
    assert_headers(mocked.calls[0])


def test_a_repeated_create_updates_the_same_records(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any
) -> None:
    mocked.post(COMPOSITE, json=created_both(case_created=False, task_created=False))

    result = crm.create_case(case_write(), activity_write(), retrying=True)

    assert (result.case.created, result.activity.created) == (False, False)
    assert (result.case.id, result.activity.id) == (CASE_ID, TASK_ID)
    assert len(sent()) == 1  # retrying needs nothing extra: upserts are idempotent


def test_mapped_fields_win_over_defaults_and_keys_stay_out_of_the_body(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.post(COMPOSITE, json=created_both())
    anonymous = CustomerProfile(key="cus_8", phone="+14155550101")

    crm.create_case(
        CaseWrite(
            key=EPISODE, fields={"Subject": "S", "CTI_Hub_Key__c": EPISODE, "Id": "x"}, customer=anonymous
        ),
        activity_write(
            fields={"Subject": "Mapped subject", "CTI_Hub_Event_Key__c": EVENT},
            customer=anonymous,
            body="x" * 40_000,
        ),
        retrying=False,
    )

    case_body, task_body = (sub["body"] for sub in subrequests(mocked.calls[0]))
    assert case_body == {"Subject": "S"}  # no ContactId when none is known
    assert task_body["Subject"] == "Mapped subject"
    assert "WhoId" not in task_body and "CTI_Hub_Event_Key__c" not in task_body
    assert len(task_body["Description"]) == 32_000 and task_body["Description"].endswith("…")


def test_external_id_values_are_percent_encoded(mocked: responses.RequestsMock, crm: SalesforceCRM) -> None:
    mocked.post(COMPOSITE, json=created_both())

    crm.create_case(
        CaseWrite(key="ep/1#x?.inc", fields={}, customer=CUSTOMER),
        activity_write(key="chat:e/1 %"),
        retrying=False,
    )

    assert [sub["url"] for sub in subrequests(mocked.calls[0])] == [
        f"{PATH}/Case/CTI_Hub_Key__c/ep%2F1%23x%3F.inc",
        f"{PATH}/Task/CTI_Hub_Event_Key__c/chat%3Ae%2F1%20%25",
    ]


def test_an_api_version_before_46_is_refused(mapping: CrmMapping) -> None:
    """Upserts answer the id only from 46.0 (204 before), and the Task references @{refCase.id}."""
    with pytest.raises(ConfigError) as caught:
        build_crm(
            AdapterConfig(
                settings={"instance_url": INSTANCE, "access_token": TOKEN, "api_version": "45.0"},
                mapping=mapping,
            )
        )
    assert [p.path for p in caught.value.problems] == ["CTIHUB_SALESFORCE_API_VERSION"]


def test_an_upsert_answer_without_an_id_is_retryable(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.post(
        COMPOSITE,
        json=composite(entry("refCase", 204, None), entry("refTask", 201, upsert_answer(TASK_ID, True))),
    )

    with pytest.raises(CrmRetryable, match="Case upsert answered without an id"):
        crm.without_retries().create_case(case_write(), activity_write(), retrying=False)


# -- append_activity ---------------------------------------------------------------------------------


def test_append_activity_is_one_composite_when_the_case_changes_too(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any
) -> None:
    expected = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "PATCH",
                "url": f"{PATH}/Case/{CASE_ID}",
                "referenceId": "refCase",
                "body": {"Status": "Working"},
            },
            {
                "method": "PATCH",
                "url": f"{PATH}/Task/CTI_Hub_Event_Key__c/{EVENT}",
                "referenceId": "refTask",
                "body": {
                    "CallDisposition": "PW_RESET_OK",
                    "Status": "Completed",
                    "TaskSubtype": "Task",
                    "WhatId": CASE_ID,
                    "WhoId": CONTACT_ID,
                    "Subject": "Chat · Password reset done (PW_RESET_OK)",
                    "Description": BODY,
                },
            },
        ],
    }
    mocked.post(
        COMPOSITE,
        json=composite(
            entry("refCase", 204, None),
            entry("refTask", 201, upsert_answer(TASK_ID, True), f"{PATH}/Task/{TASK_ID}"),
        ),
        match=[matchers.json_params_matcher(expected, strict_match=True)],
    )

    result = crm.append_activity(CASE_ID, activity_write(), retrying=False)

    assert result == LinkResult(
        case=RecordRef("salesforce", "Case", CASE_ID, False),
        activity=RecordRef("salesforce", "Task", TASK_ID, True),
    )
    assert sent() == [("POST", COMPOSITE)]
    assert_headers(mocked.calls[0])


def test_append_activity_without_case_fields_only_writes_the_task(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any
) -> None:
    mocked.patch(f"{DATA}/Task/CTI_Hub_Event_Key__c/{EVENT}", json=upsert_answer(TASK_ID, False), status=200)

    result = crm.append_activity(CASE_ID, activity_write(case_fields={}, customer=None), retrying=True)

    assert result.activity == RecordRef("salesforce", "Task", TASK_ID, False)
    assert sent() == [("PATCH", f"{DATA}/Task/CTI_Hub_Event_Key__c/{EVENT}")]
    assert json.loads(mocked.calls[0].request.body) == {
        "CallDisposition": "PW_RESET_OK",
        "Status": "Completed",
        "TaskSubtype": "Task",
        "WhatId": CASE_ID,
        "Subject": "Chat · Password reset done (PW_RESET_OK)",
        "Description": BODY,
    }
    assert_headers(mocked.calls[0])


# -- get_case ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("is_closed", "status"), [(False, "Working"), (True, "Closed")])
def test_get_case_reads_id_status_and_is_closed(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any, is_closed: bool, status: str
) -> None:
    mocked.get(
        f"{DATA}/Case/{CASE_ID}",
        json={
            "attributes": {"type": "Case", "url": f"/services/data/v59.0/sobjects/Case/{CASE_ID}"},
            "Id": CASE_ID,
            "Status": status,
            "IsClosed": is_closed,
        },
    )

    record = crm.get_case(CASE_ID)

    assert record == CaseRecord(
        crm="salesforce",
        object="Case",
        id=CASE_ID,
        is_open=not is_closed,
        url=f"{INSTANCE}/lightning/r/Case/{CASE_ID}/view",
    )
    assert sent() == [("GET", f"{DATA}/Case/{CASE_ID}?fields=Id%2CStatus%2CIsClosed")]
    assert_headers(mocked.calls[0])


def test_get_case_of_a_missing_record_is_none(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any
) -> None:
    mocked.get(
        f"{DATA}/Case/500000000000000AAA",
        json=sf_errors("NOT_FOUND", "The requested resource does not exist"),
        status=404,
    )

    assert crm.get_case("500000000000000AAA") is None
    assert len(sent()) == 1


# -- errors ------------------------------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        {
            "status": 429,
            "headers": {"Retry-After": "17"},
            "json": sf_errors("REQUEST_LIMIT_EXCEEDED", "slow down"),
        },
        CrmRetryable,
        429,
        17.0,
        id="429-retry-after",
    ),
    pytest.param(
        {"status": 503, "json": sf_errors("SERVER_UNAVAILABLE", "Server busy")},
        CrmRetryable,
        503,
        None,
        id="503",
    ),
    pytest.param(
        {"status": 503, "headers": {"Retry-After": "120"}, "body": "<html>busy</html>"},
        CrmRetryable,
        503,
        120.0,
        id="503-retry-after",
    ),
    pytest.param(
        {"status": 500, "json": sf_errors("UNKNOWN_EXCEPTION", "An unexpected error occurred")},
        CrmRetryable,
        500,
        None,
        id="500",
    ),
    pytest.param(
        {"status": 401, "json": sf_errors("INVALID_SESSION_ID", "Session expired or invalid")},
        CrmAuthExpired,
        401,
        None,
        id="401-INVALID_SESSION_ID",
    ),
    pytest.param(
        {"status": 403, "json": sf_errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")},
        CrmQuotaExhausted,
        403,
        900.0,  # no Retry-After: the adapter's own pause (see test_quota_and_retries)
        id="403-REQUEST_LIMIT_EXCEEDED",
    ),
    pytest.param(
        {"status": 403, "json": sf_errors("INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights")},
        CrmRecordRejected,
        403,
        None,
        id="403-other",
    ),
    pytest.param(
        {
            "status": 400,
            "json": sf_errors("INVALID_FIELD", "No such column 'Foo__c' on sobject of type Case"),
        },
        CrmRecordRejected,
        400,
        None,
        id="400-INVALID_FIELD",
    ),
    pytest.param(
        {"status": 400, "json": sf_errors("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access")},
        CrmRetryable,
        400,
        None,
        id="400-UNABLE_TO_LOCK_ROW",
    ),
    pytest.param(
        {
            "status": 404,
            "json": sf_errors(
                "NOT_FOUND", "Provided external ID field does not exist or is not accessible: X"
            ),
        },
        CrmRecordRejected,
        404,
        None,
        id="404-NOT_FOUND",
    ),
    pytest.param(
        {"status": 300, "json": [f"/services/data/v59.0/sobjects/Case/{CASE_ID}", "/services/data/v59.0/x"]},
        CrmRecordRejected,
        300,
        None,
        id="300-multiple-matches",
    ),
    pytest.param(
        {"body": requests.ReadTimeout("read timed out")}, CrmRetryable, None, None, id="read-timeout"
    ),
    pytest.param(
        {"body": requests.ConnectTimeout("connect timed out")}, CrmRetryable, None, None, id="connect-timeout"
    ),
    pytest.param(
        {"body": requests.ConnectionError("refused")}, CrmRetryable, None, None, id="connection-error"
    ),
]


TASK_UPSERT = f"{DATA}/Task/CTI_Hub_Event_Key__c/{EVENT}"


@pytest.mark.parametrize(("answer", "error", "status", "retry_after"), ERROR_CASES)
def test_failures_are_classified_by_the_table(
    mocked: responses.RequestsMock,
    crm: SalesforceCRM,
    answer: dict[str, Any],
    error: type[CrmError],
    status: int | None,
    retry_after: float | None,
) -> None:
    mocked.patch(TASK_UPSERT, **answer)

    with pytest.raises(CrmError) as caught:
        crm.without_retries().append_activity(CASE_ID, activity_write(case_fields={}), retrying=False)

    assert type(caught.value) is error
    assert (caught.value.crm, caught.value.status, caught.value.retry_after) == (
        "salesforce",
        status,
        retry_after,
    )
    assert caught.value.__cause__ is not None  # raised from the library's exception
    body = answer.get("json")
    if isinstance(body, list) and isinstance(body[0], dict):  # Salesforce's own code and words are kept
        assert caught.value.crm_code == body[0]["errorCode"]
        assert caught.value.message == body[0]["message"]
    text = f"{caught.value} {caught.value.describe()}"
    assert TOKEN not in text
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (400, "INVALID_FIELD", CrmRecordRejected),
        (400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", CrmRecordRejected),
        (400, "REQUIRED_FIELD_MISSING", CrmRecordRejected),
        (400, "UNABLE_TO_LOCK_ROW", CrmRetryable),
        (404, "NOT_FOUND", CrmRecordRejected),
        (403, "REQUEST_LIMIT_EXCEEDED", CrmQuotaExhausted),
        (500, "UNKNOWN_EXCEPTION", CrmRetryable),
    ],
)
def test_a_200_composite_with_a_failed_subrequest_is_classified_by_the_same_table(
    mocked: responses.RequestsMock, crm: SalesforceCRM, status: int, code: str, error: type[CrmError]
) -> None:
    """allOrNone: the Task's own failure, the Case rolled back (PROCESSING_HALTED); HTTP 200 overall."""
    mocked.post(
        COMPOSITE, json=composite(halted("refCase"), entry("refTask", status, sf_errors(code, "why")))
    )

    with pytest.raises(CrmError) as caught:
        crm.without_retries().create_case(case_write(), activity_write(), retrying=False)

    assert type(caught.value) is error
    assert (caught.value.status, caught.value.crm_code) == (status, code)  # the cause, not PROCESSING_HALTED
    assert caught.value.message == "Task: why"
    assert len(mocked.calls) == 1


def test_invalid_field_keeps_salesforces_code_and_message(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.post(
        COMPOSITE,
        json=composite(
            entry(
                "refCase",
                400,
                [
                    {
                        "message": "No such column 'Foo__c' on sobject of type Case",
                        "errorCode": "INVALID_FIELD",
                    }
                ],
            ),
            halted("refTask"),
        ),
    )

    with pytest.raises(CrmRecordRejected) as caught:
        crm.create_case(case_write(Foo__c=1), activity_write(), retrying=False)

    assert (
        caught.value.describe()
        == "salesforce 400 INVALID_FIELD: Case: No such column 'Foo__c' on sobject of type Case"
    )
    assert caught.value.action.value == "fail_record"


def test_a_bad_picklist_value_on_the_case_update_fails_the_record(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.post(
        COMPOSITE,
        json=composite(
            entry(
                "refCase",
                400,
                [
                    {
                        "message": "bad value for restricted picklist field: Walking",
                        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        "fields": ["Status"],
                    }
                ],
            ),
            halted("refTask"),
        ),
    )

    with pytest.raises(CrmRecordRejected) as caught:
        crm.append_activity(CASE_ID, activity_write(case_fields={"Status": "Walking"}), retrying=False)

    assert caught.value.crm_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert caught.value.message == "Case: bad value for restricted picklist field: Walking (fields: Status)"


def test_a_failing_task_after_the_case_is_classified_too(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.post(
        COMPOSITE,
        json=composite(
            halted("refCase"),
            entry(
                "refTask",
                400,
                [
                    {
                        "message": "Required fields are missing: [Subject]",
                        "errorCode": "REQUIRED_FIELD_MISSING",
                        "fields": ["Subject"],
                    }
                ],
            ),
        ),
    )

    with pytest.raises(CrmRecordRejected) as caught:
        crm.create_case(case_write(), activity_write(), retrying=False)

    assert caught.value.crm_code == "REQUIRED_FIELD_MISSING"
    assert caught.value.message == "Task: Required fields are missing: [Subject] (fields: Subject)"


def test_a_composite_answer_without_compositeresponse_is_retryable(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.post(COMPOSITE, json={"unexpected": True})

    with pytest.raises(CrmRetryable):
        crm.without_retries().create_case(case_write(), activity_write(), retrying=False)


def test_an_expired_session_drops_the_client(mocked: responses.RequestsMock, crm: SalesforceCRM) -> None:
    mocked.get(
        f"{DATA}/Case/{CASE_ID}",
        json=sf_errors("INVALID_SESSION_ID", "Session expired or invalid"),
        status=401,
    )
    first = crm._client()

    with pytest.raises(CrmAuthExpired):
        crm.get_case(CASE_ID)

    assert crm._client() is not first
    assert crm.status()["state"] == "auth_failed"  # a given access token cannot be renewed
    assert len(mocked.calls) == 1


# -- the legacy username/password login ------------------------------------------------------------------

SOAP_LOGIN_OK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="urn:partner.soap.sforce.com">
 <soapenv:Body><loginResponse><result>
  <serverUrl>https://acme.my.salesforce.com/services/Soap/u/59.0/00DAcme</serverUrl>
  <sessionId>00DAcme!from-login</sessionId>
 </result></loginResponse></soapenv:Body>
</soapenv:Envelope>"""

SOAP_LOGIN_FAULT = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:sf="urn:fault.partner.soap.sforce.com">
 <soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>
  <faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>
  <detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>
  <sf:exceptionMessage>Invalid username, password, security token; or user locked out.</sf:exceptionMessage>
  </sf:LoginFault></detail></soapenv:Fault></soapenv:Body>
</soapenv:Envelope>"""

LEGACY = {"username": "api@acme.test", "password": "pw-secret", "security_token": "tok-secret"}


def test_legacy_login_warns_at_build_and_logs_in_on_first_call(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    timeouts: tuple[float, float],
    sent: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="adapters.salesforce"):
        crm = build_crm(
            AdapterConfig(
                settings=LEGACY, mapping=mapping, connect_timeout=timeouts[0], read_timeout=timeouts[1]
            )
        )
    assert "legacy" in caplog.text and "pw-secret" not in caplog.text
    assert len(mocked.calls) == 0

    mocked.post("https://login.salesforce.com/services/Soap/u/59.0", body=SOAP_LOGIN_OK)
    mocked.get(f"{DATA}/Case/{CASE_ID}", json={"Id": CASE_ID, "Status": "New", "IsClosed": False})

    assert crm.get_case(CASE_ID) is not None
    assert [method for method, _ in sent()] == ["POST", "GET"]
    assert mocked.calls[1].request.headers["Authorization"] == "Bearer 00DAcme!from-login"


def test_a_failed_legacy_login_is_auth_expired_without_secrets(
    mocked: responses.RequestsMock, mapping: CrmMapping
) -> None:
    crm = build_crm(AdapterConfig(settings={**LEGACY, "domain": "test"}, mapping=mapping))
    mocked.post("https://test.salesforce.com/services/Soap/u/59.0", body=SOAP_LOGIN_FAULT, status=500)

    with pytest.raises(CrmAuthExpired) as caught:
        crm.get_case(CASE_ID)

    assert caught.value.crm_code == "INVALID_LOGIN"
    assert "pw-secret" not in caught.value.describe() and "tok-secret" not in caught.value.describe()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("17", 17.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_reads_seconds_or_a_date(value: str, expected: float | None) -> None:
    from adapters.salesforce.errors import retry_after

    assert retry_after({"Retry-After": value}) == expected


def test_retry_after_in_the_future_counts_down() -> None:
    import email.utils
    import time

    from adapters.salesforce.errors import retry_after

    later = email.utils.formatdate(time.time() + 600, usegmt=True)
    assert 590 <= (retry_after({"Retry-After": later}) or 0) <= 600
