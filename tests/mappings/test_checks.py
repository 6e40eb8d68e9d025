"""Every check, on a copy of the shipped set broken in one place: the exact file:line and a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.domain.errors import ConfigError, Problem
from hub.mappings import load_mappings, validate_mappings
from hub.mappings import schema as schema_module


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(f"{p.path}: {p.message}" for p in problems)
    return problems[0]


def expect(copy, at: str, *fragments: str) -> Problem:
    problem = only(validate_mappings(copy.directory))
    assert problem.path == at, problem
    for fragment in fragments:
        assert fragment in problem.message, problem
    return problem


# --- files and YAML -----------------------------------------------------------------------------


def test_load_raises_config_error_listing_every_problem_across_files(copy) -> None:
    copy.replace("intents.yaml", "family: account_access", "family: Account Access")
    copy.replace("dispositions.yaml", "outcome_class: abandoned", "outcome_class: gave_up")
    copy.replace("fields.zendesk.yaml", "source: episode.id", "source: episode.number")
    with pytest.raises(ConfigError) as caught:
        load_mappings(copy.directory)
    error = caught.value
    assert "3 problems" in error.message
    paths = [p.path for p in error.problems]
    assert paths == [
        copy.at("intents.yaml", "family: Account Access"),
        copy.at("dispositions.yaml", "outcome_class: gave_up"),
        copy.at("fields.zendesk.yaml", "source: episode.number"),
    ]


def test_validate_lists_problems_in_file_then_line_order(copy) -> None:
    copy.replace("dispositions.yaml", "outcome: failed}", "outcome: fail}", count=2)
    copy.replace("intents.yaml", "channels: [chat, sms, voice, email]", "channels: [chat, fax]")
    problems = validate_mappings(copy.directory)
    assert [p.path for p in problems] == [
        copy.at("intents.yaml", "channels: [chat, fax]"),
        f"{copy.path('dispositions.yaml')}:1",  # self_service/failed and */failed are no longer covered
        copy.at("dispositions.yaml", "outcome: fail}"),
        copy.at("dispositions.yaml", "outcome: fail}", nth=2),
    ]
    lines = [int(p.path.rsplit(":", 1)[1]) for p in problems if "dispositions" in p.path]
    assert lines == sorted(lines)


def test_yaml_syntax_error_reports_its_line(copy) -> None:
    copy.replace("dispositions.yaml", "    label: Chat abandoned", "    label: [Chat abandoned")
    problem = only(validate_mappings(copy.directory))
    # YAML notices the unclosed bracket on the next line
    assert problem.path == copy.at("dispositions.yaml", "outcome_class: abandoned", nth=2)
    assert problem.message.startswith("YAML syntax error at column")


def test_unsafe_yaml_tag_is_refused(copy) -> None:
    copy.replace("intents.yaml", "label: Plan change", "label: !!python/object/apply:os.getcwd []")
    expect(copy, copy.at("intents.yaml", "os.getcwd"), "YAML syntax error", "constructor")


def test_required_files_are_reported_missing(copy) -> None:
    copy.path("intents.yaml").unlink()
    copy.path("dispositions.yaml").unlink()
    problems = validate_mappings(copy.directory)
    assert [p.path for p in problems] == [str(copy.path("intents.yaml")), str(copy.path("dispositions.yaml"))]
    assert all("missing" in p.message for p in problems)


def test_missing_directory_is_problems_not_an_exception(tmp_path: Path) -> None:
    assert len(validate_mappings(tmp_path / "nope")) == 2


def test_empty_file(copy) -> None:
    copy.write("intents.yaml", "# yaml-language-server: $schema=schemas/intents.schema.json\n")
    expect(copy, f"{copy.path('intents.yaml')}:1", "empty")


def test_duplicate_yaml_key(copy) -> None:
    copy.replace("intents.yaml", "    label: Order status\n", "    label: Order status\n    label: Orders\n")
    expect(copy, copy.at("intents.yaml", "label: Orders"), "duplicate key 'label'", "intents[1]")


def test_unknown_files_are_ignored(copy) -> None:
    copy.write("notes.yaml", "schedules: [not: checked here\n")
    copy.write("notes.txt", "hello")
    assert validate_mappings(copy.directory) == []


def test_fields_file_for_an_unknown_crm(copy) -> None:
    copy.write("fields.hubspot.yaml", "crm: hubspot\n")
    expect(copy, f"{copy.path('fields.hubspot.yaml')}:1", "unknown CRM 'hubspot'")


def test_schemas_fall_back_to_the_directory_copy(copy, shipped: Path, monkeypatch) -> None:
    monkeypatch.setattr(schema_module, "BUNDLED_SCHEMA_DIR", copy.directory / "not-here")
    assert "schema.json not found" in validate_mappings(copy.directory)[0].message
    (copy.directory / "schemas").mkdir()
    for source in (shipped / "schemas").glob("*.json"):
        (copy.directory / "schemas" / source.name).write_bytes(source.read_bytes())
    copy.replace("intents.yaml", "channels: [chat, email, voice]", "channels: [chat, fax, voice]")
    expect(copy, copy.at("intents.yaml", "channels: [chat, fax, voice]"), "unknown channel 'fax'")


# --- schema violations --------------------------------------------------------------------------


def test_schema_unknown_key_points_at_the_key(copy) -> None:
    copy.replace("intents.yaml", "    label: Billing question", "    lable: Billing question")
    problems = validate_mappings(copy.directory)
    assert [(p.path, p.message) for p in problems] == [
        (copy.at("intents.yaml", "code: billing"), "intents[2]: missing required key 'label'"),
        (
            copy.at("intents.yaml", "lable: Billing question"),
            "intents[2]: unknown key 'lable'; expected one of: "
            "code, label, family, channels, description, duplicate_policy",
        ),
    ]


def test_schema_wrong_type(copy) -> None:
    copy.replace("fields.salesforce.yaml", "max_length: 80", "max_length: eighty")
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "max_length: eighty"),
        "case.fields[6].max_length: expected an integer, got text",
    )


def test_schema_missing_crm_value_key(copy) -> None:
    copy.replace("dispositions.yaml", "salesforce: {value: Escalated to an agent}", "salesforce: {}")
    expect(copy, copy.at("dispositions.yaml", "salesforce: {}"), "missing required key 'value'")


def test_schema_every_violation_is_reported(copy) -> None:
    copy.replace("fields.zendesk.yaml", "target: subject", "target: sub ject")
    copy.replace("fields.zendesk.yaml", "when: create}", "when: later}")
    copy.replace("fields.zendesk.yaml", "key_field: external_id", "key_field: 7")
    assert [p.path for p in validate_mappings(copy.directory)] == [
        copy.at("fields.zendesk.yaml", "key_field: 7"),
        copy.at("fields.zendesk.yaml", "sub ject"),
        copy.at("fields.zendesk.yaml", "sub ject"),
    ]


def test_value_map_keys_yaml_reads_as_booleans(copy) -> None:
    copy.replace("fields.salesforce.yaml", "values: {inbound: Inbound", "values: {yes: Inbound")
    expect(copy, copy.at("fields.salesforce.yaml", "{yes: Inbound"), "key True must be text; quote it")


# --- intents ------------------------------------------------------------------------------------


def test_duplicate_intent_code(copy) -> None:
    copy.replace("intents.yaml", "code: plan_change", "code: billing")
    expect(
        copy,
        copy.at("intents.yaml", "code: billing", nth=2),
        "duplicate intent code 'billing'",
        f"first at line {copy.line('intents.yaml', 'code: billing')}",
    )


def _keep_intents(copy, count: int) -> None:
    text = copy.text("intents.yaml")
    head, _, body = text.partition("intents:\n")
    blocks = body.split("\n\n")
    blocks = (blocks * 2)[:count]
    renamed = [block.replace("code: ", f"code: n{i}_", 1) for i, block in enumerate(blocks)]
    copy.write("intents.yaml", head + "intents:\n" + "\n\n".join(renamed) + "\n")
    copy.path("routing.yaml").unlink()  # it routes by the shipped codes, renamed here


@pytest.mark.parametrize("count", [7, 16])
def test_intent_count_must_be_8_to_15(copy, count: int) -> None:
    _keep_intents(copy, count)
    expect(copy, copy.at("intents.yaml", "intents:"), f"{count} intents", "8 to 15")


@pytest.mark.parametrize("count", [8, 15])
def test_intent_count_bounds_are_allowed(copy, count: int) -> None:
    _keep_intents(copy, count)
    assert validate_mappings(copy.directory) == []


def test_unknown_intent_channel(copy) -> None:
    copy.replace("intents.yaml", "channels: [chat, email, voice]", "channels: [chat, fax, voice]")
    expect(
        copy,
        copy.at("intents.yaml", "channels: [chat, fax, voice]"),
        "intents[8].channels[1]: unknown channel 'fax'; expected one of: chat, sms, self_service",
    )


def test_intent_channels_on_separate_lines_point_at_the_item(copy) -> None:
    copy.replace("intents.yaml", "channels: [chat, email, voice]", "channels:\n      - chat\n      - phone\n")
    expect(copy, copy.at("intents.yaml", "- phone"), "unknown channel 'phone'")


# --- dispositions -------------------------------------------------------------------------------


def test_duplicate_disposition_code(copy) -> None:
    copy.replace("dispositions.yaml", "code: SMS_RESOLVED", "code: CHAT_RESOLVED")
    problems = validate_mappings(copy.directory)
    assert problems[0].path == copy.at("dispositions.yaml", "code: CHAT_RESOLVED", nth=2)
    assert "duplicate disposition code 'CHAT_RESOLVED'" in problems[0].message


def test_outcome_class_not_an_outcome(copy) -> None:
    copy.replace("dispositions.yaml", "outcome_class: in_progress", "outcome_class: pending")
    expect(
        copy,
        copy.at("dispositions.yaml", "outcome_class: pending"),
        "unknown outcome 'pending'; expected one of: resolved, failed",
    )


def test_default_channel_must_be_a_channel_or_star(copy) -> None:
    copy.replace(
        "dispositions.yaml", "{channel: sms, outcome: resolved}", "{channel: text, outcome: resolved}"
    )
    problems = validate_mappings(copy.directory)
    assert problems[0].path == copy.at("dispositions.yaml", "channel: text")
    assert "unknown channel 'text'" in problems[0].message


def test_uncovered_channel_outcome_pairs_are_named_at_line_1(copy) -> None:
    copy.replace("dispositions.yaml", '      - {channel: "*", outcome: failed}\n', "")
    copy.replace(
        "dispositions.yaml",
        "    defaults:\n    salesforce: {value: Failed}",
        "    salesforce: {value: Failed}",
    )
    problem = expect(copy, f"{copy.path('dispositions.yaml')}:1", "no default disposition for 5")
    assert "chat/failed, sms/failed, voice/failed, email/failed, messaging/failed" in problem.message
    assert "self_service/failed" not in problem.message


def test_one_pair_claimed_by_two_codes(copy) -> None:
    copy.replace(
        "dispositions.yaml",
        "      - {channel: sms, outcome: resolved}\n",
        "      - {channel: sms, outcome: resolved}\n      - {channel: chat, outcome: resolved}\n",
    )
    expect(
        copy,
        copy.at("dispositions.yaml", "{channel: chat, outcome: resolved}", nth=2),
        "chat/resolved is already the default of CHAT_RESOLVED "
        f"(line {copy.line('dispositions.yaml', '{channel: chat, outcome: resolved}')})",
    )


def test_disposition_without_a_value_for_a_configured_crm(copy) -> None:
    copy.replace(
        "dispositions.yaml", "    zendesk: {value: ctihub_deflected, tags: [ctihub_deflected]}\n", ""
    )
    expect(
        copy,
        copy.at("dispositions.yaml", "code: DEFLECTED"),
        "DEFLECTED has no zendesk value, but fields.zendesk.yaml configures zendesk",
    )


def test_missing_value_is_fine_for_an_unconfigured_crm(copy) -> None:
    copy.replace(
        "dispositions.yaml", "    zendesk: {value: ctihub_deflected, tags: [ctihub_deflected]}\n", ""
    )
    copy.path("fields.zendesk.yaml").unlink()
    mappings = load_mappings(copy.directory)
    assert mappings.crms == ("salesforce",)
    assert "zendesk" not in mappings.catalog.dispositions["DEFLECTED"].crm_values


# --- field mappings -----------------------------------------------------------------------------


def test_unknown_source(copy) -> None:
    copy.replace("fields.salesforce.yaml", "source: customer.email", "source: customer.mail")
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "source: customer.mail"),
        "case.fields[5].source: unknown source 'customer.mail' (did you mean 'customer.email'?)",
    )


def test_metadata_sources_are_known(copy) -> None:
    copy.replace("fields.salesforce.yaml", "source: customer.email", "source: metadata.contact_email")
    assert validate_mappings(copy.directory) == []


def test_unknown_transform(copy) -> None:
    copy.replace("fields.salesforce.yaml", "transform: date", "transform: datetime")
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "transform: datetime"),
        "activity.fields[4].transform: unknown transform 'datetime'; expected one of: copy,",
    )


def test_missing_required_option(copy) -> None:
    copy.replace("fields.salesforce.yaml", "transform: truncate, max_length: 80,", "transform: truncate,")
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "target: SuppliedName"),
        "case.fields[6]: transform truncate needs option 'max_length'",
    )


def test_constant_without_value(copy) -> None:
    copy.replace("fields.zendesk.yaml", "transform: constant, value: false}", "transform: constant}")
    expect(copy, copy.at("fields.zendesk.yaml", "target: public"), "transform constant needs option 'value'")


def test_value_map_without_values(copy) -> None:
    copy.replace("fields.salesforce.yaml", "      values: {inbound: Inbound, outbound: Outbound}\n", "")
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "target: CallType"),
        "activity.fields[5]: transform value_map needs option 'values'",
    )


def test_value_map_with_empty_values(copy) -> None:
    copy.replace("fields.salesforce.yaml", "values: {inbound: Inbound, outbound: Outbound}", "values: {}")
    expect(copy, copy.at("fields.salesforce.yaml", "values: {}"), "a value_map needs at least one value")


def test_option_the_transform_does_not_read(copy) -> None:
    copy.replace("fields.salesforce.yaml", "{target: CTI_Hub_Intent__c, source: intent.code}",
                 "{target: CTI_Hub_Intent__c, source: intent.code, max_length: 64}")  # fmt: skip
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "max_length: 64"),
        "option 'max_length' has no effect with transform copy",
    )


def test_rule_without_source(copy) -> None:
    copy.replace("fields.salesforce.yaml", "{target: CTI_Hub_Intent__c, source: intent.code}",
                 "{target: CTI_Hub_Intent__c}")  # fmt: skip
    expect(copy, copy.at("fields.salesforce.yaml", "{target: CTI_Hub_Intent__c}"), "needs a source")


def test_duplicate_target_in_one_object(copy) -> None:
    copy.replace("fields.salesforce.yaml", "{target: CTI_Hub_Channel__c, source: event.channel}",
                 "{target: Subject, source: event.channel}")  # fmt: skip
    expect(
        copy,
        copy.at("fields.salesforce.yaml", "{target: Subject, source: event.channel}"),
        "case: duplicate target 'Subject' "
        f"(first at line {copy.line('fields.salesforce.yaml', 'target: Subject')})",
    )


def test_same_target_in_case_and_activity_is_fine(shipped: Path) -> None:
    # Subject and CTI_Hub_Channel__c appear in both the Case and the Task mapping of the shipped set
    assert validate_mappings(shipped) == []


def test_list_targets_may_repeat_but_not_with_a_scalar_rule(copy) -> None:
    copy.replace("fields.zendesk.yaml", "{target: tags, transform: constant, value: [ctihub]}",
                 "{target: tags, transform: constant, value: ctihub}")  # fmt: skip
    expect(copy, copy.at("fields.zendesk.yaml", "value: ctihub}"), "duplicate target 'tags'")


def test_crm_key_must_match_the_file_name(copy) -> None:
    copy.replace("fields.zendesk.yaml", "crm: zendesk", "crm: salesforce")
    expect(
        copy,
        copy.at("fields.zendesk.yaml", "crm: salesforce"),
        "fields.zendesk.yaml but says crm: salesforce",
    )
