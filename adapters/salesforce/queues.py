"""The org's queues and whether each takes Cases: ``hub.ports.RoutingSource`` for ``SalesforceCRM``.

    SELECT Id, DeveloperName, Name FROM Group WHERE Type = 'Queue'
    SELECT QueueId FROM QueueSobject WHERE SobjectType = '<case object>'

Two queries per listing (the hub keeps the list for minutes: ``hub.services.routing``), not a
semi-join, so a queue that exists but does not support Cases can be told from one that does not
exist: assigning a Case to it fails, and ``ctihub crm check`` says which queue to enable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.ports import RoutingTarget

from .repair import soql_literal

QUEUES = "SELECT Id, DeveloperName, Name FROM Group WHERE Type = 'Queue'"

Query = Callable[[str], Any]  # SOQL -> simple-salesforce's query_all answer ({"records": [...]})


def read_queues(query: Query, case_object: str) -> list[RoutingTarget]:
    queues = query(QUEUES).get("records") or []
    supports = f"SELECT QueueId FROM QueueSobject WHERE SobjectType = {soql_literal(case_object)}"  # noqa: S608
    supported = query(supports).get("records") or []
    takes_cases = {str(row.get("QueueId"))[:15] for row in supported if isinstance(row, dict)}
    return [
        RoutingTarget(
            id=str(row["Id"]),
            name=str(row.get("Name") or ""),
            developer_name=row.get("DeveloperName"),
            accepts_cases=str(row["Id"])[:15] in takes_cases,
        )
        for row in queues
        if isinstance(row, dict) and row.get("Id")
    ]


def case_exists_soql(case_object: str, key_field: str, key: str) -> str:
    """Whether the case of this hub key exists (asked before a retried create that assigns a queue)."""
    # Object and field names come from the mapping (checked), the value is a quoted literal.
    return f"SELECT Id FROM {case_object} WHERE {key_field} = {soql_literal(key)} LIMIT 1"  # noqa: S608
