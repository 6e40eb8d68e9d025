"""The org's queues and whether each takes Cases: ``hub.ports.RoutingSource`` for ``SalesforceCRM``.

    POST composite  (allOrNone false; one call against the org's quota)
      queues    GET query?q=SELECT Id, DeveloperName, Name FROM Group WHERE Type = 'Queue'
      supports  GET query?q=SELECT QueueId FROM QueueSobject WHERE SobjectType = '<case object>'
    GET <nextRecordsUrl>   only for a list longer than a page (2,000 rows)

Two queries, not a semi-join, so a queue that exists but does not support Cases can be told from
one that does not exist: assigning a Case to it fails, and ``ctihub crm check`` says which queue to
enable. The hub keeps the list for minutes (``hub.services.routing``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from hub.domain.errors import CrmRetryable
from hub.ports import RoutingTarget

from .errors import CRM, from_answer
from .repair import soql_literal

QUEUES = "SELECT Id, DeveloperName, Name FROM Group WHERE Type = 'Queue'"
MAX_PAGES = 10

Composite = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]  # subrequests -> compositeResponse
More = Callable[[str], Any]  # nextRecordsUrl -> the next page of a query


def supports_soql(case_object: str) -> str:
    return f"SELECT QueueId FROM QueueSobject WHERE SobjectType = {soql_literal(case_object)}"  # noqa: S608


def read_queues(composite: Composite, more: More, data_path: str, case_object: str) -> list[RoutingTarget]:
    wanted = {"queues": QUEUES, "supports": supports_soql(case_object)}
    subrequests = [
        {"method": "GET", "url": f"{data_path}/query?q={quote(soql)}", "referenceId": reference}
        for reference, soql in wanted.items()
    ]
    answers = {str(entry.get("referenceId")): entry for entry in composite(subrequests)}
    rows = {reference: _records(answers.get(reference), more) for reference in wanted}
    takes_cases = {str(row.get("QueueId"))[:15] for row in rows["supports"]}
    return [
        RoutingTarget(
            id=str(row["Id"]),
            name=str(row.get("Name") or ""),
            developer_name=row.get("DeveloperName"),
            accepts_cases=str(row["Id"])[:15] in takes_cases,
        )
        for row in rows["queues"]
        if row.get("Id")
    ]


def _records(entry: dict[str, Any] | None, more: More) -> list[dict[str, Any]]:
    if entry is None:
        raise CrmRetryable("Salesforce's composite answer lacks a query", crm=CRM)
    status = int(entry.get("httpStatusCode") or 0)
    body = entry.get("body")
    if status >= 300 or not isinstance(body, dict):
        raise from_answer(status, body, entry.get("httpHeaders"))
    records = [row for row in body.get("records") or () if isinstance(row, dict)]
    for _ in range(MAX_PAGES):
        if body.get("done", True) or not body.get("nextRecordsUrl"):
            break
        body = more(str(body["nextRecordsUrl"]))
        records += [row for row in body.get("records") or () if isinstance(row, dict)]
    return records


def case_exists_soql(case_object: str, key_field: str, key: str) -> str:
    """Whether the case of this hub key exists (asked before a retried create that assigns a queue).
    Object and field names come from the checked mapping; the value is a quoted literal."""
    return f"SELECT Id FROM {case_object} WHERE {key_field} = {soql_literal(key)} LIMIT 1"  # noqa: S608
