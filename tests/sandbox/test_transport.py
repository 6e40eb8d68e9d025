"""The requests transport, fault injection, latency, and the blueprint served over a Flask app."""

from __future__ import annotations

import pytest
import requests
from flask import Flask
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceRefusedRequest
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import RatelimitBudgetExceeded

from adapters.sandbox import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL, Sandbox

from .conftest import zendesk_client

AUTH = ("agent@example.com/token", "t")


def ticket() -> Ticket:
    return Ticket(subject="s", comment=Comment(body="b"))


def test_other_hosts_are_refused(sb: Sandbox) -> None:
    session = sb.session()
    for url in (
        "https://example.com/",
        "https://login.salesforce.com/services/oauth2/token",
        "http://sandbox.zendesk.com/api/v2/tickets.json",
    ):
        with pytest.raises(requests.ConnectionError):
            session.get(url)
    assert sb.request_log == []


def test_rate_limit_fault_then_recovery(sb: Sandbox, zd: Zenpy) -> None:
    fault = sb.faults.add(method="POST", path_contains="/tickets", status=429, headers={"Retry-After": "7"})
    raw = sb.session().post(
        f"{ZENDESK_BASE_URL}/api/v2/tickets.json", json={"ticket": {"comment": {"body": "x"}}}, auth=AUTH
    )
    assert raw.status_code == 429 and raw.headers["Retry-After"] == "7"
    assert raw.json()["error"] == "APIRateLimitExceeded"
    assert fault.hits == 1 and sb.faults.armed == []
    assert zd.tickets.create(ticket()).ticket.id == 1
    assert [m for m, _p in sb.request_log] == ["POST", "POST"]

    sb.faults.add(method="POST", path_contains="/tickets", status=429, headers={"Retry-After": "3"})
    with pytest.raises(RatelimitBudgetExceeded):
        zendesk_client(sb).tickets.create(ticket())


def test_salesforce_request_limit_fault(sb: Sandbox, sf: Salesforce) -> None:
    sb.faults.add(crm="salesforce", path_contains="/sobjects/Case", status=403, times=None)
    for _ in range(2):
        with pytest.raises(SalesforceRefusedRequest) as exc:
            sf.Case.create({"Subject": "x"})
        assert exc.value.content == [
            {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
        ]
    sb.faults.clear()
    assert sf.Case.create({"Subject": "x"})["success"] is True


def test_exception_faults_before_and_after(sb: Sandbox, sf: Salesforce) -> None:
    sb.faults.add(method="PATCH", path_contains="CTI_Hub_Key__c", exception=requests.ReadTimeout)
    with pytest.raises(requests.ReadTimeout):
        sf.Case.upsert("CTI_Hub_Key__c/ep-1", {"Subject": "lost before"})
    assert sb.records("salesforce", "Case") == []

    sb.faults.add(
        method="PATCH", path_contains="CTI_Hub_Key__c", exception=requests.ReadTimeout, when="after"
    )
    with pytest.raises(requests.ReadTimeout):
        sf.Case.upsert("CTI_Hub_Key__c/ep-1", {"Subject": "reached the CRM"})
    assert [c["Subject"] for c in sb.records("salesforce", "Case")] == ["reached the CRM"]
    # The retry is an update of the same record, not a second one.
    assert sf.Case.upsert("CTI_Hub_Key__c/ep-1", {"Subject": "retried"}) == 200
    assert [c["Subject"] for c in sb.records("salesforce", "Case")] == ["retried"]


def test_status_fault_after_the_write(sb: Sandbox) -> None:
    sb.faults.add(crm="zendesk", method="POST", status=503, when="after")
    response = sb.session().post(
        f"{ZENDESK_BASE_URL}/api/v2/tickets.json", json={"ticket": {"comment": {"body": "x"}}}, auth=AUTH
    )
    assert response.status_code == 503
    assert len(sb.records("zendesk", "ticket")) == 1


def test_latency_uses_the_injected_sleep(sb: Sandbox, sf: Salesforce) -> None:
    waits: list[float] = []
    sb.sleep = waits.append
    sb.latency_seconds = 0.25
    sf.Case.create({"Subject": "slow"})
    sf.query("SELECT Id FROM Case")
    assert waits == [0.25, 0.25]


def test_request_log_and_clear(sb: Sandbox, sf: Salesforce) -> None:
    sf.Case.upsert("CTI_Hub_Key__c/a b", {"Subject": "x"})
    assert sb.request_log == [("PATCH", "/services/data/v59.0/sobjects/Case/CTI_Hub_Key__c/a b")]
    sb.clear_log()
    assert sb.request_log == []
    sb.reset()
    assert sb.records("salesforce", "Case") == []


def test_blueprint_serves_both_apis_under_the_hub_prefix(sb: Sandbox) -> None:
    app = Flask(__name__)
    app.register_blueprint(sb.blueprint(), url_prefix="/sandbox")
    client = app.test_client()
    bearer = {"Authorization": "Bearer token"}
    describe = client.get("/sandbox/salesforce/services/data/v60.0/sobjects/Case/describe", headers=bearer)
    assert describe.status_code == 200 and describe.json["name"] == "Case"
    assert describe.headers["Sforce-Limit-Info"].startswith("api-usage=")
    upsert = client.patch(
        "/sandbox/salesforce/services/data/v60.0/sobjects/Case/CTI_Hub_Key__c/a%2Fb",
        json={"Subject": "slash"},
        headers=bearer,
    )
    assert upsert.status_code == 201 and upsert.json["created"] is True
    fetched = client.get(
        "/sandbox/salesforce/services/data/v60.0/sobjects/Case/CTI_Hub_Key__c/a%2Fb", headers=bearer
    )
    assert fetched.json["Subject"] == "slash" and fetched.json["CTI_Hub_Key__c"] == "a/b"
    assert client.get("/sandbox/salesforce/services/data/v60.0/sobjects/Case/describe").status_code == 401

    created = client.post(
        "/sandbox/zendesk/api/v2/tickets.json", json={"ticket": {"comment": {"body": "hi"}}}, auth=AUTH
    )
    assert created.status_code == 201
    listed = client.get("/sandbox/zendesk/api/v2/tickets", auth=AUTH)
    assert listed.json["count"] == 1
    assert client.get("/sandbox/zendesk/api/v2/nothing_here.json", auth=AUTH).status_code == 404
    # The same records are visible through the in-process transport.
    sf = Salesforce(instance_url=SALESFORCE_INSTANCE_URL, session_id="x", session=sb.session())
    assert sf.Case.get_by_custom_id("CTI_Hub_Key__c", "a/b")["Subject"] == "slash"
