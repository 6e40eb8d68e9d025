"""The shipped default set: it loads clean, and what it builds is what the domain expects."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from hub.domain.catalog import Catalog, Disposition, Intent
from hub.domain.errors import ConfigError
from hub.domain.mapping import SOURCE_FIELDS, TRANSFORMS, CrmMapping
from hub.domain.outcome import CHANNELS, CRMS, OUTCOMES
from hub.mappings import Mappings, load_mappings, validate_mappings
from hub.mappings.schema import BUNDLED_SCHEMA_DIR


@pytest.fixture(scope="module")
def mappings() -> Mappings:
    return load_mappings(Path(__file__).resolve().parents[2] / "mappings")


def test_shipped_set_has_no_problems(shipped: Path) -> None:
    assert validate_mappings(shipped) == []


def test_loaded_shape(mappings: Mappings, shipped: Path) -> None:
    assert mappings.directory == shipped
    assert mappings.crms == ("salesforce", "zendesk")
    assert isinstance(mappings.catalog, Catalog)
    assert isinstance(mappings.crm("salesforce"), CrmMapping)
    assert mappings.crm("zendesk").case.object == "ticket"


def test_intents(mappings: Mappings) -> None:
    intents = mappings.catalog.intents
    assert list(intents) == [
        "password_reset", "order_status", "billing", "technical_support", "appointment",
        "account_update", "plan_change", "delivery_update", "cancellation", "general_inquiry",
    ]  # fmt: skip
    assert all(isinstance(intent, Intent) for intent in intents.values())
    assert intents["password_reset"].family == "account_access"
    assert intents["account_update"].family == "account_access"
    assert intents["delivery_update"].family == "delivery_update"  # defaults to its code
    assert isinstance(intents["billing"].channels, frozenset)
    assert "self_service" in intents["password_reset"].channels
    assert all("voice" in intent.channels for intent in intents.values())
    assert intents["general_inquiry"].channels == frozenset(CHANNELS)


def test_dispositions(mappings: Mappings) -> None:
    dispositions = mappings.catalog.dispositions
    assert len(dispositions) == 22  # 15 interaction codes + 7 RECOVERY_* codes
    assert all(isinstance(d, Disposition) for d in dispositions.values())
    ss_failed = dispositions["SS_FAILED"]
    assert ss_failed.outcome_class == "failed"
    assert ss_failed.defaults == (("self_service", "failed"),)
    assert ss_failed.crm_values == {"salesforce": "Self-service failed", "zendesk": "ctihub_ss_failed"}
    assert ss_failed.crm_tags == {"zendesk": ("ctihub_needs_follow_up",)}
    assert dispositions["CALLBACK_REQUESTED"].defaults == ()
    for code, disposition in dispositions.items():
        assert disposition.crm_values["zendesk"] == f"ctihub_{code.lower()}"
        assert disposition.outcome_class in OUTCOMES


@pytest.mark.parametrize(
    ("channel", "outcome", "code"),
    [
        ("self_service", "failed", "SS_FAILED"),
        ("self_service", "resolved", "SS_RESOLVED"),
        ("chat", "resolved", "CHAT_RESOLVED"),
        ("messaging", "abandoned", "CHAT_ABANDONED"),
        ("sms", "no_response", "SMS_NO_RESPONSE"),
        ("voice", "failed", "FAILED"),
        ("email", "no_response", "NO_RESPONSE"),
        ("chat", "escalated", "ESCALATED"),
    ],
)
def test_derived_dispositions(mappings: Mappings, channel: str, outcome: str, code: str) -> None:
    derived = mappings.catalog.derive_disposition(channel, outcome)
    assert derived is not None
    assert derived.code == code


def test_every_channel_and_outcome_is_covered(mappings: Mappings) -> None:
    assert mappings.catalog.uncovered_outcomes() == []


CONTEXT = {
    "event.channel": "chat",
    "event.priority": "urgent",
    "event.direction": "inbound",
    "event.summary": "Customer could not reset the password.",
    "event.occurred_at": datetime(2026, 3, 4, 22, 30, tzinfo=UTC),
    "intent.code": "password_reset",
    "intent.label": "Password reset",
    "disposition.code": "CHAT_RESOLVED",
    "disposition.tags": ("ctihub_contained",),
    "customer.phone": "+14155550100",
    "customer.email": "ada@example.com",
    "customer.name": "Ada Lovelace",
    "episode.id": "ep_123",
    "activity.subject": "Chat · Resolved in chat",
    "activity.body": "Resolved in chat.\nCustomer: I can't log in",
}


def test_salesforce_case_on_create(mappings: Mappings) -> None:
    case = mappings.crm("salesforce").case
    assert case.object == "Case"
    assert case.key_field == "CTI_Hub_Key__c"
    assert case.apply({**CONTEXT, "disposition.value": "Resolved in chat"}, creating=True) == {
        "Subject": "Password reset",
        "Origin": "Chat",
        "Priority": "High",
        "Status": "New",
        "SuppliedPhone": "+14155550100",
        "SuppliedEmail": "ada@example.com",
        "SuppliedName": "Ada Lovelace",
        "Description": "Customer could not reset the password.",
        "CTI_Hub_Intent__c": "password_reset",
        "CTI_Hub_Channel__c": "chat",
        "CTI_Hub_Last_Disposition__c": "CHAT_RESOLVED",
    }


def test_salesforce_case_update_leaves_create_only_fields(mappings: Mappings) -> None:
    fields = mappings.crm("salesforce").case.apply({**CONTEXT, "event.channel": "sms"}, creating=False)
    assert fields == {
        "CTI_Hub_Intent__c": "password_reset",
        "CTI_Hub_Channel__c": "sms",
        "CTI_Hub_Last_Disposition__c": "CHAT_RESOLVED",
    }


@pytest.mark.parametrize(
    ("channel", "origin"),
    [("chat", "Chat"), ("messaging", "Chat"), ("sms", "SMS"), ("self_service", "Self-Service"),
     ("voice", "Phone"), ("email", "Email")],
)  # fmt: skip
def test_salesforce_origin_for_every_channel(mappings: Mappings, channel: str, origin: str) -> None:
    fields = mappings.crm("salesforce").case.apply({**CONTEXT, "event.channel": channel}, creating=True)
    assert fields["Origin"] == origin


def test_salesforce_task(mappings: Mappings) -> None:
    task = mappings.crm("salesforce").activity
    assert (task.object, task.key_field) == ("Task", "CTI_Hub_Event_Key__c")
    assert task.apply({**CONTEXT, "disposition.value": "Resolved in chat"}, creating=True) == {
        "Subject": "Chat · Resolved in chat",
        "Description": "Resolved in chat.\nCustomer: I can't log in",
        "CallDisposition": "Resolved in chat",
        "Status": "Completed",
        "ActivityDate": "2026-03-04",
        "CallType": "Inbound",
        "CTI_Hub_Channel__c": "chat",
    }


def test_salesforce_subject_is_truncated_to_the_field_length(mappings: Mappings) -> None:
    fields = mappings.crm("salesforce").activity.apply({"activity.subject": "x" * 400}, creating=True)
    assert len(fields["Subject"]) == 255


def test_zendesk_ticket_and_comment(mappings: Mappings) -> None:
    zendesk = mappings.crm("zendesk")
    assert (zendesk.case.object, zendesk.case.key_field) == ("ticket", "external_id")
    context = {**CONTEXT, "disposition.value": "ctihub_chat_resolved"}
    assert zendesk.case.apply(context, creating=True) == {
        "subject": "Password reset",
        "priority": "urgent",
        "custom_fields.360000000002": "password_reset",
        "custom_fields.360000000003": "channel_chat",
        "custom_fields.360000000004": "ep_123",
        "custom_fields.360000000001": "ctihub_chat_resolved",
        "tags": ["ctihub_contained", "ctihub"],
    }
    assert zendesk.activity.apply(context, creating=True) == {
        "body": "Resolved in chat.\nCustomer: I can't log in",
        "public": False,
    }


def test_zendesk_constant_tag_without_disposition_tags(mappings: Mappings) -> None:
    fields = mappings.crm("zendesk").case.apply({**CONTEXT, "disposition.tags": ()}, creating=False)
    assert fields["tags"] == ["ctihub"]


def test_loaded_mappings_cannot_be_changed_through_a_result(mappings: Mappings) -> None:
    case = mappings.crm("zendesk").case
    first = case.apply({}, creating=False)
    first["tags"].append("mutated")
    assert case.apply({}, creating=False)["tags"] == ["ctihub"]
    with pytest.raises(TypeError):
        case.rules[0].options["x"] = 1  # type: ignore[index]


def test_unconfigured_crm_is_a_config_error(tmp_path: Path, shipped: Path) -> None:
    for name in ("intents.yaml", "dispositions.yaml", "fields.salesforce.yaml"):
        (tmp_path / name).write_text((shipped / name).read_text(encoding="utf-8"), encoding="utf-8")
    mappings = load_mappings(tmp_path)
    assert mappings.crms == ("salesforce",)
    with pytest.raises(ConfigError) as caught:
        mappings.crm("zendesk")
    assert caught.value.problems[0].path == str(tmp_path / "fields.zendesk.yaml")


# --- the schemas and the files that reference them ---------------------------------------------


def _schema(kind: str) -> dict:
    return json.loads((BUNDLED_SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("kind", ["intents", "dispositions", "fields"])
def test_schemas_are_valid_2020_12_with_id_and_descriptions(kind: str) -> None:
    schema = _schema(kind)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].startswith("https://")
    assert schema["title"]
    assert schema["description"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("intents.yaml", "intents"), ("dispositions.yaml", "dispositions"),
     ("fields.salesforce.yaml", "fields"), ("fields.zendesk.yaml", "fields")],
)  # fmt: skip
def test_each_file_names_its_schema_on_the_first_line(shipped: Path, name: str, kind: str) -> None:
    first = (shipped / name).read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema=schemas/{kind}.schema.json"
    assert (shipped / "schemas" / f"{kind}.schema.json").is_file()


def test_schema_enums_match_the_domain() -> None:
    """Editors complete from these enums; they must stay equal to the domain's constants."""
    intents, dispositions, fields = _schema("intents"), _schema("dispositions"), _schema("fields")
    assert intents["$defs"]["channel"]["enum"] == list(CHANNELS)
    assert dispositions["$defs"]["channel_or_any"]["enum"] == [*CHANNELS, "*"]
    assert dispositions["$defs"]["outcome"]["enum"] == list(OUTCOMES)
    assert set(dispositions["$defs"]["disposition"]["properties"]) >= set(CRMS)
    assert fields["properties"]["crm"]["enum"] == list(CRMS)
    assert fields["$defs"]["transform"]["enum"] == list(TRANSFORMS)
    examples = fields["$defs"]["rule"]["properties"]["source"]["examples"]
    assert {e for e in examples if not e.startswith("metadata.")} == SOURCE_FIELDS, (
        "mappings/schemas/fields.schema.json: update the source examples to hub.domain.mapping.SOURCE_FIELDS"
    )
