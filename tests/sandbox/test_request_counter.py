"""The per-request counter benchmarks read (``Sandbox.request_counts``), and latency off by default."""

from __future__ import annotations

from collections import Counter

import pytest
from simple_salesforce import Salesforce
from sqlalchemy import Engine

from adapters.sandbox import ZENDESK_BASE_URL, Sandbox
from adapters.sandbox.core import request_kind

AUTH = ("agent@example.com/token", "t")


def test_latency_is_off_by_default(engine: Engine) -> None:
    waits: list[float] = []
    sandbox = Sandbox(engine)
    sandbox.ensure_schema()
    sandbox.sleep = waits.append
    assert sandbox.latency_seconds == 0
    sandbox.session().get(f"{ZENDESK_BASE_URL}/api/v2/tickets.json", auth=AUTH)
    assert waits == []


def test_counts_every_request_by_kind(sb: Sandbox, sf: Salesforce) -> None:
    assert sb.request_counts() == Counter()
    case = sf.Case.create({"Subject": "counted"})
    sf.Case.update(case["id"], {"Subject": "again"})
    sf.Task.upsert("CTI_Hub_Event_Key__c/ev_1", {"Subject": "Call", "WhatId": case["id"]})
    sf.query("SELECT Id FROM Case")
    sf.query("SELECT Id FROM Task")
    session = sb.session()
    session.post(
        f"{ZENDESK_BASE_URL}/api/v2/tickets.json", json={"ticket": {"comment": {"body": "x"}}}, auth=AUTH
    )
    session.put(f"{ZENDESK_BASE_URL}/api/v2/tickets/1.json", json={"ticket": {"status": "open"}}, auth=AUTH)
    session.get(f"{ZENDESK_BASE_URL}/api/v2/job_statuses/V3-abc.json", auth=AUTH)  # 404 still counts

    assert sb.request_counts() == Counter(
        {
            "POST sobjects/Case": 1,
            "PATCH sobjects/Case/{id}": 1,
            "PATCH sobjects/Task/CTI_Hub_Event_Key__c/{key}": 1,
            "GET query": 2,
            "POST tickets": 1,
            "PUT tickets/{id}": 1,
            "GET job_statuses/{id}": 1,
        }
    )
    assert sum(sb.request_counts().values()) == len(sb.request_log) == 8
    sb.clear_log()
    assert sb.request_counts() == Counter()


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", "/services/data/v59.0/composite", "POST composite"),
        ("PATCH", "/services/data/v59.0/composite/sobjects", "PATCH composite/sobjects"),
        ("GET", "/services/data/v59.0/sobjects/Case/describe", "GET sobjects/Case/describe"),
        ("GET", "/services/data/v59.0/query/01gD0000002HU6KIAW-2000", "GET query/{id}"),
        ("POST", "/api/v2/tickets/create_many.json", "POST tickets/create_many"),
        ("PUT", "/api/v2/tickets/update_many.json", "PUT tickets/update_many"),
        ("GET", "/api/v2/tickets/12/comments.json", "GET tickets/{id}/comments"),
        ("GET", "/api/v2/job_statuses/show_many.json", "GET job_statuses/show_many"),
        ("GET", "/api/v2/job_statuses/V3-abcdef.json", "GET job_statuses/{id}"),
        ("GET", "/api/v2/search.json", "GET search"),
        ("POST", "/api/v2/users/create_or_update.json", "POST users/create_or_update"),
    ],
)
def test_request_kind(method: str, path: str, kind: str) -> None:
    assert request_kind(method, path) == kind
