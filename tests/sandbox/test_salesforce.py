"""The Salesforce fake, driven through the real simple-salesforce client."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from adapters.sandbox import SALESFORCE_INSTANCE_URL, Sandbox
from adapters.sandbox.salesforce import make_id

from .conftest import salesforce_client

BASE = f"{SALESFORCE_INSTANCE_URL}/services/data/v59.0"


def error_of(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    content = exc.value.content
    assert isinstance(content, list) and len(content) == 1, content
    return content[0]


def test_create_get_update(sf: Salesforce, sb: Sandbox) -> None:
    created = sf.Case.create({"Subject": "Password reset", "Origin": "Chat", "CTI_Hub_Key__c": "ep-1"})
    assert created["success"] is True and created["errors"] == []
    case_id = created["id"]
    assert len(case_id) == 18 and case_id.startswith("500")

    record = sf.Case.get(case_id)
    assert record["attributes"] == {"type": "Case", "url": f"/services/data/v59.0/sobjects/Case/{case_id}"}
    assert record["Id"] == case_id
    assert record["Status"] == "New" and record["Priority"] == "Medium"
    assert record["IsClosed"] is False and record["ClosedDate"] is None
    assert record["CaseNumber"].isdigit()
    assert record["CreatedDate"] == "2026-03-02T09:30:00.000+0000"

    assert sf.Case.update(case_id, {"Status": "Closed", "CTI_Hub_Last_Disposition__c": "resolved"}) == 204
    closed = sf.Case.get(case_id)
    assert closed["IsClosed"] is True and closed["ClosedDate"] is not None
    assert sf.Case.get_by_custom_id("CTI_Hub_Key__c", "ep-1")["Id"] == case_id
    # The 15-character form of an id addresses the same record.
    assert sf.Case.get(case_id[:15])["Id"] == case_id
    assert [r["Subject"] for r in sb.records("salesforce", "Case")] == ["Password reset"]


def test_upsert_creates_then_updates_the_same_record(sf: Salesforce) -> None:
    first = sf.Case.upsert("CTI_Hub_Key__c/ep-42", {"Subject": "first"}, raw_response=True)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["success"] is True
    second = sf.Case.upsert("CTI_Hub_Key__c/ep-42", {"Subject": "second"}, raw_response=True)
    assert second.status_code == 200
    assert second.json() == {"id": first.json()["id"], "success": True, "errors": [], "created": False}
    assert sf.Case.get(first.json()["id"])["Subject"] == "second"
    # External ids of unique fields are case-insensitive.
    assert sf.Case.upsert("CTI_Hub_Key__c/EP-42", {"Subject": "third"}) == 200


def test_upsert_before_api_46_answers_204_on_update(sb: Sandbox) -> None:
    old = salesforce_client(sb, version="45.0")
    assert old.Case.upsert("CTI_Hub_Key__c/k", {"Subject": "a"}) == 201
    assert old.Case.upsert("CTI_Hub_Key__c/k", {"Subject": "b"}) == 204


def test_upsert_rejections(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Case.upsert("Subject/x", {"Origin": "Web"})
    assert error_of(exc) == {
        "errorCode": "NOT_FOUND",
        "message": "Provided external ID field does not exist or is not accessible: Subject",
    }
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Case.upsert("CTI_Hub_Key__c/x", {"CTI_Hub_Key__c": "x", "Subject": "s"})
    assert error_of(exc)["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Case.upsert("CTI_Hub_Key__c/x", {"Id": make_id("500", 1)})
    assert error_of(exc)["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceResourceNotFound):
        sf.Case.upsert("CTI_Hub_Key__c/absent?updateOnly=true", {"Subject": "s"})


def test_upsert_value_is_percent_decoded(sf: Salesforce, sb: Sandbox) -> None:
    sf.Case.upsert("CTI_Hub_Key__c/sms%3A%2B1555%2F01", {"Subject": "encoded"})
    assert sb.records("salesforce", "Case")[0]["CTI_Hub_Key__c"] == "sms:+1555/01"
    assert sf.Case.get_by_custom_id("CTI_Hub_Key__c", "sms:+1555/01")["Subject"] == "encoded"


def test_several_matches_answer_300(sf: Salesforce) -> None:
    sf.Contact.create({"LastName": "One", "Email": "same@example.com"})
    sf.Contact.create({"LastName": "Two", "Email": "same@example.com"})
    with pytest.raises(SalesforceMoreThanOneRecord) as exc:
        sf.Contact.upsert("Email/same@example.com", {"FirstName": "X"})
    assert len(exc.value.content) == 2
    assert all(url.startswith("/services/data/v59.0/sobjects/Contact/003") for url in exc.value.content)


@pytest.mark.parametrize(
    ("body", "code", "fields"),
    [
        ({"Foo__c": "x"}, "INVALID_FIELD", None),
        ({"Origin": "Carrier Pigeon"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Origin"]),
        ({"IsClosed": True}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["IsClosed"]),
        ({"CaseNumber": "1"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["CaseNumber"]),
        ({"Subject": "x" * 256}, "STRING_TOO_LONG", ["Subject"]),
        ({"SuppliedEmail": "not-an-email"}, "INVALID_EMAIL_ADDRESS", ["SuppliedEmail"]),
        ({"ContactId": "nonsense"}, "MALFORMED_ID", ["ContactId"]),
        ({"ContactId": make_id("001", 1)}, "FIELD_INTEGRITY_EXCEPTION", ["ContactId"]),
        ({"ContactId": make_id("003", 99_999)}, "INVALID_CROSS_REFERENCE_KEY", ["ContactId"]),
        ({"IsEscalated": "maybe"}, "JSON_PARSER_ERROR", None),
    ],
)
def test_case_create_rejections(
    sf: Salesforce, body: dict[str, Any], code: str, fields: list[str] | None
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Case.create(body)
    error = error_of(exc)
    assert error["errorCode"] == code
    assert error.get("fields") == fields
    if code == "INVALID_FIELD":
        assert error["message"] == "No such column 'Foo__c' on sobject of type Case"


def test_required_fields_and_write_rules(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"FirstName": "Ann"})
    assert error_of(exc) == {
        "message": "Required fields are missing: [LastName]",
        "errorCode": "REQUIRED_FIELD_MISSING",
        "fields": ["LastName"],
    }
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Task.create({"Subject": "Call", "Status": None})
    assert error_of(exc)["errorCode"] == "REQUIRED_FIELD_MISSING"
    case = sf.Case.create({"Subject": "c"})["id"]
    task = sf.Task.create(
        {
            "Subject": "Call",
            "WhatId": case,
            "TaskSubtype": "Call",
            "CallType": "Inbound",
            "CallDurationInSeconds": 42,
            "ActivityDate": "2026-03-02",
            "CTI_Hub_Event_Key__c": "chat:1",
        }
    )["id"]
    assert task.startswith("00T")
    stored = sf.Task.get(task)
    assert (
        stored["Status"] == "Not Started" and stored["Priority"] == "Normal" and stored["IsClosed"] is False
    )
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Task.update(task, {"TaskSubtype": "Email"})
    assert error_of(exc)["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Task.update(task, {"CallType": "Sideways"})
    assert error_of(exc)["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    sf.Task.update(task, {"Status": "Completed"})
    assert sf.Task.get(task)["IsClosed"] is True
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Task.create({"Subject": "dup", "CTI_Hub_Event_Key__c": "CHAT:1"})
    assert error_of(exc)["errorCode"] == "DUPLICATE_VALUE"


def test_not_found_and_auth(sf: Salesforce, sb: Sandbox) -> None:
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.Case.get(make_id("500", 99_999))
    assert error_of(exc) == {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Case.get("not-an-id")
    with pytest.raises(SalesforceResourceNotFound):
        sf.Case.get_by_custom_id("CTI_Hub_Key__c", "missing")
    with pytest.raises(SalesforceResourceNotFound) as exc:
        sf.restful("sobjects/Widget__c/describe")
    assert error_of(exc)["errorCode"] == "NOT_FOUND"

    raw = sb.session().get(f"{BASE}/sobjects/Case/describe")
    assert raw.status_code == 401
    assert raw.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    with pytest.raises(SalesforceExpiredSession):
        Salesforce(instance_url=SALESFORCE_INSTANCE_URL, session_id="", session=sb.session()).Case.describe()


def test_limit_header_counts_calls(sf: Salesforce, sb: Sandbox) -> None:
    session = sb.session()
    headers = {"Authorization": "Bearer x"}
    first = session.get(f"{BASE}/limits", headers=headers)
    second = session.get(f"{BASE}/limits", headers=headers)
    used_first = int(first.headers["Sforce-Limit-Info"].split("=")[1].split("/")[0])
    assert second.headers["Sforce-Limit-Info"] == f"api-usage={used_first + 1}/100000"
    assert second.json()["DailyApiRequests"]["Max"] == 100000


def test_describe_shape(sf: Salesforce) -> None:
    describe = sf.Case.describe()
    assert describe["name"] == "Case" and describe["keyPrefix"] == "500" and describe["label"] == "Case"
    fields = {f["name"]: f for f in describe["fields"]}
    status = fields["Status"]
    assert status["type"] == "picklist" and status["restrictedPicklist"] is False
    first = status["picklistValues"][0]
    assert (first["value"], first["defaultValue"], first["active"]) == ("New", True, True)
    assert fields["Origin"]["restrictedPicklist"] is True
    key = fields["CTI_Hub_Key__c"]
    assert (key["externalId"], key["unique"], key["custom"], key["length"]) == (True, True, True, 80)
    assert fields["IsClosed"]["createable"] is False and fields["IsClosed"]["updateable"] is False
    assert fields["ContactId"]["referenceTo"] == ["Contact"]
    assert set(status) >= {
        "name",
        "label",
        "type",
        "length",
        "nillable",
        "createable",
        "updateable",
        "externalId",
        "unique",
        "custom",
        "picklistValues",
        "restrictedPicklist",
        "referenceTo",
        "soapType",
    }
    task = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert task["TaskSubtype"]["createable"] is True and task["TaskSubtype"]["updateable"] is False
    assert (
        task["WhatId"]["referenceTo"] == ["Case", "Account"]
        and task["CallType"]["restrictedPicklist"] is True
    )
    assert task["Status"]["nillable"] is False and task["Status"]["defaultValue"] == "Not Started"


def test_soql_subset(sf: Salesforce) -> None:
    for subject, origin, status in [
        ("a", "Chat", "New"),
        ("b", "SMS", "Closed"),
        ("c", "Chat", "Working"),
        ("d", None, "New"),
    ]:
        body = {"Subject": subject, "Status": status, "CTI_Hub_Key__c": f"k-{subject}"}
        if origin:
            body["Origin"] = origin
        sf.Case.create(body)

    def subjects(where: str) -> list[str]:
        return [r["Subject"] for r in sf.query("SELECT Subject FROM Case " + where)["records"]]  # noqa: S608 - SOQL to the fake

    assert subjects("WHERE Origin = 'Chat' ORDER BY Subject") == ["a", "c"]
    assert subjects("WHERE origin = 'chat' AND status != 'New'") == ["c"]
    assert subjects("WHERE Origin IN ('SMS', 'Chat') ORDER BY Subject DESC LIMIT 2") == ["c", "b"]
    assert subjects("WHERE IsClosed = true") == ["b"]
    assert subjects("WHERE Origin = null") == ["d"]
    assert subjects("WHERE Origin != null AND IsClosed = false ORDER BY Subject ASC") == ["a", "c"]
    assert subjects("WHERE CTI_Hub_Key__c LIKE 'k-%' ORDER BY Subject LIMIT 1 OFFSET 3") == ["d"]
    result = sf.query("SELECT Id, CaseNumber, Status FROM Case WHERE Subject = 'b'")
    assert result["totalSize"] == 1 and result["done"] is True
    record = result["records"][0]
    assert list(record) == ["attributes", "Id", "CaseNumber", "Status"]
    assert record["attributes"]["url"].endswith(record["Id"])
    assert sf.query("SELECT COUNT() FROM Case WHERE Origin = 'Chat'")["totalSize"] == 2
    by_id = sf.query("SELECT Subject FROM Case WHERE Id = '" + record["Id"][:15] + "'")  # noqa: S608
    assert [r["Subject"] for r in by_id["records"]] == ["b"]
    assert sf.query_all("SELECT Id FROM Case")["totalSize"] == 4


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
        ("SELECT Nope__c FROM Case", "INVALID_FIELD"),
        ("SELECT Id FROM Case WHERE IsClosed = 'true'", "INVALID_FIELD"),
        ("SELECT Id FROM Case WHERE Subject = 'a' OR Subject = 'b'", "MALFORMED_QUERY"),
        ("SELECT Id, Account.Name FROM Case", "MALFORMED_QUERY"),
        ("SELECT Id FROM Case WHERE", "MALFORMED_QUERY"),
        ("DELETE FROM Case", "MALFORMED_QUERY"),
    ],
)
def test_soql_rejections(sf: Salesforce, soql: str, code: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query(soql)
    error = error_of(exc)
    assert error["errorCode"] == code
    # The real layout: the query, a caret line, then "ERROR at Row:1:Column:n" and the reason.
    assert error["message"].startswith("\n" + soql + "\n")
    assert "ERROR at Row:1:Column:" in error["message"]


def test_composite_with_references(sf: Salesforce, sb: Sandbox) -> None:
    result = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "PATCH",
                    "url": "/services/data/v59.0/sobjects/Case/CTI_Hub_Key__c/ep-9",
                    "referenceId": "refCase",
                    "body": {"Subject": "From composite", "Origin": "SMS"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Task",
                    "referenceId": "refTask",
                    "body": {
                        "Subject": "SMS outcome",
                        "WhatId": "@{refCase.id}",
                        "CTI_Hub_Event_Key__c": "sms:1",
                    },
                },
                {
                    "method": "GET",
                    "url": "/services/data/v59.0/sobjects/Case/@{refCase.id}?fields=Subject",
                    "referenceId": "refGet",
                },
                {
                    "method": "GET",
                    "url": "/services/data/v59.0/query/?q=SELECT Id, WhatId FROM Task",
                    "referenceId": "refQuery",
                },
            ],
        },
    )
    responses = result["compositeResponse"]
    assert [r["httpStatusCode"] for r in responses] == [201, 201, 200, 200]
    assert [r["referenceId"] for r in responses] == ["refCase", "refTask", "refGet", "refQuery"]
    case_id = responses[0]["body"]["id"]
    assert responses[0]["body"]["created"] is True
    assert responses[1]["httpHeaders"]["Location"].endswith(responses[1]["body"]["id"])
    assert responses[2]["body"]["Subject"] == "From composite"
    assert responses[3]["body"]["records"][0]["WhatId"] == case_id
    # A composite is one API call.
    assert [entry for entry in sb.request_log if "composite" in entry[1]] == [
        ("POST", "/services/data/v59.0/composite")
    ]


def test_composite_all_or_none_rolls_back(sf: Salesforce, sb: Sandbox) -> None:
    result = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Case",
                    "referenceId": "ok",
                    "body": {"Subject": "will be rolled back"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Task",
                    "referenceId": "bad",
                    "body": {"WhatId": "@{ok.id}", "CallType": "Carrier Pigeon"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Case",
                    "referenceId": "after",
                    "body": {"Subject": "never runs"},
                },
            ],
        },
    )
    responses = result["compositeResponse"]
    assert [r["httpStatusCode"] for r in responses] == [400, 400, 400]
    assert responses[0]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert responses[1]["body"][0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert responses[2]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert sb.records("salesforce", "Case") == []

    partial = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": False,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Case",
                    "referenceId": "bad",
                    "body": {"Origin": "Fax"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Task",
                    "referenceId": "dependent",
                    "body": {"WhatId": "@{bad.id}"},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Case",
                    "referenceId": "independent",
                    "body": {"Subject": "kept"},
                },
            ],
        },
    )["compositeResponse"]
    assert [r["httpStatusCode"] for r in partial] == [400, 400, 201]
    assert partial[1]["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert [c["Subject"] for c in sb.records("salesforce", "Case")] == ["kept"]


def test_composite_limit(sf: Salesforce) -> None:
    sub = [{"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": f"r{i}"} for i in range(26)]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite", method="POST", json={"compositeRequest": sub})
    assert error_of(exc)["errorCode"] == "LIMIT_EXCEEDED"
    ok = sf.restful("composite", method="POST", json={"compositeRequest": sub[:25]})
    assert len(ok["compositeResponse"]) == 25


def test_collections_create_and_upsert(sf: Salesforce, sb: Sandbox) -> None:
    created = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Acme"},
                {"attributes": {"type": "Contact"}, "FirstName": "No last name"},
            ],
        },
    )
    assert created[0]["success"] is True and created[0]["id"].startswith("001")
    assert created[1] == {
        "success": False,
        "errors": [
            {
                "statusCode": "REQUIRED_FIELD_MISSING",
                "message": "Required fields are missing: [LastName]",
                "fields": ["LastName"],
            }
        ],
    }
    rolled = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": True,
            "records": [
                {"attributes": {"type": "Account"}, "Name": "Rolled"},
                {"attributes": {"type": "Account"}},
            ],
        },
    )
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert rolled[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert [a["Name"] for a in sb.records("salesforce", "Account")] == ["Acme"]

    records = [
        {"attributes": {"type": "Task"}, "CTI_Hub_Event_Key__c": f"ev-{i}", "Subject": f"t{i}"}
        for i in range(3)
    ]
    first = sf.restful(
        "composite/sobjects/Task/CTI_Hub_Event_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert [(r["success"], r["created"]) for r in first] == [(True, True)] * 3
    records[0]["Subject"] = "changed"
    again = sf.restful(
        "composite/sobjects/Task/CTI_Hub_Event_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert [r["created"] for r in again] == [False] * 3
    assert [r["id"] for r in again] == [r["id"] for r in first]
    assert sf.Task.get(first[0]["id"])["Subject"] == "changed"


def test_collections_limit(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Account"}, "Name": f"a{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert error_of(exc) == {
        "errorCode": "EXCEEDED_ID_LIMIT",
        "message": "record limit reached. cannot submit more than 200 records into this call",
    }
    upserts = [{"attributes": {"type": "Case"}, "CTI_Hub_Key__c": f"k{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects/Case/CTI_Hub_Key__c", method="PATCH", json={"records": upserts})
    assert len(sf.restful("composite/sobjects", method="POST", json={"records": records[:200]})) == 200


def test_records_survive_a_restart(sf: Salesforce, engine: Any) -> None:
    case_id = sf.Case.create({"Subject": "durable"})["id"]
    again = Sandbox(engine)
    again.ensure_schema()
    assert salesforce_client(again).Case.get(case_id)["Subject"] == "durable"
