"""The sandbox's groups (Zendesk) and queues (Salesforce) that ``routing.yaml`` assigns new cases to.

Zendesk: ``GET /api/v2/groups.json`` in the Support OAS's shape (``GroupObject``: url, id, is_public,
name, description, default, deleted, created_at, updated_at), offset-paginated like the real list
(``page``, ``per_page`` at most 100, ``next_page``/``previous_page`` URLs, ``count``); ``exclude_deleted``
is honoured. Salesforce: ``Group`` records of ``Type = 'Queue'`` and their ``QueueSobject`` rows,
answered by the SOQL of ``adapters.sandbox.salesforce`` (the ids are rendered there).

A few are seeded so the demo routes cases (the shipped ``mappings/routing.yaml`` names them), and one
queue supports Leads only, so ``ctihub crm check`` has something to say about it. Each API object
keeps its own list (``ZendeskApi.groups``, ``SalesforceApi.queues``), which tests may extend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .common import ApiResponse

GROUPS_CREATED_AT = "2026-01-05T09:00:00Z"


@dataclass(frozen=True)
class SandboxGroup:
    id: int
    name: str
    default: bool = False
    deleted: bool = False
    description: str = ""

    def render(self, base_url: str) -> dict[str, Any]:
        return {
            "url": f"{base_url}/api/v2/groups/{self.id}.json",
            "id": self.id,
            "is_public": True,
            "name": self.name,
            "description": self.description,
            "default": self.default,
            "deleted": self.deleted,
            "created_at": GROUPS_CREATED_AT,
            "updated_at": GROUPS_CREATED_AT,
        }


@dataclass(frozen=True)
class SandboxQueue:
    pk: int  # the Group record's number (its Id is rendered from it)
    developer_name: str
    name: str
    sobjects: tuple[str, ...] = ("Case",)


SEEDED_GROUPS: tuple[SandboxGroup, ...] = (
    SandboxGroup(360000000501, "Support", default=True, description="First line"),
    SandboxGroup(360000000502, "Billing", description="Invoices, refunds, plan changes"),
    SandboxGroup(360000000503, "Escalations", description="Urgent problems"),
    SandboxGroup(360000000504, "Soporte en español"),
    SandboxGroup(360000000505, "Retired team", deleted=True),
)

SEEDED_QUEUES: tuple[SandboxQueue, ...] = (
    SandboxQueue(1, "Support_Queue", "Support"),
    SandboxQueue(2, "Billing_Queue", "Billing"),
    SandboxQueue(3, "Escalations_Queue", "Escalations"),
    SandboxQueue(4, "Spanish_Support", "Soporte en español"),
    SandboxQueue(5, "Leads_Queue", "Leads", ("Lead",)),
)


def _int(text: str, default: int) -> int:
    return int(text) if text.isdigit() else default


def groups_page(groups: Sequence[SandboxGroup], base_url: str, query: Mapping[str, list[str]]) -> ApiResponse:
    """One page of ``GET /api/v2/groups.json`` (offset pagination)."""
    exclude_deleted = (query.get("exclude_deleted") or ["false"])[0].lower() == "true"
    listed = [group for group in groups if not (exclude_deleted and group.deleted)]
    per_page = min(max(_int((query.get("per_page") or ["100"])[0], 100), 1), 100)
    page = max(_int((query.get("page") or ["1"])[0], 1), 1)
    chunk = listed[(page - 1) * per_page : page * per_page]
    base = f"{base_url}/api/v2/groups.json"
    extra = "&exclude_deleted=true" if exclude_deleted else ""
    more = page * per_page < len(listed)
    return ApiResponse(
        200,
        {
            "groups": [group.render(base_url) for group in chunk],
            "next_page": f"{base}?page={page + 1}&per_page={per_page}{extra}" if more else None,
            "previous_page": f"{base}?page={page - 1}&per_page={per_page}{extra}" if page > 1 else None,
            "count": len(listed),
        },
    )


def group_id_problem(groups: Sequence[SandboxGroup], value: Any) -> str | None:
    """Why a ticket's ``group_id`` is refused (no such group, or a deleted one), None when fine."""
    if value is None:
        return None
    found = next((g for g in groups if str(g.id) == str(value) and not g.deleted), None)
    return None if found is not None else "Group: is invalid"
