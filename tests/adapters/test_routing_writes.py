"""Routing in the adapters, pinned with ``responses``: the groups/queues listings as the APIs answer
them, the create that carries ``group_id`` / ``OwnerId``, and the retried create that finds the
record already there and leaves its owner alone (an agent may have moved it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from responses import matchers

from adapters import salesforce, zendesk
from adapters.salesforce import SalesforceCRM
from adapters.zendesk import ZendeskCRM
from adapters.zendesk.crm import comment_body
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import AdapterConfig, CaseWrite, Routing, RoutingTarget
from tests.adapters import test_salesforce as sf
from tests.adapters import test_zendesk as zd

GROUP_ID = 360000000502
QUEUE_ID = "00G5g000004AbCdEAK"
QUERY = f"{sf.INSTANCE}/services/data/v59.0/query/"
CASE_EXISTS = f"SELECT Id FROM Case WHERE CTI_Hub_Key__c = '{sf.EPISODE}' LIMIT 1"  # noqa: S608


@pytest.fixture(autouse=True)
def _zendesk_requests_match_the_oas(mocked: responses.RequestsMock, zendesk_oas: Any) -> Iterator[None]:
    yield
    for call in mocked.calls:
        if call.request.url.startswith(zd.API):
            zendesk_oas(call)


@pytest.fixture
def zendesk_crm(timeouts: tuple[float, float]) -> ZendeskCRM:
    mapping = CrmMapping(
        "zendesk", ObjectMapping("ticket", key_field="external_id"), ObjectMapping("comment")
    )
    return zendesk.build_crm(zd.config(mapping, timeouts))


@pytest.fixture
def salesforce_crm(timeouts: tuple[float, float]) -> SalesforceCRM:
    mapping = CrmMapping(
        "salesforce",
        ObjectMapping("Case", key_field="CTI_Hub_Key__c"),
        ObjectMapping("Task", key_field="CTI_Hub_Event_Key__c"),
    )
    settings = {"instance_url": sf.INSTANCE, "access_token": sf.TOKEN}
    return salesforce.build_crm(
        AdapterConfig(settings, mapping, connect_timeout=timeouts[0], read_timeout=timeouts[1])
    )


def routed(write: CaseWrite, target_id: str, kind: str) -> CaseWrite:
    decided = Routing(kind=kind, target="Billing", id=target_id, rule="rules[0]", line=3)
    return CaseWrite(key=write.key, fields=write.fields, customer=write.customer, routing=decided)


def group(group_id: int, name: str, **extra: Any) -> dict[str, Any]:
    """A GroupObject as ``GET /api/v2/groups`` lists it (Support OAS example shape)."""
    return {
        "url": f"{zd.API}/groups/{group_id}.json",
        "id": group_id,
        "is_public": True,
        "name": name,
        "description": "",
        "default": False,
        "deleted": False,
        "created_at": "2009-05-13T00:07:08Z",
        "updated_at": "2011-07-22T00:11:12Z",
        **extra,
    }


# -- Zendesk ----------------------------------------------------------------------------------------


def test_zendesk_groups_are_listed_page_by_page(
    mocked: responses.RequestsMock, zendesk_crm: ZendeskCRM
) -> None:
    second = f"{zd.API}/groups.json?page=2&per_page=100&exclude_deleted=true"
    mocked.get(
        f"{zd.API}/groups.json",
        match=[matchers.query_string_matcher("per_page=100&exclude_deleted=true")],
        json=zd.listing("groups", [group(211, "DJs"), group(122, "MCs")], next_page=second),
    )
    mocked.get(
        f"{zd.API}/groups.json",
        match=[matchers.query_string_matcher("page=2&per_page=100&exclude_deleted=true")],
        json=zd.listing("groups", [group(GROUP_ID, "Billing"), group(9, "Gone", deleted=True)]),
    )

    targets = zendesk_crm.routing_targets()

    assert targets == [
        RoutingTarget(id="211", name="DJs"),
        RoutingTarget(id="122", name="MCs"),
        RoutingTarget(id=str(GROUP_ID), name="Billing"),
    ]  # a deleted group is no target
    assert len(mocked.calls) == 2


def test_zendesk_create_carries_the_group(mocked: responses.RequestsMock, zendesk_crm: ZendeskCRM) -> None:
    mocked.post(
        f"{zd.API}/tickets.json",
        json=zd.write_answer(body=comment_body(zd.BODY, zd.EVENT)),
        status=201,
        headers={"x-idempotency-lookup": "miss"},
    )

    zendesk_crm.create_case(
        routed(zd.case_write(), str(GROUP_ID), "group"), zd.activity_write(), retrying=False
    )

    sent = json.loads(mocked.calls[0].request.body)["ticket"]
    assert sent["group_id"] == GROUP_ID
    assert sent["external_id"] == zd.EPISODE
    assert mocked.calls[0].request.headers["Idempotency-Key"] == zd.EPISODE


def test_zendesk_unresolved_routing_sends_no_group(
    mocked: responses.RequestsMock, zendesk_crm: ZendeskCRM
) -> None:
    mocked.post(
        f"{zd.API}/tickets.json",
        json=zd.write_answer(body=comment_body(zd.BODY, zd.EVENT)),
        status=201,
        headers={"x-idempotency-lookup": "miss"},
    )
    write = zd.case_write()
    unresolved = Routing(kind="group", target="Nope", id=None, rule="default", problem="no group 'Nope'")
    write = CaseWrite(key=write.key, fields=write.fields, customer=write.customer, routing=unresolved)

    zendesk_crm.create_case(write, zd.activity_write(), retrying=False)

    assert "group_id" not in json.loads(mocked.calls[0].request.body)["ticket"]


def test_zendesk_retried_create_of_an_existing_ticket_never_sets_its_group(
    mocked: responses.RequestsMock, zendesk_crm: ZendeskCRM
) -> None:
    """The first try landed, then an agent moved the ticket: the retry appends, group untouched."""
    mocked.get(
        f"{zd.API}/tickets.json",
        match=[matchers.query_string_matcher(f"external_id={zd.EPISODE}")],
        json=zd.listing("tickets", [zd.ticket(zd.TICKET_ID, "open", group_id=777)]),
    )
    mocked.get(
        f"{zd.API}/tickets/{zd.TICKET_ID}/comments.json",
        match=[matchers.query_string_matcher("sort_order=desc")],
        json=zd.listing("comments", []),
    )
    mocked.put(
        f"{zd.API}/tickets/{zd.TICKET_ID}.json", json=zd.write_answer(body=comment_body(zd.BODY, zd.EVENT))
    )

    zendesk_crm.create_case(
        routed(zd.case_write(), str(GROUP_ID), "group"), zd.activity_write(), retrying=True
    )

    update = json.loads(mocked.calls[2].request.body)["ticket"]
    assert "group_id" not in update
    assert update["comment"]["body"].endswith(zd.MARKER)


# -- Salesforce -------------------------------------------------------------------------------------


def queries(answers: dict[str, list[dict[str, Any]]], mocked: responses.RequestsMock) -> None:
    for soql, records in answers.items():
        mocked.get(
            QUERY,
            match=[matchers.query_param_matcher({"q": soql})],
            json={"totalSize": len(records), "done": True, "records": records},
        )


def record(sobject: str, record_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": sobject, "url": f"{sf.PATH}/{sobject}/{record_id}"},
        "Id": record_id,
        **fields,
    }


def query_entry(reference: str, records: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    body = {"totalSize": len(records), "done": True, "records": records, **more}
    return {"body": body, "httpHeaders": {}, "httpStatusCode": 200, "referenceId": reference}


def test_salesforce_queues_and_whether_each_takes_cases_in_one_composite(
    mocked: responses.RequestsMock, salesforce_crm: SalesforceCRM
) -> None:
    leads = "00G5g000004LeAdEAK"
    page_two = "/services/data/v59.0/query/01gD0000002HU6KIAW-2000"
    expected = {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "GET",
                "url": "/services/data/v59.0/query?q=SELECT%20Id%2C%20DeveloperName%2C%20Name%20FROM%20Group"
                "%20WHERE%20Type%20%3D%20%27Queue%27",
                "referenceId": "queues",
            },
            {
                "method": "GET",
                "url": "/services/data/v59.0/query?q=SELECT%20QueueId%20FROM%20QueueSobject%20WHERE"
                "%20SobjectType%20%3D%20%27Case%27",
                "referenceId": "supports",
            },
        ],
    }
    mocked.post(
        sf.COMPOSITE,
        match=[matchers.json_params_matcher(expected, strict_match=True)],
        json=sf.composite(
            query_entry(
                "queues",
                [record("Group", QUEUE_ID, DeveloperName="Billing_Queue", Name="Billing")],
                done=False,
                nextRecordsUrl=page_two,
            ),
            query_entry("supports", [{"attributes": {"type": "QueueSobject"}, "QueueId": QUEUE_ID[:15]}]),
        ),
    )
    mocked.get(
        f"{sf.INSTANCE}{page_two}",
        json={
            "totalSize": 2,
            "done": True,
            "records": [record("Group", leads, DeveloperName="Leads_Queue", Name="Leads")],
        },
    )

    targets = salesforce_crm.routing_targets()

    assert targets == [  # a QueueId of 15 characters matches the 18-character Id
        RoutingTarget(id=QUEUE_ID, name="Billing", developer_name="Billing_Queue", accepts_cases=True),
        RoutingTarget(id=leads, name="Leads", developer_name="Leads_Queue", accepts_cases=False),
    ]
    assert len(mocked.calls) == 2  # one call, plus the second page of a long list


def test_salesforce_create_upserts_the_case_with_the_queue_as_owner(
    mocked: responses.RequestsMock, salesforce_crm: SalesforceCRM
) -> None:
    mocked.post(sf.COMPOSITE, json=sf.created_both())

    salesforce_crm.create_case(
        routed(sf.case_write(), QUEUE_ID, "queue"), sf.activity_write(), retrying=False
    )

    [case, _task] = sf.subrequests(mocked.calls[0])
    assert case["url"] == f"{sf.PATH}/Case/CTI_Hub_Key__c/{sf.EPISODE}"
    assert case["body"]["OwnerId"] == QUEUE_ID
    assert len(mocked.calls) == 1  # a first try asks nothing before writing


def test_salesforce_retried_create_of_an_existing_case_keeps_its_owner(
    mocked: responses.RequestsMock, salesforce_crm: SalesforceCRM
) -> None:
    queries({CASE_EXISTS: [record("Case", sf.CASE_ID)]}, mocked)
    mocked.post(sf.COMPOSITE, json=sf.created_both(case_created=False, task_created=True))

    salesforce_crm.create_case(routed(sf.case_write(), QUEUE_ID, "queue"), sf.activity_write(), retrying=True)

    [case, _task] = sf.subrequests(mocked.calls[1])
    assert "OwnerId" not in case["body"]  # the upsert would reassign a case an agent may have moved


def test_salesforce_retried_create_of_a_missing_case_assigns_it(
    mocked: responses.RequestsMock, salesforce_crm: SalesforceCRM
) -> None:
    queries({CASE_EXISTS: []}, mocked)
    mocked.post(sf.COMPOSITE, json=sf.created_both())

    salesforce_crm.create_case(routed(sf.case_write(), QUEUE_ID, "queue"), sf.activity_write(), retrying=True)

    [case, _task] = sf.subrequests(mocked.calls[1])
    assert case["body"]["OwnerId"] == QUEUE_ID
