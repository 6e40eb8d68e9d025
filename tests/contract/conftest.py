"""Two worlds for the one contract suite: the real adapters over the sandbox transport, and the real
adapters over ``responses`` answering from the project's recorded-shape fixtures (fixtures/).

Each fixture file is one scenario: ``interactions`` in order, each a ``request`` (method, path,
query, JSON body, headers: all pinned) and the ``response`` (status, headers, body). Ids in them are
the recorded world's; the sandbox world maps them to the ids it made (``World.ids``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from adapters.sandbox import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL, Sandbox
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import ActivityWrite, AdapterConfig, CaseWrite, CustomerProfile

FIXTURES = Path(__file__).parent / "fixtures"
TIMEOUT = (3.5, 12.0)

EPISODE = "ep_01JCONTRACT00000000000001"
EXISTING_EPISODE = "ep_01JCONTRACT00000000000000"
FIRST = "ev_" + "c1" * 16
SECOND = "ev_" + "c2" * 16
EXISTING_EVENT = "ev_" + "c0" * 16
THIRD = "ev_" + "c3" * 16
PHONE_EPISODE = "ep_01JCONTRACT00000000000002"
THIRD_EPISODE = "ep_01JCONTRACT00000000000003"
FOURTH = "ev_" + "c4" * 16

# The recorded world's ids (what the fixture files carry).
RECORDED = {
    "salesforce": {"case": "5005g00000AbCdEAAZ", "missing": "500Sb0000001mMcIAI"},
    "zendesk": {"case": "4014", "missing": "9223372036854775807", "agent": "6130907993000"},
}
RECORDED_HOSTS = {"salesforce": "https://acme.my.salesforce.com", "zendesk": "https://acme.zendesk.com"}
SANDBOX_HOSTS = {"salesforce": SALESFORCE_INSTANCE_URL, "zendesk": ZENDESK_BASE_URL}


def load(crm: str, scenario: str) -> list[dict[str, Any]]:
    return json.loads((FIXTURES / crm / f"{scenario}.json").read_text(encoding="utf-8"))["interactions"]


# -- what every scenario writes (the same in both worlds) ----------------------------------------------

WHO = CustomerProfile(key="cus_c1", name="Ana Lima", email="ana@example.com")
PHONE_ONLY = CustomerProfile(key="cus_c2", name="Bo Chen", phone="+14155550177")
SF_CASE = {"Subject": "Chat · Password reset", "Origin": "Chat", "Priority": "Medium"}
SF_CASE_INTENT = {"CTI_Hub_Intent__c": "password_reset"}
SF_TASK = {"Status": "Completed", "CallDisposition": "Resolved in chat", "CTI_Hub_Channel__c": "chat"}
BODY = "Chat · Password reset done\nIntent: Password reset"
SMS_BODY = "SMS · Resolved by SMS"
ZD_CASE = {
    "subject": "Chat · Password reset",
    "priority": "normal",
    "custom_fields.360000000002": "password_reset",
    "tags": ["ctihub"],
}


def case_write(crm: str, **extra: Any) -> CaseWrite:
    fields = {**SF_CASE, **SF_CASE_INTENT} if crm == "salesforce" else dict(ZD_CASE)
    return CaseWrite(key=EPISODE, fields={**fields, **extra}, customer=WHO)


def first_activity(crm: str, key: str = FIRST) -> ActivityWrite:
    if crm == "salesforce":
        return ActivityWrite(key=key, body=BODY, fields=dict(SF_TASK))
    return ActivityWrite(key=key, body=BODY, fields={"body": BODY, "public": False})


def next_activity(crm: str) -> ActivityWrite:
    if crm == "salesforce":
        return ActivityWrite(
            key=SECOND,
            body=BODY,
            fields=dict(SF_TASK),
            case_fields={"CTI_Hub_Last_Disposition__c": "CHAT_RESOLVED"},
        )
    return ActivityWrite(
        key=SECOND,
        body=SMS_BODY,
        fields={"custom_fields.360000000001": "ctihub_sms_resolved", "body": SMS_BODY, "public": False},
        case_fields={"status": "open"},
    )


def mapping(crm: str) -> CrmMapping:
    if crm == "salesforce":
        return CrmMapping(
            crm="salesforce",
            case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
            activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
        )
    return CrmMapping(
        crm="zendesk",
        case=ObjectMapping(object="ticket", key_field="external_id"),
        activity=ObjectMapping(object="comment"),
    )


def build(crm: str, settings: dict[str, str], session: Any) -> Any:
    from importlib import import_module

    factory = import_module(f"adapters.{crm}").build_crm
    adapter = factory(
        AdapterConfig(
            settings=settings,
            mapping=mapping(crm),
            session=session,
            connect_timeout=TIMEOUT[0],
            read_timeout=TIMEOUT[1],
        )
    )
    return adapter.without_retries()  # one answer per request: the fixtures are one-shot


# -- the worlds ---------------------------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request the adapter sent and the answer it got."""

    method: str
    path: str
    query: str
    request_body: Any
    status: int
    body: Any


@dataclass
class World:
    kind: str  # "sandbox" or "recorded"
    crm: str
    adapter: Any
    ids: dict[str, str] = field(default_factory=dict)  # recorded id -> this world's id
    sandbox: Sandbox | None = None
    mock: responses.RequestsMock | None = None
    exchanges: list[Exchange] = field(default_factory=list)

    def id(self, name: str) -> str:
        recorded = RECORDED[self.crm][name]
        return self.ids.get(recorded, recorded)

    def expect(self, scenario: str) -> list[dict[str, Any]]:
        """The scenario's recorded interactions; the recorded world answers with them (strictly)."""
        interactions = load(self.crm, scenario)
        self.exchanges.clear()
        if self.mock is not None:
            for item in interactions:
                register(self.mock, self.crm, item)
        return interactions


def register(mock: responses.RequestsMock, crm: str, item: dict[str, Any]) -> None:
    request, response = item["request"], item["response"]
    match = [matchers.query_string_matcher(request.get("query") or None)]
    if request.get("body") is not None:
        match.append(matchers.json_params_matcher(request["body"], strict_match=True))
    if request.get("headers"):
        match.append(matchers.header_matcher(request["headers"]))
    body = response.get("body")
    mock.add(
        request["method"],
        RECORDED_HOSTS[crm] + request["path"],
        body="" if body is None else json.dumps(body),
        status=response["status"],
        headers=response.get("headers") or {},
        match=match,
    )


def _capture(world: World) -> Any:
    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        from urllib.parse import urlsplit

        url = urlsplit(response.request.url or "")
        raw = response.request.body
        world.exchanges.append(
            Exchange(
                method=str(response.request.method),
                path=url.path,
                query=url.query,
                request_body=json.loads(raw) if raw else None,
                status=response.status_code,
                body=response.json() if response.content else None,
            )
        )

    return hook


def sandbox_world(crm: str, tmp_path: Path) -> World:
    from sqlalchemy import create_engine

    box = Sandbox(create_engine(f"sqlite:///{tmp_path / 'contract.db'}"))
    box.ensure_schema()
    box.strict_zendesk_fields = False  # Zendesk drops unknown fields and options silently (see test)
    session = box.session()
    settings = (
        {"instance_url": SALESFORCE_INSTANCE_URL, "access_token": "sandbox-token"}
        if crm == "salesforce"
        else {"subdomain": "sandbox", "email": "hub@sandbox.invalid", "api_token": "sandbox-token"}
    )
    world = World("sandbox", crm, build(crm, settings, session), sandbox=box)
    session.hooks["response"].append(_capture(world))
    # The records the scenarios find or append to: made through the adapter, as production would.
    existing = world.adapter.create_case(
        CaseWrite(key=EXISTING_EPISODE, fields=case_write(crm).fields, customer=WHO),
        first_activity(crm, EXISTING_EVENT),
        retrying=False,
    )
    world.ids[RECORDED[crm]["case"]] = existing.case.id
    if crm == "zendesk":
        agent = next(u for u in box.records("zendesk", "user") if u["email"] == "hub@sandbox.invalid")
        world.ids[RECORDED[crm]["agent"]] = str(agent["id"])
    else:
        from adapters.sandbox.salesforce import make_id

        assert make_id("500", 424242) == RECORDED[crm]["missing"]  # a well-formed id of no record
    world.exchanges.clear()
    return world


def recorded_world(crm: str, mock: responses.RequestsMock) -> World:
    settings = (
        {"instance_url": RECORDED_HOSTS[crm], "access_token": "00DAcme!recorded"}
        if crm == "salesforce"
        else {"subdomain": "acme", "email": "hub@acme.test", "api_token": "recorded-token"}
    )
    return World("recorded", crm, build(crm, settings, None), mock=mock)


@pytest.fixture(params=["sandbox", "recorded"])
def world(request: pytest.FixtureRequest, crm: str, tmp_path: Path) -> Iterator[World]:
    """``crm`` comes from the test's parametrization (only the scenarios each CRM has)."""
    if request.param == "sandbox":
        built = sandbox_world(crm, tmp_path)
        yield built
        assert built.sandbox is not None
        built.sandbox.engine.dispose()
        return
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield recorded_world(crm, mock)
        for call in mock.calls:
            assert call.request.req_kwargs["timeout"] == TIMEOUT, call.request.url
