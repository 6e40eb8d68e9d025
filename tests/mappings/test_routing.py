"""routing.yaml offline: each problem at its file:line with the message `ctihub mappings validate`
prints; the schema's priority and channel values are the hub's own; the shipped file loads."""

from __future__ import annotations

import json

from hub.domain.outcome import CHANNELS
from hub.domain.sla import PRIORITIES
from hub.mappings import load_mappings, validate_mappings
from hub.mappings.schema import BUNDLED_SCHEMA_DIR
from hub.services.config_docs import DOCUMENT_NAME, read_directory, validate_documents


def only(copy, needle: str) -> tuple[str, str]:
    problems = validate_mappings(copy.directory)
    assert len(problems) == 1, problems
    return problems[0].path, problems[0].message


def test_the_shipped_routing_loads_with_its_rules_in_file_order(shipped) -> None:
    routing = load_mappings(shipped).routing
    assert routing is not None
    assert [rule.label for rule in routing.rules] == ["rules[0]", "rules[1]", "rules[2]"]
    assert routing.default is not None and routing.default.targets == {
        "zendesk": "Support",
        "salesforce": "Support_Queue",
    }


def test_the_schema_offers_exactly_the_hubs_priorities_and_channels() -> None:
    schema = json.loads((BUNDLED_SCHEMA_DIR / "routing.schema.json").read_text())
    when = schema["$defs"]["when"]["properties"]
    assert tuple(when["priority"]["items"]["enum"]) == PRIORITIES
    assert tuple(when["channel"]["items"]["enum"]) == CHANNELS


def test_an_unknown_intent_is_named_at_its_line_with_a_suggestion(copy) -> None:
    copy.replace("routing.yaml", "intent: [billing, plan_change", "intent: [billing, plan_chnage")
    path, message = only(copy, "plan_chnage")
    assert path == copy.at("routing.yaml", "plan_chnage")
    assert "rules[2].when.intent: unknown intent 'plan_chnage' (did you mean 'plan_change'?)" in message


def test_an_unknown_priority_or_channel_is_a_schema_problem_at_its_line(copy) -> None:
    copy.replace("routing.yaml", "priority: [urgent]", "priority: [critical]")
    path, message = only(copy, "critical")
    assert path == copy.at("routing.yaml", "priority: [critical]")
    assert message == "rules[0].when.priority[0]: unknown priority 'critical'; expected one of: " + ", ".join(
        PRIORITIES
    )


def test_a_language_that_is_not_a_bcp47_tag(copy) -> None:
    copy.replace("routing.yaml", "language: [es]", "language: [es_MX]")
    path, message = only(copy, "es_MX")
    assert path == copy.at("routing.yaml", "language: [es_MX]")
    assert "'es_MX' is not a valid language tag" in message


def test_a_target_written_as_bare_text_says_how_to_write_it(copy) -> None:
    copy.replace("routing.yaml", "zendesk: {group: Billing}", "zendesk: Billing")
    path, message = only(copy, "zendesk: Billing")
    assert path == copy.at("routing.yaml", "zendesk: Billing")
    assert message == (
        "rules[2].zendesk: expected 'unassigned', got 'Billing'; a group is written {group: <name or id>}"
    )


def test_a_queue_that_is_neither_a_developer_name_nor_an_id(copy) -> None:
    copy.replace("routing.yaml", "queue: Support_Queue", "queue: Support Queue")
    path, message = only(copy, "Support Queue")
    assert path == copy.at("routing.yaml", "queue: Support Queue")
    assert "is not a valid queue DeveloperName or Id" in message


def test_a_rule_without_a_target_and_a_rule_that_never_applies(copy) -> None:
    copy.write(
        "routing.yaml",
        "rules:\n"
        "  - when: {channel: [chat]}\n"  # line 2
        "    zendesk: {group: Support}\n"
        "  - when: {channel: [chat], priority: [urgent]}\n"  # line 4: rules[0] takes all of it
        "    zendesk: {group: Escalations}\n"
        "    salesforce: {queue: Escalations_Queue}\n"
        "  - when: {language: [es]}\n"  # line 7: no target
        "default: {zendesk: unassigned}\n",
    )
    problems = validate_mappings(copy.directory)
    assert [(p.path, p.message) for p in problems] == [
        (
            f"{copy.path('routing.yaml')}:4",
            "rules[1]: never applies to zendesk: rules[0] (line 2) matches every event it does; "
            "put the narrower rule first",
        ),
        (
            f"{copy.path('routing.yaml')}:7",
            "rules[2]: names no target; add zendesk: {group: <name or id>} and/or "
            "salesforce: {queue: <DeveloperName or Id>} (or 'unassigned')",
        ),
    ]  # rules[1] still applies to salesforce: no problem there


def test_routing_is_a_versioned_document_validated_like_the_files(shipped) -> None:
    assert DOCUMENT_NAME.match("routing.yaml")
    documents = read_directory(shipped)  # what seeding and `mappings import` read
    assert "routing.yaml" in documents
    assert validate_documents(documents) == []
    broken = {**documents, "routing.yaml": documents["routing.yaml"].replace("[urgent]", "[now]")}
    [problem] = validate_documents(broken)
    line = next(n for n, text in enumerate(broken["routing.yaml"].splitlines(), 1) if "[now]" in text)
    assert problem.path == f"routing.yaml:{line}"
    assert "unknown priority 'now'" in problem.message
