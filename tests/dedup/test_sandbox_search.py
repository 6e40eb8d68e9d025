"""The sandbox's ``GET /api/v2/search.json`` (ticket search as ``ZendeskRepair`` uses it)."""

from __future__ import annotations

import pytest

from tests.dedup.conftest import ZD


@pytest.mark.parametrize("crm", ["zendesk"])
def test_ticket_search_by_status_requester_and_custom_field(world):
    jane = world.zd_user(email="jane@example.com")
    bob = world.zd_user(email="bob@example.com")
    a = world.zd_ticket(jane, "billing", "A")
    b = world.zd_ticket(jane, "billing", "B", status="pending")
    world.zd_ticket(jane, "billing", "C", status="solved")
    world.zd_ticket(jane, "order_status", "D")
    world.zd_ticket(bob, "billing", "E")

    def ids(query: str, **params: str) -> list[str]:
        answer = world._call("GET", f"{ZD}/search.json", params={"query": query, **params})
        assert all(r["result_type"] == "ticket" for r in answer["results"])
        assert answer["count"] == len(answer["results"])
        return [str(r["id"]) for r in answer["results"]]

    wanted = 'type:ticket status<solved requester:{} custom_field_360000000002:"billing"'
    assert ids(wanted.format(jane), sort_by="created_at", sort_order="asc") == [a, b]
    assert ids(wanted.format("jane@example.com"), sort_by="created_at", sort_order="asc") == [a, b]
    assert ids(wanted.format(jane) + " -status:pending") == [a]
    assert ids("type:ticket status:pending") == [b]
    assert ids(wanted.format("nobody@example.com")) == []


@pytest.mark.parametrize("crm", ["zendesk"])
def test_search_refuses_what_it_does_not_support(world):
    response = world.http.get(
        f"{ZD}/search.json", params={"query": "type:ticket brand:x"}, auth=("a@b.co/token", "t")
    )
    assert response.status_code == 400 and "brand" in response.json()["description"]
    response = world.http.get(
        f"{ZD}/search.json", params={"query": "type:ticket", "page": "11"}, auth=("a@b.co/token", "t")
    )
    assert response.status_code == 422
