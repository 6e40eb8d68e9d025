"""Salesforce Outbound Messages: the SOAP ``notifications`` call, the organization allow-list, the Ack.

Salesforce sends ``notifications{OrganizationId, ActionId, SessionId, EnterpriseUrl, PartnerUrl,
Notification*}`` with up to 100 ``Notification{Id, sObject}`` (crm-facts §5.7). Delivery is
at-least-once and out of order; each notification ``Id`` is the idempotency key. Salesforce stops
retrying a message only when the listener answers ``<Ack>true</Ack>``; anything else (a SOAP fault,
any status) is retried with backoff up to 2 h apart and dropped after 24 h.

Outbound messages are not signed, and an organization id is no secret. The credential is a shared
token in the endpoint URL (``?token=``, ``CTIHUB_SALESFORCE_OUTBOUND_TOKEN``), which the web layer
requires and compares in constant time before the body is read (no token configured: 503). The
sender is then also checked against an allow-list of organization ids: Salesforce ids are 15
characters, case-sensitive, or 18 with a 3-character suffix that encodes the case of the first 15;
two ids name the same org when their first 15 characters are equal.

The SessionId (a live API session of the org) is never kept: only the notifications are stored.
The XML is parsed by defusedxml with every DTD, entity and external reference forbidden, whatever
the body's encoding (a SOAP message must not contain a document type declaration, SOAP 1.1 §3):
a byte regex cannot see ``<!DOCTYPE`` in a UTF-16 body, expat can.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_fromstring

from hub.domain.crm_ids import salesforce_id_suffix
from hub.domain.errors import Problem
from webhooks.common import DeliveryItem, SenderNotAllowed, bounded, invalid, malformed, parse_rfc3339

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_NOTIFICATIONS = 100
KEPT_HEADERS = ("Content-Type", "User-Agent", "SOAPAction")

# The acknowledgment Salesforce expects, byte for byte as published (fixtures: outbound ack response).
ACK = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n'
    "\t<soapenv:Body>\n"
    '\t\t<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">\n'
    "\t\t\t<Ack>true</Ack>\n"
    "\t\t</notificationsResponse>\n"
    "\t</soapenv:Body>\n"
    "</soapenv:Envelope>\n"
)
CONTENT_TYPE = "text/xml; charset=utf-8"
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")


def fault(message: str, *, client: bool) -> str:
    """A SOAP 1.1 fault: ``soapenv:Client`` for the sender's mistakes, ``soapenv:Server`` for ours."""
    code = "soapenv:Client" if client else "soapenv:Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


# --- organization ids -----------------------------------------------------------------------------


id_suffix = salesforce_id_suffix  # the 3-character suffix of an 18-character id (hub.domain.crm_ids)


def check_org_id(value: str) -> str:
    """The 15-character form of a configured org id; ValueError when it cannot be one."""
    if not _ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a 15- or 18-character Salesforce id")
    if len(value) == 18 and value[15:].upper() != id_suffix(value[:15]):
        raise ValueError(f"{value!r}: the last 3 characters do not match the first 15 (a typo?)")
    return value[:15]


def org_id_allowed(org_id: str, allowed: Iterable[str]) -> bool:
    """True when ``org_id`` names one of the allowed orgs (first 15 characters, case-sensitive)."""
    if not _ID.fullmatch(org_id):
        return False
    return any(org_id[:15] == candidate[:15] for candidate in allowed)


# --- the message ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    """One notification: a record's fields as they are now. ``fields`` has every sObject field sent."""

    notification_id: str
    organization_id: str
    action_id: str | None
    sobject_type: str  # e.g. "Case"
    record_id: str
    fields: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    is_closed: bool | None = None  # Case.IsClosed, when the message includes it
    status: str | None = None  # Case.Status
    case_number: str | None = None
    last_modified_at: datetime | None = None

    @property
    def is_case(self) -> bool:
        return self.sobject_type == "Case"

    @property
    def is_person(self) -> bool:
        """A Contact, Lead or (Person) Account: a record that may carry do-not-contact flags."""
        return self.sobject_type in PEOPLE

    def consent_flags(self) -> list[ConsentFlag]:
        """The do-not-contact flags this notification carries, each with the addresses it covers.

        Only what the outbound message includes counts: a flag field the admin did not add is
        unknown (not "cleared"), and a flag without any address field covers nothing.
        """
        found: dict[str, ConsentFlag] = {}
        for name, channel in FLAG_FIELDS.items():
            value = _boolean(self.fields.get(name))
            if value is None:
                continue
            addresses = tuple(
                dict.fromkeys(
                    str(self.fields[f]).strip()
                    for f in ADDRESS_FIELDS[channel]
                    if self.fields.get(f) and str(self.fields[f]).strip()
                )
            )
            earlier = found.get(channel)
            if earlier is not None:  # DoNotCall and PersonDoNotCall both sent: set if either is
                name = name if value and not earlier.set else earlier.field
                value = value or earlier.set
                addresses = tuple(dict.fromkeys((*earlier.addresses, *addresses)))
            found[channel] = ConsentFlag(channel, name, value, addresses)
        return [flag for flag in found.values() if flag.addresses]


# Contacts, Leads and Person Accounts carry Salesforce's standard do-not-contact flags.
PEOPLE = ("Contact", "Lead", "Account")
FLAG_FIELDS = {
    "DoNotCall": "voice",
    "PersonDoNotCall": "voice",
    "HasOptedOutOfEmail": "email",
    "PersonHasOptedOutOfEmail": "email",
}
ADDRESS_FIELDS = {
    "voice": (
        "Phone",
        "MobilePhone",
        "HomePhone",
        "OtherPhone",
        "PersonMobilePhone",
        "PersonHomePhone",
        "PersonOtherPhone",
    ),
    "email": ("Email", "PersonEmail"),
}


@dataclass(frozen=True)
class ConsentFlag:
    """One do-not-contact flag of a record: ``set`` blocks ``channel`` for ``addresses`` (as sent)."""

    channel: str  # voice | email
    field: str  # e.g. DoNotCall
    set: bool
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: tuple[Notification, ...]


def _parse_xml(body: bytes) -> ET.Element:
    """The root element; MalformedPayload (400) for a DTD, an entity, an external reference or
    anything not well-formed, in any encoding expat detects."""
    try:
        return safe_fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise malformed(
            "a SOAP message must not contain a document type declaration, entity or external reference",
            [Problem("/", type(exc).__name__)],
        ) from exc
    except (ET.ParseError, ValueError, LookupError, RecursionError) as exc:  # LookupError: an
        # encoding declaration Python does not know ("UTF-Q") or that is not text ("rot13")
        raise malformed("the body is not well-formed XML", [Problem("/", str(exc)[:200])]) from exc


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(parent: ET.Element, name: str) -> str | None:
    found = parent.find(f"{{{OUTBOUND_NS}}}{name}")
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _boolean(value: str | None) -> bool | None:
    if value is None:
        return None
    return {"true": True, "1": True, "false": False, "0": False}.get(value.strip().lower())


def _notification(
    element: ET.Element, index: int, organization_id: str, action_id: str | None
) -> Notification:
    where = f"Notification[{index}]"
    notification_id = _child_text(element, "Id")
    sobject = element.find(f"{{{OUTBOUND_NS}}}sObject")
    if not notification_id or sobject is None:
        raise invalid("a notification lacks its Id or sObject", [Problem(where, "needs Id and sObject")])
    declared = sobject.get(f"{{{XSI_NS}}}type") or ""
    sobject_type = declared.rsplit(":", 1)[-1]
    fields: dict[str, str | None] = {}
    for child in sobject:
        if len(child):  # a nested element (not sent for plain fields): not a field value
            continue
        nil = child.get(f"{{{XSI_NS}}}nil") == "true"
        name = _local(child.tag)
        fields[name] = None if nil else (child.text or "")
        if len(name) > 100:
            raise invalid("a field name is too long", [Problem(f"{where}.sObject", "field name over 100")])
    record_id = fields.get("Id")
    if not sobject_type or not record_id:
        raise invalid(
            "a notification's sObject lacks its type or Id",
            [Problem(f"{where}.sObject", "needs xsi:type and Id")],
        )
    return Notification(
        notification_id=bounded(notification_id, f"{where}.Id", 200),
        organization_id=organization_id,
        action_id=action_id,
        sobject_type=sobject_type,
        record_id=record_id,
        fields=MappingProxyType(fields),
        is_closed=_boolean(fields.get("IsClosed")),
        status=fields.get("Status") or None,
        case_number=fields.get("CaseNumber") or None,
        last_modified_at=parse_rfc3339(fields.get("LastModifiedDate")),
    )


def parse_message(body: bytes) -> OutboundMessage:
    root = _parse_xml(body)
    if root.tag != f"{{{SOAP_NS}}}Envelope":
        raise invalid("the body is not a SOAP 1.1 envelope", [Problem("/", f"root element is {root.tag!r}")])
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise invalid("the SOAP body has no outbound-message notifications element")
    organization_id = _child_text(notifications, "OrganizationId")
    if not organization_id:
        raise invalid(
            "the message names no OrganizationId", [Problem("notifications/OrganizationId", "is required")]
        )
    action_id = _child_text(notifications, "ActionId")
    elements = notifications.findall(f"{{{OUTBOUND_NS}}}Notification")
    if not elements or len(elements) > MAX_NOTIFICATIONS:
        raise invalid(
            f"a message carries 1 to {MAX_NOTIFICATIONS} notifications",
            [Problem("notifications/Notification", f"found {len(elements)}")],
        )
    return OutboundMessage(
        organization_id=organization_id,
        action_id=action_id,
        notifications=tuple(_notification(e, i, organization_id, action_id) for i, e in enumerate(elements)),
    )


@dataclass(frozen=True)
class SalesforceOutboundSource:
    """Entry point ``salesforce-outbound`` (group ``cti_hub.webhooks``)."""

    name: str = "salesforce-outbound"
    kept_headers: tuple[str, ...] = KEPT_HEADERS

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """``secret`` is the comma-separated org id allow-list; raises SenderNotAllowed (403)."""
        self.check_sender(parse_message(body), [s.strip() for s in secret.split(",") if s.strip()])

    @staticmethod
    def check_sender(message: OutboundMessage, allowed: Iterable[str]) -> None:
        if not org_id_allowed(message.organization_id, allowed):
            raise SenderNotAllowed(
                f"organization {message.organization_id!r} is not in CTIHUB_SALESFORCE_ORG_IDS"
            )

    def parse(self, body: bytes) -> tuple[OutboundMessage, list[DeliveryItem]]:
        message = parse_message(body)
        items = []
        for notification in message.notifications:
            kept = {
                "OrganizationId": message.organization_id,
                "ActionId": message.action_id,
                "Notification": {
                    "Id": notification.notification_id,
                    "sObject": {"type": notification.sobject_type, **notification.fields},
                },
            }
            items.append(
                DeliveryItem(
                    provider_id=notification.notification_id,
                    kind=notification.sobject_type,
                    body=json.dumps(kept, ensure_ascii=False, separators=(",", ":")),
                    event=notification,
                )
            )
        return message, items


SOURCE = SalesforceOutboundSource()
