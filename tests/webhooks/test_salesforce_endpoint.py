"""``POST /webhooks/salesforce/outbound`` on SQLite and PostgreSQL: Case changes, the Ack, the allow-list."""

from __future__ import annotations

import pytest

from tests.webhooks.conftest import (
    ORG_ID_18,
    SALESFORCE_TOKEN,
    deliveries,
    episode_row,
    open_episode,
    shared_file,
)
from tests.webhooks.test_parsing import SALESFORCE_STATE

# The acknowledgment Salesforce expects (SFDC-outbound-message README), byte for byte.
ACK = (
    b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n'
    b"\t<soapenv:Body>\n"
    b'\t\t<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">\n'
    b"\t\t\t<Ack>true</Ack>\n"
    b"\t\t</notificationsResponse>\n"
    b"\t</soapenv:Body>\n"
    b"</soapenv:Envelope>\n"
)
CLOSED_CASE = "500e0000002abcdAAA"
UNKNOWN_CASE = "500e0000002zzzzAAA"


@pytest.fixture
def crm_name() -> str:
    return "salesforce"


def case(notification_id: str, case_id: str, *, closed: bool | None, status: str = "Closed") -> str:
    closed_field = "" if closed is None else f"<sf:IsClosed>{'true' if closed else 'false'}</sf:IsClosed>"
    return f"""
   <Notification>
    <Id>{notification_id}</Id>
    <sObject xsi:type="sf:Case" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>{case_id}</sf:Id>
     <sf:CaseNumber>00001026</sf:CaseNumber>
     {closed_field}
     <sf:LastModifiedDate>2026-11-23T14:58:00.000Z</sf:LastModifiedDate>
     <sf:Status>{status}</sf:Status>
     <sf:Description xsi:nil="true"/>
    </sObject>
   </Notification>"""


def envelope(*notifications: str, org_id: str = ORG_ID_18) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>{org_id}</OrganizationId>
   <ActionId>04ke0000000Cb2DAAS</ActionId>
   <SessionId>00De0000000pmu1!AQsAQJ.secret-session</SessionId>
   <EnterpriseUrl>https://cs15.salesforce.com/services/Soap/c/29.0/00De0000000pmu1</EnterpriseUrl>
   <PartnerUrl>https://cs15.salesforce.com/services/Soap/u/29.0/00De0000000pmu1</PartnerUrl>{"".join(notifications)}
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>
""".encode()  # noqa: E501 - Salesforce's envelope line


def post(client, body: bytes, *, content_type="text/xml; charset=utf-8", query=None):
    """POST with the endpoint's ``?token=`` unless ``query`` says otherwise."""
    query = f"?token={SALESFORCE_TOKEN}" if query is None else query
    return client.post(
        f"/webhooks/salesforce/outbound{query}",
        data=body,
        headers={"Content-Type": content_type, "SOAPAction": '""'},
    )


def assert_fault(response, status: int, fault_code: str, text: str):
    assert response.status_code == status, response.data
    assert response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert "<soapenv:Fault>" in body and f"<faultcode>{fault_code}</faultcode>" in body
    assert text in body
    assert "<Ack>" not in body


def test_two_notifications_one_closed_known_case_closes_its_episode_and_acks(client, hub, clock):
    episode = open_episode(hub.engine, clock, crm="salesforce", case_id=CLOSED_CASE)
    response = post(
        client,
        envelope(
            case("04le0000004aaaaAAA", CLOSED_CASE, closed=True),
            case("04le0000004bbbbAAA", UNKNOWN_CASE, closed=True),
        ),
    )
    assert response.status_code == 200
    assert response.data == ACK
    assert response.content_type == "text/xml; charset=utf-8"
    row = episode_row(hub.engine, episode)
    assert (row.status, row.closed_reason) == ("closed", "crm_closed")
    stored = deliveries(hub.engine, "salesforce-outbound")
    assert [(d.provider_id, d.kind, d.status) for d in stored] == [
        ("04le0000004aaaaAAA", "Case", "processed"),
        ("04le0000004bbbbAAA", "Case", "unmatched"),
    ]
    assert all("secret-session" not in d.body and "SessionId" not in d.body for d in stored)


def test_the_ack_is_the_published_envelope(client):
    published = shared_file("fixtures/payloads/salesforce_outbound_message_ack_response.xml").read_bytes()
    assert published.rstrip(b"\n") == ACK.rstrip(b"\n")


def test_an_open_case_leaves_the_episode_open(client, hub, clock):
    episode = open_episode(hub.engine, clock, crm="salesforce", case_id=CLOSED_CASE)
    response = post(client, envelope(case("04le0000004ccccAAA", CLOSED_CASE, closed=False, status="Working")))
    assert response.data == ACK
    assert episode_row(hub.engine, episode).status == "open"
    [delivery] = deliveries(hub.engine)
    assert delivery.detail == f"episode {episode}: Case {CLOSED_CASE} is open (Working)"


def test_a_redelivered_message_is_acked_and_changes_nothing(client, hub, clock):
    open_episode(hub.engine, clock, crm="salesforce", case_id=CLOSED_CASE)
    body = envelope(case("04le0000004aaaaAAA", CLOSED_CASE, closed=True))
    assert post(client, body).data == ACK
    clock.advance(minutes=2)
    assert post(client, body).data == ACK
    [delivery] = deliveries(hub.engine)
    assert delivery.attempts == 1


def test_a_case_without_is_closed_and_other_objects_are_stored_and_ignored(client, hub, clock):
    open_episode(hub.engine, clock, crm="salesforce", case_id=CLOSED_CASE)
    assert post(client, envelope(case("04le0000004ddddAAA", CLOSED_CASE, closed=None))).data == ACK
    assert post(client, SALESFORCE_STATE).data == ACK
    stored = deliveries(hub.engine)
    assert [d.status for d in stored] == ["ignored", "ignored"]
    assert "add Case.IsClosed" in stored[0].detail


def test_an_organization_not_on_the_allow_list_is_rejected(client, hub):
    response = post(
        client, envelope(case("04le0000004aaaaAAA", CLOSED_CASE, closed=True), org_id="00Dx0000000abcdEAA")
    )
    assert_fault(response, 403, "soapenv:Client", "is not in CTIHUB_SALESFORCE_ORG_IDS")
    lower = post(
        client, envelope(case("04le0000004aaaaAAA", CLOSED_CASE, closed=True), org_id="00de0000000pmu1EAA")
    )
    assert lower.status_code == 403  # the first 15 characters are case-sensitive
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("environment", [{"CTIHUB_SALESFORCE_ORG_IDS": ""}])
def test_unconfigured_answers_503_naming_the_setting(client, environment):
    assert_fault(post(client, SALESFORCE_STATE), 503, "soapenv:Server", "CTIHUB_SALESFORCE_ORG_IDS")


@pytest.mark.parametrize("environment", [{"CTIHUB_SALESFORCE_ORG_IDS": "00De0000000pmu1EAB"}])
def test_a_mistyped_18_character_org_id_is_a_configuration_error(client, environment):
    assert_fault(post(client, SALESFORCE_STATE), 503, "soapenv:Server", "do not match the first 15")


def test_the_endpoint_token_is_required(client, hub):
    assert_fault(post(client, SALESFORCE_STATE, query=""), 401, "soapenv:Client", "token")
    assert_fault(post(client, SALESFORCE_STATE, query="?token=nope"), 401, "soapenv:Client", "token")
    assert_fault(post(client, SALESFORCE_STATE, query="?token=%C3%B1%00"), 401, "soapenv:Client", "token")
    assert deliveries(hub.engine) == []
    assert post(client, SALESFORCE_STATE).data == ACK


@pytest.mark.parametrize("environment", [{"CTIHUB_SALESFORCE_OUTBOUND_TOKEN": ""}])
def test_without_a_configured_token_the_endpoint_answers_503(client, hub, environment):
    """An org id is not a secret: until a token is configured, nothing is accepted (a 5xx, so
    Salesforce keeps the messages queued for 24 hours instead of dropping them)."""
    response = post(client, SALESFORCE_STATE, query="")
    assert_fault(response, 503, "soapenv:Server", "CTIHUB_SALESFORCE_OUTBOUND_TOKEN")
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("environment", [{"CTIHUB_SALESFORCE_OUTBOUND_TOKEN": "short"}])
def test_a_short_token_is_a_configuration_error(client, environment):
    assert_fault(post(client, SALESFORCE_STATE, query="?token=short"), 503, "soapenv:Server", "at least 32")


def test_the_body_is_not_read_before_the_token_is_checked(client, hub):
    """A forged message with an entity bomb gets 401, not 400: authentication comes before XML."""
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa">]><x>&a;</x>'
    assert_fault(post(client, bomb, query="?token=wrong"), 401, "soapenv:Client", "token")


def test_bad_input_answers_a_soap_fault_with_a_4xx(client, hub):
    assert_fault(
        post(client, SALESFORCE_STATE, content_type="application/json"), 415, "soapenv:Client", "text/xml"
    )
    assert_fault(
        post(client, b"<soapenv:Envelope" + b" " * (1024 * 1024)), 413, "soapenv:Client", "too_large"
    )
    assert_fault(post(client, b"<not xml"), 400, "soapenv:Client", "malformed_body")
    bomb = b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    assert_fault(post(client, bomb), 400, "soapenv:Client", "document type declaration")
    too_many = envelope(*(case(f"04le00000{i:05d}AAAA", UNKNOWN_CASE, closed=True) for i in range(101)))
    assert_fault(post(client, too_many), 422, "soapenv:Client", "1 to 100 notifications")
    assert deliveries(hub.engine) == []


def test_one_hundred_notifications_are_stored_before_the_ack(client, hub):
    body = envelope(
        *(case(f"04le00000{i:05d}AAAA", f"500e00000{i:05d}AAAA", closed=True) for i in range(100))
    )
    assert post(client, body).data == ACK
    assert len(deliveries(hub.engine)) == 100
