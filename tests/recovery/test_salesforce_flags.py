"""``SalesforceCRM.opt_outs``: the SOQL it sends (pinned with ``responses``); the sandbox org end to end."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import responses
from responses import matchers
from sqlalchemy import select

from adapters.salesforce import SalesforceCRM, build_crm
from adapters.salesforce.consent import phone_forms, queries
from adapters.sandbox import SALESFORCE_INSTANCE_URL
from hub.domain.errors import CrmRecordRejected
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import AdapterConfig, CustomerProfile
from hub.services.recovery import RecoveryService
from hub.store import recovery as store
from hub.store.tables import consent_ledger
from hub.web import create_app
from tests.e2e.conftest import Poster
from tests.recovery.test_sandbox import _hub

INSTANCE = "https://acme.my.salesforce.com"
QUERY = f"{INSTANCE}/services/data/v59.0/query/"
TOKEN = "00DAcme!sf-session-secret"
TIMEOUT = (3.5, 12.0)
CONTACT = "0035g00000QrStUAAV"
PROFILE = CustomerProfile(
    key="cus_7", phone="+12125550100", email="jo@example.com", external_ids={"salesforce_contact": CONTACT}
)
FORMS = "('+12125550100', '+1 212-555-0100', '(212) 555-0100', '2125550100', '212-555-0100')"
SELECT = "SELECT Id, DoNotCall, HasOptedOutOfEmail FROM Contact WHERE"


@pytest.fixture
def crm() -> SalesforceCRM:
    mapping = CrmMapping(
        crm="salesforce",
        case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
        activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
    )
    config = AdapterConfig(
        settings={"instance_url": INSTANCE, "access_token": TOKEN},
        mapping=mapping,
        connect_timeout=TIMEOUT[0],
        read_timeout=TIMEOUT[1],
    )
    return build_crm(config).without_retries()


def answer(*records: dict) -> dict:
    return {"totalSize": len(records), "done": True, "records": list(records)}


def contact(record_id: str, *, dnc: bool = False, email_out: bool = False) -> dict:
    return {
        "attributes": {"type": "Contact", "url": f"/services/data/v59.0/sobjects/Contact/{record_id}"},
        "Id": record_id,
        "DoNotCall": dnc,
        "HasOptedOutOfEmail": email_out,
    }


def test_the_phone_is_looked_up_in_the_forms_it_is_stored_in():
    assert phone_forms("+12125550100") == [
        "+12125550100",
        "+1 212-555-0100",
        "(212) 555-0100",
        "2125550100",
        "212-555-0100",
    ]
    assert phone_forms("+33142685300")[:3] == ["+33142685300", "+33 1 42 68 53 00", "01 42 68 53 00"]
    assert phone_forms("not a number") == ["not a number"]


def test_the_queries_quote_every_value():
    odd = CustomerProfile(key="k", email="o'brien@example.com")
    assert queries(odd) == [f"{SELECT} Email = 'o\\'brien@example.com'"]


def test_one_query_per_way_to_match_and_a_flag_on_any_contact_counts(crm: SalesforceCRM):
    expected = [
        (f"{SELECT} Id = '{CONTACT}'", answer(contact(CONTACT))),
        (f"{SELECT} Email = 'jo@example.com'", answer(contact(CONTACT), contact("0035g00000Other1AAA"))),
        (f"{SELECT} Phone IN {FORMS}", answer()),
        (f"{SELECT} MobilePhone IN {FORMS}", answer(contact("0035g00000Mobile1AA", dnc=True))),
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        for soql, body in expected:
            mock.get(QUERY, match=[matchers.query_param_matcher({"q": soql})], json=body)
        found = crm.opt_outs(PROFILE)
        calls = list(mock.calls)
    assert [c.request.params["q"] for c in calls] == [soql for soql, _ in expected]
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in calls)
    assert (found.source, dict(found.flags)) == ("crm:salesforce", {"voice": True, "email": False})
    assert found.records == ("0035g00000Mobile1AA", "0035g00000Other1AAA", CONTACT)


def test_only_what_the_profile_has_is_asked(crm: SalesforceCRM):
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(
            QUERY,
            match=[matchers.query_param_matcher({"q": f"{SELECT} Email = 'jo@example.com'"})],
            json=answer(contact(CONTACT, email_out=True)),
        )
        found = crm.opt_outs(CustomerProfile(key="k", email="jo@example.com"))
    assert dict(found.flags) == {"voice": False, "email": True}


def test_a_field_the_integration_user_cannot_see_is_an_error_not_a_clear_flag(crm: SalesforceCRM):
    body = [{"message": "No such column 'DoNotCall' on entity 'Contact'.", "errorCode": "INVALID_FIELD"}]
    with responses.RequestsMock() as mock:
        mock.get(QUERY, status=400, json=body)
        with pytest.raises(CrmRecordRejected) as raised:
            crm.opt_outs(CustomerProfile(key="k", email="jo@example.com"))
    assert raised.value.crm_code == "INVALID_FIELD"


# --- the sandbox org, through simple-salesforce, end to end ------------------------------------------


@pytest.fixture
def salesforce_hub(sqlite_engine, clock):
    hub = _hub("salesforce", sqlite_engine, clock)
    yield hub
    hub.sandbox.reset()


def sandbox_contact(hub, **fields) -> str:
    http = hub.sandbox.session()
    response = http.post(
        f"{SALESFORCE_INSTANCE_URL}/services/data/v59.0/sobjects/Contact/",
        json={"LastName": "Doe", **fields},
        headers={"Authorization": "Bearer agent"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def abandoned_chat(hub, clock) -> RecoveryService:
    post = Poster(create_app(hub=hub).test_client(), clock)
    event = {
        "event_id": "chat-1",
        "source": "web-chat",
        "occurred_at": "2026-11-23T14:58:00Z",
        "channel": "chat",
        "customer": {"phone": "+12125550100", "name": "Jo Doe"},
        "intent": "billing",
        "outcome": "abandoned",
        "consent": {"voice": True},
    }
    assert post(event).status_code == 202
    hub.new_worker().drain()
    service = RecoveryService.for_hub(hub)
    service.tick()
    clock.set(clock.now().replace(hour=14, minute=58) + timedelta(hours=2))
    service.tick()
    service.tick()
    return service


def callback(hub) -> dict:
    with hub.engine.connect() as connection:
        [attempt] = store.all_attempts(connection)
    return attempt


@pytest.mark.parametrize("stored", ["(212) 555-0100", "+12125550100"])
def test_a_contact_marked_do_not_call_in_the_org_blocks_the_callback(salesforce_hub, clock, stored):
    sandbox_contact(salesforce_hub, Phone=stored, DoNotCall=True)
    abandoned_chat(salesforce_hub, clock)
    attempt = callback(salesforce_hub)
    assert (attempt["status"], attempt["reason"]) == ("blocked", "crm_opted_out")
    with salesforce_hub.engine.connect() as connection:
        [row] = connection.execute(select(consent_ledger).where(consent_ledger.c.source == "crm:salesforce"))
    assert (row.channel, row.address, row.granted) == ("voice", "+12125550100", False)
    tasks = salesforce_hub.sandbox.records("salesforce", "Task")
    assert "Recovery: Call Jo Doe back about Billing question" not in {t["Subject"] for t in tasks}
    blocked = tasks[-1]["Description"]
    assert blocked.startswith("Recovery: Agent callback blocked (the CRM's do-not-contact flag is set")


def test_a_contact_without_the_flag_gets_the_callback(salesforce_hub, clock):
    sandbox_contact(salesforce_hub, MobilePhone="212-555-0100", DoNotCall=False)
    abandoned_chat(salesforce_hub, clock)
    attempt = callback(salesforce_hub)
    assert attempt["status"] == "sent"
    guards = {g["guard"]: g["detail"] for g in json.loads(attempt["guards"])}
    assert guards["crm_flags"].startswith("crm:salesforce read 2026-11-23T16:58:00Z: DoNotCall not set")
    queried = [path for method, path in salesforce_hub.sandbox.request_log if "/query" in path]
    assert len(queried) == 2  # Phone and MobilePhone: the event had no email and no Contact id
