"""POST /v1/outcomes against hostile bodies, malformed signatures, misconfiguration and per-source keys.

Each answer is a 4xx (or a 503 for a missing setting) with the hub's error body, and nothing is
stored; never a 5xx. SQLite and PostgreSQL (NUL and lone surrogates are what PostgreSQL refuses).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from hub.bootstrap import Hub, build_hub
from hub.store.tables import inbox
from hub.web import create_app
from tests.e2e.conftest import SECRET, TOKEN, Poster, outcome, settings
from webhooks.generic import HEADER, sign

CHAT_KEY = "chat-platform-key-0123456789abcdef"
IVR_KEY = "ivr-platform-key-0123456789abcdef-01"
KEYS = json.dumps(
    {"chat": {"secret": CHAT_KEY, "sources": ["web-chat"]}, "ivr": {"secret": IVR_KEY, "sources": ["ivr-*"]}}
)


@pytest.fixture
def environment() -> dict[str, str]:
    return {}


@pytest.fixture
def hub(engine, clock, fake_crm, environment) -> Iterator[Hub]:
    values = settings(environment=environment)
    if environment.get("WEBHOOK_SECRET") == "":
        values = settings(webhook_secret=None, environment=environment)
    yield build_hub(values, clock=clock, crm=fake_crm, engine=engine)


@pytest.fixture
def client(hub) -> FlaskClient:
    return create_app(hub=hub).test_client()


@pytest.fixture
def post(client, clock) -> Poster:
    return Poster(client, clock)


def stored(hub) -> int:
    with hub.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(inbox)).scalar()


def answer(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.data
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError in json.loads
        b'{"event_id": ' + b"1" * 5000 + b"}",  # ValueError: over 4,300 digits
        json.dumps(outcome()).encode("utf-16"),  # UTF-16 (json.loads on bytes would accept it)
        json.dumps(outcome()).encode("utf-32"),
        b"\xef\xbb\xbf" + json.dumps(outcome()).encode(),  # a byte-order mark
        b'{"event_id": "\xff\xfe"}',  # invalid UTF-8
        b'{"event_id": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8 (invalid UTF-8)
    ],
    ids=["deep", "huge-int", "utf16", "utf32", "bom", "bad-utf8", "utf8-surrogate"],
)
def test_unreadable_bodies_are_400(post, hub, body):
    answer(post.raw(body), 400, "malformed_json")
    assert stored(hub) == 0


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"summary": "a\u0000b"}, "$.summary"),
        ({"summary": "a\ud800b"}, "$.summary"),
        ({"metadata": {"k\u0000": "v"}}, '$.metadata["k\\u0000"]'),
        ({"metadata": {"deep": [["\udfff"]]}}, "$.metadata.deep[0][0]"),
    ],
)
def test_nul_and_lone_surrogates_are_422_naming_the_path_before_any_insert(post, hub, changes, path):
    body = json.dumps(outcome(**changes)).encode()  # ensure_ascii: \u0000 and \ud800 escapes
    error = answer(post.raw(body), 422)
    assert path in [d["path"] for d in error["details"]]
    assert stored(hub) == 0


@pytest.mark.parametrize(
    "header",
    [
        "t=²,v1=" + "a" * 64,  # "²".isdigit() is True
        "t=1,v1=" + "é" * 64,  # non-ASCII v1 made compare_digest raise
        "t=1,v1=" + "g" * 64,  # not hex
        "t=" + "9" * 20 + ",v1=" + "a" * 64,  # 20 digits
        "t=1,v1=" + "a" * 63,
        "t=1," + ",".join(["v1=" + "a" * 64] * 9),  # too many entries
        "t=1,v1=" + "a" * 5000,
        "\udcff",
    ],
)
def test_a_malformed_signature_header_is_401_before_any_work(client, hub, header):
    body = json.dumps(outcome()).encode()
    response = client.post(
        "/v1/outcomes", data=body, headers={HEADER: header, "Content-Type": "application/json"}
    )
    answer(response, 401, "unauthorized")
    assert stored(hub) == 0


@pytest.mark.parametrize("environment", [{"WEBHOOK_SECRET": ""}])
def test_without_any_signing_key_the_answer_is_503_naming_the_settings(post, hub, environment):
    error = answer(post(), 503, "not_configured")
    assert "CTIHUB_WEBHOOK_SECRET" in error["message"] and "CTIHUB_WEBHOOK_KEYS" in error["message"]
    assert stored(hub) == 0


def test_without_an_api_token_the_read_api_answers_503(engine, clock, fake_crm):
    hub = build_hub(settings(api_token=None), clock=clock, crm=fake_crm, engine=engine)
    response = create_app(hub=hub).test_client().get("/v1/catalog", headers={"Authorization": "Bearer x"})
    assert answer(response, 503, "not_configured")["details"] == [
        {"path": "CTIHUB_API_TOKEN", "message": "is not set"}
    ]


@pytest.mark.parametrize("environment", [{"CTIHUB_WEBHOOK_KEYS": KEYS}])
def test_a_key_writes_only_its_own_sources(post, hub, environment):
    assert post.raw(json.dumps(outcome(source="web-chat")).encode(), secret=CHAT_KEY).status_code == 202
    assert post.raw(json.dumps(outcome(source="ivr-east")).encode(), secret=IVR_KEY).status_code == 202
    refused = post.raw(json.dumps(outcome(source="ivr-east", event_id="e2")).encode(), secret=CHAT_KEY)
    error = answer(refused, 403, "forbidden")
    assert error["details"][0]["path"] == "$.source"
    assert CHAT_KEY not in refused.get_data(as_text=True)
    refused = post.raw(json.dumps(outcome(source="web-chat-2", event_id="e3")).encode(), secret=IVR_KEY)
    answer(refused, 403, "forbidden")
    # The legacy secret stays valid for every source.
    assert (
        post.raw(json.dumps(outcome(source="anything", event_id="e4")).encode(), secret=SECRET).status_code
        == 202
    )
    assert post.raw(json.dumps(outcome(event_id="e5")).encode(), secret="x" * 40).status_code == 401
    assert stored(hub) == 3


@pytest.mark.parametrize("environment", [{"CTIHUB_WEBHOOK_KEYS": KEYS}])
def test_two_keys_in_one_header_during_a_rotation(client, clock, hub, environment):
    body = json.dumps(outcome(source="web-chat")).encode()
    now = int(clock.now().timestamp())
    old = sign("y" * 40, body, now).split("v1=")[1]
    new = sign(CHAT_KEY, body, now).split("v1=")[1]
    headers = {HEADER: f"t={now},v1={old},v1={new}", "Content-Type": "application/json"}
    assert client.post("/v1/outcomes", data=body, headers=headers).status_code == 202


@pytest.mark.parametrize(
    "hint",
    [
        {"crm": "zendesk", "id": ".."},
        {"crm": "zendesk", "id": "0"},
        {"crm": "zendesk", "id": "12/../../users"},
        {"crm": "salesforce", "id": ".."},
        {"crm": "salesforce", "id": "500e0000000AAAAAAB"},  # wrong checksum
    ],
)
def test_a_malformed_case_hint_is_422_naming_the_path(post, hub, hint):
    error = answer(post(case_hint=hint), 422)
    assert [d["path"] for d in error["details"]] == ["$.case_hint.id"]
    assert stored(hub) == 0


def test_well_formed_case_hints_are_accepted(post):
    assert post(case_hint={"crm": "zendesk", "id": "12345"}).status_code == 202
    assert post(event_id="e2", case_hint={"crm": "salesforce", "id": "500e0000000AAAA"}).status_code == 202


def test_the_token_is_compared_safely(client):
    response = client.get("/v1/catalog", headers={"Authorization": "Bearer \udcff"})
    assert response.status_code == 401
    assert client.get("/v1/catalog", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


@pytest.mark.parametrize(
    "hint", [{"crm": ["zendesk"], "id": "1"}, {"crm": {"a": 1}, "id": "1"}, {"crm": "zendesk", "id": 5}]
)
def test_a_case_hint_of_the_wrong_types_is_422_not_500(post, hub, hint):
    answer(post(case_hint=hint), 422)
    assert stored(hub) == 0


def test_an_external_id_name_longer_than_its_column_is_422_at_ingest(post, hub):
    """``ext:<name>`` must fit customer_identifiers.kind (64): refused here, not dead-lettered later."""
    response = post(customer={"phone": "+14155550100", "external_ids": {"k" * 61: "v"}})
    assert [d["path"] for d in answer(response, 422)["details"]] == ["$.customer.external_ids"]
    assert (
        post(event_id="e2", customer={"phone": "+14155550100", "external_ids": {"k" * 60: "v"}}).status_code
        == 202
    )
