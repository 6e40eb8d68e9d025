"""Scenarios run against every database the sandbox supports (SQLite here, PostgreSQL in test_postgres)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from zenpy.lib.api_objects import Comment, Ticket

from adapters.sandbox import ZENDESK_BASE_URL, Sandbox

from .conftest import salesforce_client, zendesk_client

T = TypeVar("T")
THREADS = 8


def race(work: Callable[[int], T], n: int = THREADS) -> list[T]:
    """Run ``work(i)`` in ``n`` threads released together."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def concurrent_salesforce_upserts(sb: Sandbox) -> None:
    clients = [salesforce_client(sb) for _ in range(THREADS)]

    def upsert(i: int) -> tuple[int, str]:
        response = clients[i].Case.upsert(
            "CTI_Hub_Key__c/race-1", {"Subject": f"thread {i}"}, raw_response=True
        )
        return response.status_code, response.json()["id"]

    results = race(upsert)
    assert sorted(status for status, _ in results) == [200] * (THREADS - 1) + [201]
    assert len({record_id for _, record_id in results}) == 1
    assert [c["CTI_Hub_Key__c"] for c in sb.records("salesforce", "Case")].count("race-1") == 1


def concurrent_zendesk_idempotent_creates(sb: Sandbox) -> None:
    sessions = [sb.session() for _ in range(THREADS)]
    payload = {"ticket": {"subject": "race", "comment": {"body": "same event"}, "external_id": "ep-race"}}

    def create(i: int) -> tuple[int, str, int]:
        response = sessions[i].post(
            f"{ZENDESK_BASE_URL}/api/v2/tickets.json",
            json=payload,
            headers={"Idempotency-Key": "event-race"},
            auth=("agent@example.com/token", "t"),
        )
        return response.status_code, response.headers["x-idempotency-lookup"], response.json()["ticket"]["id"]

    results = race(create)
    assert {status for status, _, _ in results} == {201}
    assert sorted(lookup for _, lookup, _ in results) == ["hit"] * (THREADS - 1) + ["miss"]
    assert len({ticket_id for _, _, ticket_id in results}) == 1
    assert [t["external_id"] for t in sb.records("zendesk", "ticket")].count("ep-race") == 1


def concurrent_zendesk_users(sb: Sandbox) -> None:
    sessions = [sb.session() for _ in range(THREADS)]

    def create_or_update(i: int) -> tuple[int, int]:
        response = sessions[i].post(
            f"{ZENDESK_BASE_URL}/api/v2/users/create_or_update.json",
            json={"user": {"name": f"Caller {i}", "email": "caller@example.com"}},
            auth=("agent@example.com/token", "t"),
        )
        assert response.status_code in (200, 201), response.text
        return response.status_code, response.json()["user"]["id"]

    results = race(create_or_update)
    assert sorted(status for status, _ in results) == [200] * (THREADS - 1) + [201]
    assert len({user_id for _, user_id in results}) == 1


def salesforce_round_trip(sb: Sandbox) -> None:
    sf = salesforce_client(sb)
    first = sf.Case.upsert("CTI_Hub_Key__c/ep-1", {"Subject": "one", "Origin": "Web"}, raw_response=True)
    second = sf.Case.upsert("CTI_Hub_Key__c/ep-1", {"Subject": "two"}, raw_response=True)
    assert (first.status_code, second.status_code) == (201, 200)
    case_id = first.json()["id"]
    assert second.json()["id"] == case_id
    assert sf.Case.get(case_id)["Subject"] == "two"
    sf.Case.update(case_id, {"Status": "Closed"})
    rows = sf.query("SELECT Id, Subject FROM Case WHERE IsClosed = true AND Origin IN ('Web')")["records"]
    assert [r["Id"] for r in rows] == [case_id]
    composite = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Task",
                    "referenceId": "t1",
                    "body": {"Subject": "ok", "WhatId": case_id},
                },
                {
                    "method": "POST",
                    "url": "/services/data/v59.0/sobjects/Task",
                    "referenceId": "t2",
                    "body": {"Subject": "bad", "Bogus__c": 1},
                },
            ],
        },
    )["compositeResponse"]
    assert [r["httpStatusCode"] for r in composite] == [400, 400]
    assert sb.records("salesforce", "Task") == []
    upserted = sf.restful(
        "composite/sobjects/Task/CTI_Hub_Event_Key__c",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [{"attributes": {"type": "Task"}, "CTI_Hub_Event_Key__c": "e1", "WhatId": case_id}],
        },
    )
    assert upserted[0]["created"] is True


def zendesk_round_trip(sb: Sandbox) -> Any:
    zd = zendesk_client(sb)
    target = zd.tickets.create(
        Ticket(subject="chat", comment=Comment(body="first"), external_id="ep-1")
    ).ticket
    source = zd.tickets.create(
        Ticket(subject="sms", comment=Comment(body="second"), external_id="ep-1")
    ).ticket
    assert [t.id for t in zd.tickets(external_id="ep-1")] == [target.id, source.id]
    zd.tickets.update(Ticket(id=target.id, comment=Comment(body="note", public=False), status="open"))
    assert [c.body for c in zd.tickets.comments(ticket=target.id)] == ["first", "note"]
    job = zd.tickets.merge(target.id, [source.id], target_comment="merged", source_comment="closed")
    assert zd.job_status(id=job.id).status == "completed"
    assert zd.tickets(id=source.id).status == "closed"
    return zd
