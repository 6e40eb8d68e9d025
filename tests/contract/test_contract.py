"""One contract suite, two worlds: each scenario runs against the real adapter over the sandbox and
against the real adapter over ``responses`` serving the project's recorded-shape fixtures, and must
end the same way. In the sandbox world, every request must be the one the fixture pins, and every
answer must have at least the keys, with the same JSON types, of the recorded shape: the sandbox
cannot drift from the real APIs without a test failing.

Zendesk drops an unknown custom field id, or a drop-down value that is not an option, without an
error (zenpy #420 and #332, node-zendesk #132): the contract says so, and the sandbox runs in that
documented mode here (``strict_zendesk_fields = False``; its default strict mode answers 422, a
deliberate help for tests, which is why ``ctihub crm check`` exists for Zendesk).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest

from hub.domain.errors import CrmError
from hub.ports import BatchWrite, CaseRecord, CaseWrite, LinkResult
from tests.adapters.conftest import load_zendesk_spec
from tests.contract.conftest import (
    FOURTH,
    PHONE_EPISODE,
    PHONE_ONLY,
    THIRD,
    THIRD_EPISODE,
    WHO,
    World,
    case_write,
    first_activity,
    next_activity,
)

Outcome = tuple[Any, ...]


def outcome(run: Callable[[], Any]) -> Outcome:
    """What the caller sees, without ids: which records were written/found, or how it failed (a
    batch: that, for each of its records)."""
    try:
        result = run()
    except CrmError as exc:
        return ("error", type(exc).__name__, exc.status, exc.crm_code, exc.action.value)
    if isinstance(result, list):
        return tuple(outcome(lambda item=item: _raise_error(item)) for item in result)
    if isinstance(result, LinkResult):
        return (
            "ok",
            result.case.object,
            result.case.created,
            result.activity.object,
            result.activity.created,
        )
    if isinstance(result, CaseRecord):
        return ("ok", result.object, result.is_open)
    return ("ok", result)


def _raise_error(item: Any) -> Any:
    if isinstance(item, CrmError):
        raise item
    return item


CREATED = {
    "salesforce": ("ok", "Case", True, "Task", True),
    "zendesk": ("ok", "ticket", True, "comment", True),
}
APPENDED = {
    "salesforce": ("ok", "Case", False, "Task", True),
    "zendesk": ("ok", "ticket", False, "comment", True),
}


def rejected(status: int, code: str) -> Outcome:
    return ("error", "CrmRecordRejected", status, code, "fail_record")


SCENARIOS: dict[str, tuple[Callable[[World], Any], dict[str, Outcome]]] = {
    "create_case": (
        lambda w: w.adapter.create_case(case_write(w.crm), first_activity(w.crm), retrying=False),
        CREATED,
    ),
    "append_activity": (
        lambda w: w.adapter.append_activity(w.id("case"), next_activity(w.crm), retrying=False),
        APPENDED,
    ),
    "get_case": (
        lambda w: w.adapter.get_case(w.id("case")),
        {"salesforce": ("ok", "Case", True), "zendesk": ("ok", "ticket", True)},
    ),
    "get_case_missing": (
        lambda w: w.adapter.get_case(w.id("missing")),
        {"salesforce": ("ok", None), "zendesk": ("ok", None)},
    ),
    "bad_field": (
        lambda w: w.adapter.create_case(
            case_write(
                w.crm, **{"Foo__c": "x"} if w.crm == "salesforce" else {"custom_fields.360099999999": "x"}
            ),
            first_activity(w.crm),
            retrying=False,
        ),
        {"salesforce": rejected(400, "INVALID_FIELD"), "zendesk": CREATED["zendesk"]},
    ),
    "bad_picklist": (
        lambda w: w.adapter.create_case(
            case_write(
                w.crm,
                **{"Origin": "Carrier pigeon"}
                if w.crm == "salesforce"
                else {"custom_fields.360000000001": "carrier_pigeon"},
            ),
            first_activity(w.crm),
            retrying=False,
        ),
        {
            "salesforce": rejected(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
            "zendesk": CREATED["zendesk"],
        },
    ),
    "append_to_missing": (
        lambda w: w.adapter.append_activity(w.id("missing"), next_activity(w.crm), retrying=False),
        {"salesforce": rejected(404, "NOT_FOUND"), "zendesk": rejected(404, "RecordNotFound")},
    ),
    "rejected": (
        lambda w: w.adapter.create_case(
            case_write(w.crm, priority="super"), first_activity(w.crm), retrying=False
        ),
        {"zendesk": rejected(422, "RecordInvalid")},
    ),
    "write_batch": (
        lambda w: w.adapter.write_batch(
            [
                BatchWrite(case=case_write(w.crm), activity=first_activity(w.crm)),
                BatchWrite(
                    case=CaseWrite(key=PHONE_EPISODE, fields=case_write(w.crm).fields, customer=PHONE_ONLY),
                    activity=first_activity(w.crm, THIRD),
                ),
                BatchWrite(
                    case=CaseWrite(key=THIRD_EPISODE, fields=case_write(w.crm).fields, customer=WHO),
                    activity=first_activity(w.crm, FOURTH),
                ),
                BatchWrite(case_id=w.id("case"), activity=next_activity(w.crm)),
            ]
        ),
        {crm: (CREATED[crm],) * 3 + (APPENDED[crm],) for crm in ("salesforce", "zendesk")},
    ),
    "display_ticket": (
        lambda w: w.adapter.display_ticket(w.id("agent"), w.id("case")),
        {"zendesk": ("ok", None)},
    ),
}


# Scenarios whose request the Zendesk OAS itself calls invalid (the CRM rejects it too).
OAS_INVALID = {"rejected"}
CASES = [(crm, scenario) for scenario, (_, expected) in SCENARIOS.items() for crm in expected]


@pytest.mark.parametrize(("crm", "scenario"), CASES)
def test_both_worlds_end_the_same_way(world: World, crm: str, scenario: str) -> None:
    run, expected = SCENARIOS[scenario]
    interactions = world.expect(scenario)

    assert outcome(lambda: run(world)) == expected[crm]

    if world.kind == "sandbox":
        assert_same_exchanges(world, interactions)
    elif crm == "zendesk":
        assert world.mock is not None
        for call in world.mock.calls:
            check_against_the_oas(call, valid=scenario not in OAS_INVALID)


def check_against_the_oas(call: Any, *, valid: bool) -> None:
    """Every request is an operation of the Zendesk Support OAS and its body fits (or, for a
    scenario sending a bad value on purpose, the OAS rejects it as the CRM does)."""
    import json

    import jsonschema

    spec = load_zendesk_spec()
    if spec is None:
        return
    body = json.loads(call.request.body) if call.request.body else None
    if valid:
        spec.check(call.request.method, call.request.url, body)
    else:
        with pytest.raises(jsonschema.ValidationError):
            spec.check(call.request.method, call.request.url, body)


def test_a_dropped_zendesk_value_is_not_stored_in_the_sandbox_either(tmp_path: Any) -> None:
    """What ``bad_picklist`` means in Zendesk: the ticket is made, the value is not on it."""
    from tests.contract.conftest import sandbox_world

    world = sandbox_world("zendesk", tmp_path)
    assert world.sandbox is not None
    result = world.adapter.create_case(
        case_write("zendesk", **{"custom_fields.360000000001": "carrier_pigeon"}),
        first_activity("zendesk"),
        retrying=False,
    )
    ticket = next(t for t in world.sandbox.records("zendesk", "ticket") if str(t["id"]) == result.case.id)
    values = {f["id"]: f["value"] for f in ticket["custom_fields"]}
    assert values[360000000001] is None and values[360000000002] == "password_reset"
    world.sandbox.engine.dispose()


# -- the sandbox against the recorded shapes -------------------------------------------------------------


def assert_same_exchanges(world: World, interactions: list[dict[str, Any]]) -> None:
    """The sandbox world sent exactly the pinned requests, and got answers of the recorded shape."""
    assert len(world.exchanges) == len(interactions), [(e.method, e.path) for e in world.exchanges]
    for sent, item in zip(world.exchanges, interactions, strict=True):
        request, response = item["request"], item["response"]
        assert (sent.method, sent.path) == (request["method"], mapped(world, request["path"]))
        assert unquote(sent.query) == mapped_query(world, unquote(request.get("query") or ""))
        assert sent.request_body == mapped(world, request.get("body"))
        assert sent.status == response["status"], (sent.path, sent.body)
        problems = shape_problems(response.get("body"), sent.body, "$")
        assert not problems, f"{sent.method} {sent.path}: the sandbox's answer drifted: {problems}"
        learn_ids(world, response.get("body"), sent.body)


ID_KEYS = frozenset({"id", "requester_id"})


def learn_ids(world: World, recorded: Any, actual: Any) -> None:
    """Records a batch made (new tickets, cases, users, jobs) have other ids in the sandbox: map the
    recorded ids to the sandbox's, from answers of the same shape, for the requests that follow."""
    if isinstance(recorded, dict) and isinstance(actual, dict):
        for key, value in recorded.items():
            if key in ID_KEYS and isinstance(value, str | int) and isinstance(actual.get(key), str | int):
                if str(value) != str(actual[key]):
                    world.ids.setdefault(str(value), str(actual[key]))
            else:
                learn_ids(world, value, actual.get(key))
    elif isinstance(recorded, list) and isinstance(actual, list):
        for recorded_item, actual_item in zip(recorded, actual, strict=False):
            learn_ids(world, recorded_item, actual_item)


def mapped_query(world: World, query: str) -> str:
    """The recorded query with each id in it (between ``=``, ``,`` and ``&``) replaced."""
    return re.sub(r"[^=&,]+", lambda m: world.ids.get(m.group(0), m.group(0)), query)


def mapped(world: World, value: Any) -> Any:
    """A recorded value with the recorded world's ids replaced by this world's."""
    if isinstance(value, dict):
        return {k: mapped(world, v) for k, v in value.items()}
    if isinstance(value, list):
        return [mapped(world, v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and str(value) in world.ids:
        return int(world.ids[str(value)])
    if isinstance(value, str):
        if value in world.ids:
            return world.ids[value]
        if value.startswith("/"):
            return "/".join(_segment(world, part) for part in value.split("/"))
    return value


def _segment(world: World, part: str) -> str:
    stem, dot, suffix = part.partition(".")
    return world.ids.get(stem, stem) + dot + suffix if stem in world.ids else part


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def shape_problems(recorded: Any, actual: Any, path: str) -> list[str]:
    """Where ``actual`` lacks a key of ``recorded`` or has another JSON type there (null in either
    is any type: recorded values are often null where a live org has one, and the reverse)."""
    if recorded is None or actual is None:
        return []
    if kind(recorded) != kind(actual):
        return [f"{path}: {kind(actual)}, recorded {kind(recorded)}"]
    if isinstance(recorded, dict):
        problems = [f"{path}.{key}: missing" for key in recorded if key not in actual]
        for key in recorded:
            if key in actual:
                problems += shape_problems(recorded[key], actual[key], f"{path}.{key}")
        return problems
    if isinstance(recorded, list) and recorded and actual:
        # Each recorded item is matched with an actual one of its kind (audit events: Comment,
        # Create, Change); where kinds are not named (a create job beside an update job), with the
        # actual item closest in shape.
        problems = []
        for item in recorded:
            twins = [a for a in actual if _same_kind(item, a)] or actual
            problems += min((shape_problems(item, twin, f"{path}[]") for twin in twins), key=len)
        return problems
    return []


def _same_kind(recorded: Any, actual: Any) -> bool:
    if isinstance(recorded, dict) and isinstance(actual, dict):
        return all(recorded.get(k) == actual.get(k) for k in ("type", "referenceId") if k in recorded)
    return True


def test_the_shape_check_catches_drift() -> None:
    recorded = {
        "ticket": {"id": 1, "tags": ["a"], "via": {"channel": "api"}},
        "audit": {"events": [{"type": "Comment", "body": "x"}]},
    }
    assert shape_problems(recorded, recorded, "$") == []
    assert shape_problems(
        recorded, {"ticket": {"id": "1", "tags": [], "via": {}}, "audit": {"events": []}}, "$"
    ) == [
        "$.ticket.id: string, recorded number",
        "$.ticket.via.channel: missing",
    ]
    assert re.search("missing", " ".join(shape_problems({"a": 1}, {}, "$")))
