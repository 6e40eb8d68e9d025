"""Parsing the providers' real payloads (copied here as literals) into canonical objects."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from hub.bootstrap import load_plugin
from tests.webhooks.conftest import shared_file
from webhooks import salesforce_outbound, sunshine, twilio_sms, zendesk
from webhooks.common import InvalidPayload, MalformedPayload, from_plain, parse_rfc3339, to_plain

# nyaruka/courier handlers/twiml/handlers_test.go, receiveValid and receiveMedia (raw form bodies)
TWILIO_RECEIVE = (
    "ToCountry=US&ToState=District+Of+Columbia&SmsMessageSid=SMe287d7109a5a925f182f0e07fe5b223b&NumMedia=0"
    "&ToCity=&FromZip=01022&SmsSid=SMe287d7109a5a925f182f0e07fe5b223b&FromState=MA&SmsStatus=received"
    "&FromCity=CHICOPEE&Body=Msg&FromCountry=US&To=%2B12028831111&ToZip=&NumSegments=1"
    "&MessageSid=SMe287d7109a5a925f182f0e07fe5b223b&AccountSid=acctid&From=%2B14133881111&ApiVersion=2010-04-01"
)
TWILIO_MEDIA = (
    "ToCountry=US&ToState=District+Of+Columbia&SmsMessageSid=SMe287d7109a5a925f182f0e07fe5b223b&NumMedia=2"
    "&ToCity=&FromZip=01022&SmsSid=SMe287d7109a5a925f182f0e07fe5b223b&FromState=MA&SmsStatus=received"
    "&FromCity=CHICOPEE&FromCountry=US&To=%2B12028831111&ToZip=&NumSegments=1"
    "&MessageSid=SMe287d7109a5a925f182f0e07fe5b223b&AccountSid=acctid&From=%2B14133881111&ApiVersion=2010-04-01"
    "&MediaUrl0=cat.jpg&MediaUrl1=dog.jpg"
)
TWILIO_STATUS = (
    "ErrorCode=21610&MessageSid=SMe287d7109a5a925f182f0e07fe5b223b&MessageStatus=failed&To=%2B12028831111"
)

# sunshine-conversations-api-spec openapi.yaml components.examples.conversationMessageEvent
SUNSHINE_MESSAGE = {
    "app": {"id": "5ebee0975ac5304b664a12fa"},
    "webhook": {"id": "5f4eaef81e3dcc117c7ba48a", "version": "v2"},
    "events": [
        {
            "id": "5f74a0d52b5315fc007e798a",
            "createdAt": "2020-09-30T15:14:29.834Z",
            "type": "conversation:message",
            "payload": {
                "conversation": {
                    "id": "f52b01137aa6c250bc7251fa",
                    "type": "personal",
                    "activeSwitchboardIntegration": {
                        "id": "5eecde2dcdbffb08f5c3ed37",
                        "name": "bot",
                        "integrationId": "5f11a650e4e987667c2051d1",
                        "integrationType": "custom",
                    },
                },
                "message": {
                    "id": "5f74c7d84a146f3abd72af1d",
                    "received": "2020-09-30T18:00:56.820Z",
                    "author": {
                        "userId": "26508c10541a4b0ff472e5e2",
                        "avatarUrl": "https://s3.amazonaws.com/avatar.jpg",
                        "displayName": "Steve Rogers",
                        "type": "user",
                        "user": {
                            "id": "26508c10541a4b0ff472e5e2",
                            "externalId": "912382197",
                            "authenticated": True,
                        },
                    },
                    "content": {"type": "text", "text": "hello"},
                    "source": {
                        "integrationId": "5ec69c6e12dda33be985cb1a",
                        "originalMessageId": "374",
                        "originalMessageTimestamp": "2020-09-30T18:00:56.000Z",
                        "type": "telegram",
                    },
                },
            },
        }
    ],
}

# redhotpenguin/perl-WebService-Salesforce-Message t/WebService-Salesforce-Message.t (cs15, API 29.0)
SALESFORCE_STATE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00De0000000pmu1EAA</OrganizationId>
   <ActionId>04ke0000000Cb2DAAS</ActionId>
   <SessionId>00De0000000pmu1!AQsAQJ6TzpySaKROMNTwKzcOluY5SsZ0rFz9nhA3ktEIly2om86AQtWIbEaakQ9x1lTKNohBaUhDaz2ZD3RSUDCWAGuvJbS0</SessionId>
   <EnterpriseUrl>https://cs15.salesforce.com/services/Soap/c/29.0/00De0000000pmu1</EnterpriseUrl>
   <PartnerUrl>https://cs15.salesforce.com/services/Soap/u/29.0/00De0000000pmu1</PartnerUrl>
   <Notification>
    <Id>04le0000004lnFFAAY</Id>
    <sObject xsi:type="sf:State_Province__c" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>a29e0000000K4P0AAK</sf:Id>
     <sf:Abbrev__c>AR</sf:Abbrev__c>
     <sf:Country__c>a28e00000002hMtAAI</sf:Country__c>
     <sf:Name>Arkansas</sf:Name>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>
"""  # noqa: E501 - the published message, verbatim


def test_every_source_is_an_entry_point_that_loads_the_module_source():
    for module in (twilio_sms, zendesk, sunshine, salesforce_outbound):
        assert load_plugin("cti_hub.webhooks", module.SOURCE.name) is module.SOURCE


def test_a_twilio_inbound_sms_form():
    item = twilio_sms.SOURCE.parse(TWILIO_RECEIVE.encode())
    message = item.event
    assert (item.provider_id, item.kind, item.body) == (
        "SMe287d7109a5a925f182f0e07fe5b223b",
        "sms",
        TWILIO_RECEIVE,
    )
    assert (message.sender, message.recipient, message.body, message.account_sid) == (
        "+14133881111",
        "+12028831111",
        "Msg",
        "acctid",
    )
    assert message.keyword is None
    media = twilio_sms.SOURCE.parse(TWILIO_MEDIA.encode()).event
    assert (media.body, media.num_media, media.media_urls) == ("", 2, ("cat.jpg", "dog.jpg"))


def test_a_status_callback_is_told_apart_and_keyed_by_its_status_and_error():
    item = twilio_sms.SOURCE.parse(TWILIO_STATUS.encode())
    assert (item.provider_id, item.kind) == (
        "SMe287d7109a5a925f182f0e07fe5b223b:failed:21610",
        "status:failed",
    )


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"Body=hi&From=%2B14155550100&To=%2B12028831111", "MessageSid"),
        (b"MessageSid=SM1&Body=hi&To=%2B12028831111", "From"),
        (b"\xff\xfe", "$"),
        (b"MessageSid=SM1&From=x&To=y&NumMedia=two", "NumMedia"),
        (b"MessageSid=" + b"S" * 65 + b"&From=x&To=y", "MessageSid"),
        (b"MessageSid=SM1&From=x&To=y&Body=a%00b", "Body"),
    ],
)
def test_twilio_forms_missing_what_twilio_always_sends_are_refused(body, problem):
    """Not a UTF-8 form: 400 (MalformedPayload); a form that lacks or overflows a field, 422."""
    expected = MalformedPayload if body.startswith(b"\xff") else InvalidPayload
    with pytest.raises(expected) as caught:
        twilio_sms.SOURCE.parse(body)
    assert problem in [p.path for p in caught.value.problems]


def test_the_real_twilio_forms_match_the_shared_file():
    data = json.loads(
        shared_file("fixtures/payloads/twilio_inbound_sms_and_status_forms.courier.json").read_text()
    )
    assert data["receiveValid"]["raw_body"] == TWILIO_RECEIVE
    assert data["receiveMedia"]["raw_body"] == TWILIO_MEDIA
    assert data["statusStop"]["raw_body"] == TWILIO_STATUS


def test_a_sunshine_conversation_message():
    [item] = sunshine.SOURCE.parse(json.dumps(SUNSHINE_MESSAGE).encode())
    event = item.event
    assert (item.provider_id, item.kind) == ("5f74a0d52b5315fc007e798a", "conversation:message")
    assert event.is_customer_message
    assert (event.message_id, event.user_id, event.user_external_id, event.display_name, event.text) == (
        "5f74c7d84a146f3abd72af1d",
        "26508c10541a4b0ff472e5e2",
        "912382197",
        "Steve Rogers",
        "hello",
    )
    assert (event.channel_type, event.conversation_id, event.app_id) == (
        "telegram",
        "f52b01137aa6c250bc7251fa",
        "5ebee0975ac5304b664a12fa",
    )
    assert event.received_at == datetime(2020, 9, 30, 18, 0, 56, 820000, tzinfo=UTC)
    assert json.loads(item.body)["event"] == SUNSHINE_MESSAGE["events"][0]


def test_sunshine_non_text_content_and_other_events():
    payload = json.loads(json.dumps(SUNSHINE_MESSAGE))
    message = payload["events"][0]["payload"]["message"]
    message["content"] = {"type": "image", "mediaUrl": "https://cdn.example/cat.jpg", "altText": "a cat"}
    message["metadata"] = {"intent": "billing", "nested": {"no": 1}, "tier": 2}
    payload["events"].append({"id": "e2", "type": "conversation:read", "createdAt": "2020-09-30T18:01:00Z"})
    first, second = sunshine.SOURCE.parse(json.dumps(payload).encode())
    assert first.event.text == "[image] a cat https://cdn.example/cat.jpg"
    assert first.event.intent_hint == "billing"
    assert dict(first.event.metadata) == {"intent": "billing", "tier": "2"}
    assert (second.provider_id, second.event.is_customer_message) == ("e2", False)


@pytest.mark.parametrize(
    "body",
    [b"[]", b"{}", b'{"events": [1]}', b'{"events": [{"type": "conversation:message"}]}', b"not json"],
)
def test_sunshine_bodies_that_are_not_webhook_payloads_are_refused(body):
    with pytest.raises(MalformedPayload if body == b"not json" else InvalidPayload):
        sunshine.SOURCE.parse(body)


def test_the_sunshine_example_matches_the_shared_file():
    path = shared_file("fixtures/payloads/sunco_conversationMessageEvent.example.json")
    assert json.loads(path.read_text()) == SUNSHINE_MESSAGE


def test_zendesk_ticket_events():
    status = zendesk.event_from(
        {
            "type": "zen:event-type:ticket.status_changed",
            "id": "a8b9c1d2-3e4f-5a6b-7c8d-9e0f1a2b3c4d",
            "subject": "zen:ticket:5158",
            "time": "2025-01-08T16:45:20.987654321Z",
            "detail": {"id": "5158", "status": "SOLVED"},
            "event": {"current": "SOLVED", "previous": "OPEN"},
        }
    )
    assert (status.ticket_id, status.change, status.status, status.previous_status) == (
        "5158",
        "status_changed",
        "solved",
        "open",
    )
    assert status.occurred_at == datetime(2025, 1, 8, 16, 45, 20, 987654, tzinfo=UTC)
    merged = zendesk.event_from(
        {
            "type": "zen:event-type:ticket.merged",
            "id": "m",
            "subject": "zen:ticket:7",
            "event": {"target_ticket_id": 9},
        }
    )
    assert (merged.ticket_id, merged.change, merged.merged_into_ticket_id) == ("7", "merged", "9")
    comment = zendesk.event_from(
        {
            "type": "zen:event-type:ticket.comment_added",
            "id": "c",
            "detail": {"id": "7"},
            "event": {"comment": {"id": 1, "body": "Hi", "is_public": True, "author": {"is_staff": True}}},
        }
    )
    assert (comment.change, comment.comment_public, comment.author_is_staff) == ("comment_added", True, True)


def test_zendesk_events_that_move_nothing_and_malformed_ones():
    user = zendesk.event_from({"type": "zen:event-type:user.created", "id": "u"})
    assert (user.change, user.ticket_id) == (None, None)
    trigger = zendesk.SOURCE.parse(b'{"ticketID": "12345"}', {zendesk.INVOCATION_HEADER: "8350205582"})
    assert trigger.provider_id == "invocation:8350205582"
    for bad in ([], {"type": "zen:event-type:ticket.status_changed"}):
        with pytest.raises(InvalidPayload):
            zendesk.event_from(bad)
    with pytest.raises(InvalidPayload):
        zendesk.event_from({"id": "x", "type": "zen:event-type:ticket.status_changed", "detail": {"id": "1"}})


def test_a_salesforce_outbound_message():
    message, [item] = salesforce_outbound.SOURCE.parse(SALESFORCE_STATE)
    assert (message.organization_id, message.action_id) == ("00De0000000pmu1EAA", "04ke0000000Cb2DAAS")
    note = item.event
    assert (item.provider_id, item.kind, note.record_id) == (
        "04le0000004lnFFAAY",
        "State_Province__c",
        "a29e0000000K4P0AAK",
    )
    assert dict(note.fields)["Name"] == "Arkansas"
    assert "SessionId" not in item.body and "AQsAQJ6T" not in item.body


def test_the_salesforce_message_matches_the_shared_file():
    path = shared_file(
        "fixtures/payloads/salesforce_outbound_message_State_Province__c.perl-WebService-Salesforce-Message.xml"
    )
    assert path.read_bytes().strip() == SALESFORCE_STATE.strip()


def test_salesforce_ids_suffix_and_allow_list():
    assert salesforce_outbound.id_suffix("00De0000000pmu1") == "EAA"
    assert salesforce_outbound.check_org_id("00De0000000pmu1EAA") == "00De0000000pmu1"
    assert (
        salesforce_outbound.check_org_id("00De0000000pmu1eaa") == "00De0000000pmu1"
    )  # the suffix is case-blind
    for bad in ("00De0000000pmu1EAB", "00De0000000pmu", "00De0000000pmu1-AA"):
        with pytest.raises(ValueError):
            salesforce_outbound.check_org_id(bad)
    allowed = ["00De0000000pmu1"]
    assert salesforce_outbound.org_id_allowed("00De0000000pmu1EAA", allowed)
    assert salesforce_outbound.org_id_allowed("00De0000000pmu1", ["00De0000000pmu1EAA"])
    assert not salesforce_outbound.org_id_allowed(
        "00DE0000000PMU1EAA", allowed
    )  # 15-char ids are case-sensitive
    assert not salesforce_outbound.org_id_allowed("00De0000000pmu2", allowed)
    assert not salesforce_outbound.org_id_allowed("", allowed)


@pytest.mark.parametrize(
    "body",
    [
        b"<not-xml",
        b"<root/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body/></soapenv:Envelope>',
    ],
)
def test_salesforce_bodies_that_are_not_outbound_messages_are_refused(body):
    """Unreadable XML (or a DTD) is malformed (400); readable XML that is no outbound message, 422."""
    expected = MalformedPayload if body.startswith((b"<not", b"<?xml")) else InvalidPayload
    with pytest.raises(expected):
        salesforce_outbound.parse_message(body)


def test_canonical_objects_survive_a_round_trip_through_json():
    objects = [
        twilio_sms.SOURCE.parse(TWILIO_MEDIA.encode()).event,
        sunshine.SOURCE.parse(json.dumps(SUNSHINE_MESSAGE).encode())[0].event,
        salesforce_outbound.SOURCE.parse(SALESFORCE_STATE)[1][0].event,
        zendesk.event_from(
            {
                "type": "zen:event-type:ticket.merged",
                "id": "m",
                "subject": "zen:ticket:7",
                "time": "2025-01-08T16:45:20Z",
            }
        ),
    ]
    for event in objects:
        assert from_plain(type(event), json.loads(json.dumps(to_plain(event)))) == event


def test_rfc3339_times():
    assert parse_rfc3339("2021-03-25T05:09:27Z") == datetime(2021, 3, 25, 5, 9, 27, tzinfo=UTC)
    assert parse_rfc3339("2025-02-11T14:32:05.254571515Z") == datetime(
        2025, 2, 11, 14, 32, 5, 254571, tzinfo=UTC
    )
    assert parse_rfc3339("2021-03-25T05:09:27") is None  # naive
    assert parse_rfc3339("yesterday") is None
