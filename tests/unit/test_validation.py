import json
from pathlib import Path

import pytest

from hub.domain.errors import ValidationFailed
from hub.mappings import load_mappings
from hub.services.validation import MalformedBody, OutcomeValidator, load_outcome_schema

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
SHARED_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "contract" / "outcome-event.schema.json"


@pytest.fixture(scope="module")
def validator() -> OutcomeValidator:
    return OutcomeValidator(load_outcome_schema(), load_mappings(MAPPINGS).catalog)


def event(**changes):
    base = {
        "event_id": "e-1",
        "occurred_at": "2026-11-23T10:00:00Z",
        "channel": "chat",
        "customer": {"phone": "+14155550100"},
        "intent": "billing",
        "outcome": "resolved",
    }
    base.update(changes)
    return json.dumps(base).encode()


def problems(validator, body):
    with pytest.raises(ValidationFailed) as caught:
        validator.parse(body)
    return {(p.path, p.message) for p in caught.value.problems}


# Optional fields the project added to contract v1 (extend, never break): where, and the docs.
EXTENSIONS = [("customer", "proof")]  # docs/identity.md


def test_project_copy_of_the_contract_is_the_shared_one_plus_optional_extensions():
    if not SHARED_SCHEMA.exists():
        pytest.skip("../shared is not beside the project")
    project = load_outcome_schema()
    for parent, name in EXTENSIONS:
        extension = project["properties"][parent]["properties"].pop(name)
        assert name not in project["properties"][parent].get("required", [])  # optional
        assert extension["type"] == "object"
    assert project == json.loads(SHARED_SCHEMA.read_text())


def test_valid_event_parses(validator):
    assert validator.parse(event())["intent"] == "billing"


def test_every_problem_is_reported_with_its_json_path(validator):
    body = json.dumps(
        {
            "event_id": "",
            "occurred_at": "2026-11-23T10:00:00",
            "channel": "fax",
            "customer": {"phone": 5, "colour": "red"},
            "outcome": "resolved",
            "transcript": [{"from": "customer"}],
        }
    ).encode()
    found = problems(validator, body)
    paths = {path for path, _ in found}
    assert paths == {
        "$.event_id",
        "$.occurred_at",
        "$.channel",
        "$.customer.phone",
        "$.customer.colour",
        "$.intent",
        "$.transcript[0].text",
    }
    assert ("$.intent", "is required") in found
    assert ("$.customer.colour", "is not a known property") in found
    assert any("no UTC offset" in message for path, message in found if path == "$.occurred_at")


def test_unknown_intent_and_disposition_are_named(validator):
    found = problems(validator, event(intent="astrology", disposition="NOPE"))
    assert {path for path, _ in found} == {"$.intent", "$.disposition"}
    assert any("'astrology'" in message for _, message in found)


def test_malformed_json_is_its_own_error(validator):
    with pytest.raises(MalformedBody, match="not valid JSON at character"):
        validator.parse(b'{"event_id": ')
    with pytest.raises(MalformedBody):
        validator.parse(b"\xff\xfe\x00garbage")


def test_top_level_must_be_an_object(validator):
    assert ("$", "[] is not of type 'object'") in problems(validator, b"[]")


def test_the_fast_path_and_the_wording_validator_agree(validator):
    """fastjsonschema decides the happy path; jsonschema words the problems. They must agree."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = json.loads(event())
    keys = ["event_id", "occurred_at", "channel", "customer", "intent", "outcome", "transcript", "priority"]
    values = st.one_of(
        st.none(),
        st.integers(),
        st.text(max_size=5),
        st.sampled_from(["chat", "2026-11-23T10:00:00Z", "2026-11-23T10:00:00", "resolved", "urgent", ""]),
        st.just({"phone": "+1"}),
        st.just({}),
        st.just([{"from": "bot", "text": "hi"}]),
        st.just([{"from": "alien", "text": "hi"}]),
    )

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        st.dictionaries(st.sampled_from(keys), values, max_size=4), st.sets(st.sampled_from(keys), max_size=2)
    )
    def agree(changes, removed):
        payload = {k: v for k, v in {**base, **changes}.items() if k not in removed}
        jsonschema_says = not list(validator._validator.iter_errors(payload))
        assert validator.conforms(payload) == jsonschema_says, payload

    agree()
