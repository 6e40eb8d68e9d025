"""The sandbox org's and account's schema: the one place objects, fields and options are defined.

Salesforce ``describe`` output, write validation and SOQL all derive from ``SF_OBJECTS``; the
Zendesk ``ticket_fields`` listing and custom-field validation derive from ``ZD_TICKET_FIELDS``.
Shapes follow the recorded ``GET sobjects/Case/describe`` (CumulusCI cassette) and the Zendesk
Support OAS ``TicketFieldObject``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------------------------
# Salesforce
# --------------------------------------------------------------------------------------------

STRING_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "combobox"})

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass(frozen=True)
class SfField:
    name: str
    label: str
    type: str
    length: int = 0
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    default: Any = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    external_id: bool = False
    unique: bool = False
    id_lookup: bool = False
    custom: bool = False
    auto_number: bool = False
    name_field: bool = False

    @property
    def required_on_create(self) -> bool:
        """Must be in a create body: not nillable, writable, and nothing fills it in."""
        return (
            not self.nillable
            and self.createable
            and self.default is None
            and self.type != "boolean"
            and not self.auto_number
        )

    @property
    def upsert_key(self) -> bool:
        """Usable as the ``{field}`` of ``sobjects/{Object}/{field}/{value}`` (Id excepted)."""
        return (self.external_id or self.id_lookup) and self.type != "id"

    def describe(self) -> dict[str, Any]:
        string_like = self.type in STRING_TYPES
        return {
            "aggregatable": self.type not in ("textarea",),
            "aiPredictionField": False,
            "autoNumber": self.auto_number,
            "byteLength": self.length * 3
            if string_like or self.auto_number
            else (18 if self.type in ("id", "reference") else 0),
            "calculated": False,
            "calculatedFormula": None,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": None,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default if self.type != "boolean" else bool(self.default),
            "defaultValueFormula": None,
            "defaultedOnCreate": self.default is not None
            or self.type in ("id", "boolean")
            or self.auto_number
            or not (self.createable or self.updateable),
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": 9 if self.type == "int" else 0,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": "plaintextarea" if self.type == "textarea" else None,
            "filterable": self.type != "textarea",
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": self.type not in ("textarea", "datetime"),
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": self.id_lookup or self.type == "id",
            "inlineHelpText": None,
            "label": self.label,
            "length": self.length
            if string_like or self.auto_number
            else (18 if self.type in ("id", "reference") else 0),
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name_field,
            "namePointing": False,
            "nillable": self.nillable,
            "permissionable": self.nillable and (self.createable or self.updateable),
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": 0,
            "queryByDistance": False,
            "referenceTargetField": None,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": self.restricted,
            "scale": 0,
            "searchPrefilterable": self.type == "reference",
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "sortable": self.type != "textarea",
            "type": self.type,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": False,
        }


@dataclass(frozen=True)
class SfObject:
    name: str
    label: str
    label_plural: str
    key_prefix: str
    fields: tuple[SfField, ...]
    closed_statuses: frozenset[str] = frozenset()
    by_lower: Mapping[str, SfField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_lower", {f.name.lower(): f for f in self.fields})

    def field(self, name: str) -> SfField | None:
        """The field called ``name`` (API names are case-insensitive, as in Salesforce)."""
        return self.by_lower.get(name.lower())

    @property
    def has_status(self) -> bool:
        return self.field("Status") is not None and self.field("IsClosed") is not None

    def describe(self, version: str) -> dict[str, Any]:
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "actionOverrides": [],
            "activateable": False,
            "childRelationships": [],
            "compactLayoutable": True,
            "createable": True,
            "custom": False,
            "customSetting": False,
            "deepCloneable": False,
            "defaultImplementation": None,
            "deletable": True,
            "deprecatedAndHidden": False,
            "extendedBy": None,
            "extendsInterfaces": None,
            "feedEnabled": True,
            "fields": [f.describe() for f in self.fields],
            "hasSubtypes": False,
            "implementedBy": None,
            "implementsInterfaces": None,
            "isInterface": False,
            "isSubtype": False,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "listviewable": None,
            "lookupLayoutable": None,
            "mergeable": False,
            "mruEnabled": True,
            "name": self.name,
            "namedLayoutInfos": [],
            "networkScopeFieldName": None,
            "queryable": True,
            "recordTypeInfos": [
                {
                    "active": True,
                    "available": True,
                    "defaultRecordTypeMapping": True,
                    "developerName": "Master",
                    "master": True,
                    "name": "Master",
                    "recordTypeId": "012000000000000AAA",
                    "urls": {"layout": f"{base}/describe/layouts/012000000000000AAA"},
                }
            ],
            "replicateable": True,
            "retrieveable": True,
            "searchLayoutable": True,
            "searchable": True,
            "supportedScopes": [
                {"label": "All " + self.label_plural.lower(), "name": "everything"},
                {"label": "My " + self.label_plural.lower(), "name": "mine"},
            ],
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": {
                "compactLayouts": f"{base}/describe/compactLayouts",
                "rowTemplate": f"{base}/{{ID}}",
                "describe": f"{base}/describe",
                "layouts": f"{base}/describe/layouts",
                "sobject": base,
            },
        }

    def global_describe(self, version: str) -> dict[str, Any]:
        """This object's entry in ``GET sobjects/`` (and the ``objectDescribe`` of ``GET sobjects/X``)."""
        base = f"/services/data/v{version}/sobjects/{self.name}"
        return {
            "activateable": False,
            "createable": True,
            "custom": False,
            "customSetting": False,
            "deletable": True,
            "deprecatedAndHidden": False,
            "feedEnabled": True,
            "keyPrefix": self.key_prefix,
            "label": self.label,
            "labelPlural": self.label_plural,
            "layoutable": True,
            "mergeable": False,
            "mruEnabled": True,
            "name": self.name,
            "queryable": True,
            "replicateable": True,
            "retrieveable": True,
            "searchable": True,
            "triggerable": True,
            "undeletable": True,
            "updateable": True,
            "urls": {
                "rowTemplate": f"{base}/{{ID}}",
                "describe": f"{base}/describe",
                "sobject": base,
            },
        }


def _id(label: str) -> SfField:
    return SfField("Id", label, "id", createable=False, updateable=False, nillable=False)


def _readonly(name: str, label: str, type_: str, **kw: Any) -> SfField:
    return SfField(name, label, type_, createable=False, updateable=False, **kw)


def _system_dates() -> tuple[SfField, ...]:
    return (
        _readonly("CreatedDate", "Created Date", "datetime", nillable=False),
        _readonly("LastModifiedDate", "Last Modified Date", "datetime", nillable=False),
    )


CASE = SfObject(
    name="Case",
    label="Case",
    label_plural="Cases",
    key_prefix="500",
    closed_statuses=frozenset({"Closed"}),
    fields=(
        _id("Case ID"),
        _readonly(
            "CaseNumber",
            "Case Number",
            "string",
            length=30,
            nillable=False,
            auto_number=True,
            id_lookup=True,
            name_field=True,
        ),
        SfField(
            "ContactId", "Contact ID", "reference", reference_to=("Contact",), relationship_name="Contact"
        ),
        SfField(
            "AccountId", "Account ID", "reference", reference_to=("Account",), relationship_name="Account"
        ),
        SfField(
            "ParentId", "Parent Case ID", "reference", reference_to=("Case",), relationship_name="Parent"
        ),
        # Real orgs default it to the creating user and accept a User or a queue; the sandbox has no
        # User object, so it is empty unless a queue (Group, routing.yaml) is assigned.
        SfField(
            "OwnerId", "Owner ID", "reference", reference_to=("Group", "User"), relationship_name="Owner"
        ),
        SfField("SuppliedName", "Name", "string", length=80),
        SfField("SuppliedEmail", "Email Address", "email", length=80),
        SfField("SuppliedPhone", "Phone", "phone", length=40),
        SfField(
            "Type", "Case Type", "picklist", length=255, picklist=("Question", "Problem", "Feature Request")
        ),
        SfField(
            "Status",
            "Status",
            "picklist",
            length=255,
            default="New",
            picklist=("New", "Working", "Escalated", "Closed"),
        ),
        SfField("Reason", "Case Reason", "string", length=255),
        SfField(
            "Origin",
            "Case Origin",
            "picklist",
            length=255,
            restricted=True,
            picklist=("Phone", "Email", "Web", "Chat", "SMS", "Self-Service"),
        ),
        SfField("Subject", "Subject", "string", length=255),
        SfField(
            "Priority",
            "Priority",
            "picklist",
            length=255,
            default="Medium",
            picklist=("High", "Medium", "Low"),
        ),
        SfField("Description", "Description", "textarea", length=32000),
        _readonly("IsClosed", "Closed", "boolean", nillable=False, default=False),
        _readonly("ClosedDate", "Closed Date", "datetime"),
        SfField("IsEscalated", "Escalated", "boolean", nillable=False, default=False),
        *_system_dates(),
        SfField(
            "CTI_Hub_Key__c",
            "CTI Hub Key",
            "string",
            length=80,
            custom=True,
            external_id=True,
            unique=True,
            id_lookup=True,
        ),
        SfField("CTI_Hub_Intent__c", "CTI Hub Intent", "string", length=100, custom=True),
        SfField("CTI_Hub_Channel__c", "CTI Hub Channel", "string", length=40, custom=True),
        SfField("CTI_Hub_Last_Disposition__c", "CTI Hub Last Disposition", "string", length=100, custom=True),
        SfField("CTI_Hub_SLA_Due__c", "CTI Hub SLA Due", "datetime", custom=True),
        SfField("CTI_Hub_SLA_Status__c", "CTI Hub SLA Status", "string", length=20, custom=True),
    ),
)

TASK = SfObject(
    name="Task",
    label="Task",
    label_plural="Tasks",
    key_prefix="00T",
    closed_statuses=frozenset({"Completed", "Deferred"}),
    fields=(
        _id("Activity ID"),
        SfField("WhoId", "Name ID", "reference", reference_to=("Contact",), relationship_name="Who"),
        SfField(
            "WhatId", "Related To ID", "reference", reference_to=("Case", "Account"), relationship_name="What"
        ),
        SfField(
            "Subject",
            "Subject",
            "combobox",
            length=255,
            picklist=("Call", "Send Letter", "Send Quote", "Other"),
        ),
        SfField("ActivityDate", "Due Date Only", "date"),
        SfField(
            "Status",
            "Status",
            "picklist",
            length=255,
            nillable=False,
            default="Not Started",
            picklist=("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
        ),
        SfField(
            "Priority",
            "Priority",
            "picklist",
            length=255,
            nillable=False,
            default="Normal",
            picklist=("High", "Normal", "Low"),
        ),
        SfField("Description", "Description", "textarea", length=32000),
        _readonly("IsClosed", "Closed", "boolean", nillable=False, default=False),
        SfField("CallDurationInSeconds", "Call Duration", "int"),
        SfField(
            "CallType",
            "Call Type",
            "picklist",
            length=255,
            restricted=True,
            picklist=("Inbound", "Internal", "Outbound"),
        ),
        SfField("CallDisposition", "Call Result", "string", length=255),
        SfField("CallObject", "Call Object Identifier", "string", length=255),
        SfField("ReminderDateTime", "Reminder Date/Time", "datetime"),
        SfField("IsReminderSet", "Reminder Set", "boolean", nillable=False, default=False),
        SfField(
            "TaskSubtype",
            "Task Subtype",
            "picklist",
            length=255,
            updateable=False,
            picklist=("Task", "Email", "Call"),
        ),
        *_system_dates(),
        SfField(
            "CTI_Hub_Event_Key__c",
            "CTI Hub Event Key",
            "string",
            length=80,
            custom=True,
            external_id=True,
            unique=True,
            id_lookup=True,
        ),
        SfField("CTI_Hub_Channel__c", "CTI Hub Channel", "string", length=40, custom=True),
    ),
)

CONTACT = SfObject(
    name="Contact",
    label="Contact",
    label_plural="Contacts",
    key_prefix="003",
    fields=(
        _id("Contact ID"),
        SfField(
            "AccountId", "Account ID", "reference", reference_to=("Account",), relationship_name="Account"
        ),
        SfField("LastName", "Last Name", "string", length=80, nillable=False),
        SfField("FirstName", "First Name", "string", length=40),
        _readonly("Name", "Full Name", "string", length=121, nillable=False, name_field=True),
        SfField("Phone", "Business Phone", "phone", length=40),
        SfField("MobilePhone", "Mobile Phone", "phone", length=40),
        SfField("Email", "Email", "email", length=80, id_lookup=True),
        SfField("HasOptedOutOfEmail", "Email Opt Out", "boolean", nillable=False, default=False),
        SfField("DoNotCall", "Do Not Call", "boolean", nillable=False, default=False),
        *_system_dates(),
    ),
)

ACCOUNT = SfObject(
    name="Account",
    label="Account",
    label_plural="Accounts",
    key_prefix="001",
    fields=(
        _id("Account ID"),
        SfField("Name", "Account Name", "string", length=255, nillable=False, name_field=True),
        *_system_dates(),
    ),
)

CASE_COMMENT = SfObject(
    name="CaseComment",
    label="Case Comment",
    label_plural="Case Comments",
    key_prefix="00a",
    fields=(
        _id("Case Comment ID"),
        SfField(
            "ParentId",
            "Parent Case ID",
            "reference",
            nillable=False,
            updateable=False,
            reference_to=("Case",),
            relationship_name="Parent",
        ),
        SfField("IsPublished", "Published", "boolean", nillable=False, default=False),
        SfField("CommentBody", "Body", "textarea", length=4000),
        *_system_dates(),
    ),
)

# Queues (routing.yaml's targets): read-only here, served from ``SalesforceApi.queues``.
GROUP = SfObject(
    name="Group",
    label="Group",
    label_plural="Groups",
    key_prefix="00G",
    fields=(
        _id("Group ID"),
        _readonly("Name", "Name", "string", length=40, nillable=False, name_field=True),
        _readonly("DeveloperName", "Developer Name", "string", length=80),
        _readonly(
            "Type",
            "Type",
            "picklist",
            length=40,
            nillable=False,
            picklist=("Regular", "Role", "RoleAndSubordinates", "Organization", "Queue"),
        ),
        *_system_dates(),
    ),
)

QUEUE_SOBJECT = SfObject(
    name="QueueSobject",
    label="Queue Sobject",
    label_plural="Queue Sobjects",
    key_prefix="03g",
    fields=(
        _id("Queue Sobject ID"),
        _readonly("QueueId", "Group ID", "reference", nillable=False, reference_to=("Group",)),
        _readonly(
            "SobjectType",
            "Sobject Type",
            "picklist",
            length=40,
            nillable=False,
            picklist=("Case", "Lead", "Task"),
        ),
        *_system_dates(),
    ),
)

SF_OBJECTS: dict[str, SfObject] = {
    o.name: o for o in (CASE, TASK, CONTACT, ACCOUNT, CASE_COMMENT, GROUP, QUEUE_SOBJECT)
}
SF_OBJECTS_BY_LOWER: dict[str, SfObject] = {name.lower(): o for name, o in SF_OBJECTS.items()}
SF_OBJECTS_BY_PREFIX: dict[str, SfObject] = {o.key_prefix: o for o in SF_OBJECTS.values()}


def sf_object(name: str) -> SfObject | None:
    """The object called ``name`` (case-insensitive, as Salesforce resolves sObject names)."""
    return SF_OBJECTS_BY_LOWER.get(name.lower())


# --------------------------------------------------------------------------------------------
# Zendesk
# --------------------------------------------------------------------------------------------

DISPOSITION_FIELD_ID = 360000000001
INTENT_FIELD_ID = 360000000002
CHANNEL_FIELD_ID = 360000000003
EPISODE_FIELD_ID = 360000000004
SLA_DUE_FIELD_ID = 360000000005


@dataclass(frozen=True)
class ZdTicketField:
    id: int
    type: str  # "tagger", "text", or a system type ("subject", "status", ...)
    title: str
    options: tuple[tuple[str, str], ...] = ()  # (value, name)
    description: str = ""
    system: bool = False
    required: bool = False
    position: int = 0

    @property
    def custom(self) -> bool:
        return not self.system

    def option_values(self) -> frozenset[str]:
        return frozenset(value for value, _name in self.options)

    def render(self, base_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": f"{base_url}/api/v2/ticket_fields/{self.id}.json",
            "id": self.id,
            "type": self.type,
            "title": self.title,
            "raw_title": self.title,
            "description": self.description,
            "raw_description": self.description,
            "position": self.position,
            "active": True,
            "required": self.required,
            "collapsed_for_agents": False,
            "regexp_for_validation": None,
            "title_in_portal": self.title,
            "raw_title_in_portal": self.title,
            "visible_in_portal": self.system and self.type in ("subject", "description"),
            "editable_in_portal": self.system and self.type in ("subject", "description"),
            "required_in_portal": self.system and self.type in ("subject", "description"),
            "agent_can_edit": True,
            "tag": None,
            "created_at": "2024-01-02T03:04:05Z",
            "updated_at": "2024-01-02T03:04:05Z",
            "removable": not self.system,
            "key": None,
            "agent_description": None,
        }
        if self.type == "tagger":
            out["custom_field_options"] = [
                {
                    "id": self.id * 1000 + index + 1,
                    "name": name,
                    "raw_name": name,
                    "value": value,
                    "default": False,
                }
                for index, (value, name) in enumerate(self.options)
            ]
        if self.type in ("status", "priority", "tickettype"):
            out["system_field_options"] = [{"name": name, "value": value} for value, name in self.options]
        return out


def _opts(*values: str) -> tuple[tuple[str, str], ...]:
    return tuple((v, v.replace("ctihub_", "").replace("_", " ").capitalize()) for v in values)


ZD_STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
ZD_PRIORITIES = ("low", "normal", "high", "urgent")
ZD_TYPES = ("problem", "incident", "question", "task")
ZD_UNSOLVED = frozenset({"new", "open", "pending", "hold"})

ZD_TICKET_FIELDS: tuple[ZdTicketField, ...] = (
    ZdTicketField(360000000101, "subject", "Subject", system=True, required=True, position=1),
    ZdTicketField(
        360000000102,
        "description",
        "Description",
        system=True,
        required=True,
        position=2,
        description="Please enter the details of your request.",
    ),
    ZdTicketField(
        360000000103,
        "status",
        "Status",
        system=True,
        position=3,
        options=tuple((s, s.capitalize()) for s in ZD_STATUSES),
    ),
    ZdTicketField(
        360000000104,
        "tickettype",
        "Type",
        system=True,
        position=4,
        options=tuple((t, t.capitalize()) for t in ZD_TYPES),
    ),
    ZdTicketField(
        360000000105,
        "priority",
        "Priority",
        system=True,
        position=5,
        options=tuple((p, p.capitalize()) for p in ZD_PRIORITIES),
    ),
    ZdTicketField(360000000106, "group", "Group", system=True, position=6),
    ZdTicketField(360000000107, "assignee", "Assignee", system=True, required=True, position=7),
    ZdTicketField(
        DISPOSITION_FIELD_ID,
        "tagger",
        "CTI Hub disposition",
        position=10,
        options=_opts(
            "ctihub_ss_resolved",
            "ctihub_ss_failed",
            "ctihub_ss_abandoned",
            "ctihub_chat_resolved",
            "ctihub_chat_abandoned",
            "ctihub_sms_resolved",
            "ctihub_sms_no_response",
            "ctihub_resolved",
            "ctihub_failed",
            "ctihub_abandoned",
            "ctihub_escalated",
            "ctihub_deflected",
            "ctihub_in_progress",
            "ctihub_no_response",
            "ctihub_callback_requested",
            "ctihub_recovery_sms_sent",
            "ctihub_recovery_callback_scheduled",
            "ctihub_recovery_email_scheduled",
            "ctihub_recovery_rescheduled",
            "ctihub_recovery_blocked",
            "ctihub_recovery_cancelled",
            "ctihub_recovery_failed",
        ),
    ),
    ZdTicketField(
        INTENT_FIELD_ID,
        "tagger",
        "CTI Hub intent",
        position=11,
        options=_opts(
            "password_reset",
            "order_status",
            "billing",
            "technical_support",
            "appointment",
            "account_update",
            "plan_change",
            "delivery_update",
            "cancellation",
            "general_inquiry",
        ),
    ),
    ZdTicketField(
        CHANNEL_FIELD_ID,
        "tagger",
        "CTI Hub channel",
        position=12,
        options=_opts(
            "channel_chat",
            "channel_sms",
            "channel_self_service",
            "channel_voice",
            "channel_email",
            "channel_messaging",
        ),
    ),
    ZdTicketField(EPISODE_FIELD_ID, "text", "CTI Hub episode", position=13),
    ZdTicketField(SLA_DUE_FIELD_ID, "text", "CTI Hub SLA due", position=14),
)

ZD_CUSTOM_FIELDS: dict[int, ZdTicketField] = {f.id: f for f in ZD_TICKET_FIELDS if f.custom}
ZD_FIELDS_BY_ID: dict[int, ZdTicketField] = {f.id: f for f in ZD_TICKET_FIELDS}
