"""``GET /v1/context/<token>``: the trail for the receiving channel; expired or forged tokens get 401."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import timedelta

import pytest

from hub.bootstrap import build_hub
from hub.domain.errors import ConfigError
from hub.services.context_token import ContextTokens, context_key
from hub.web import create_app
from tests.deflection.conftest import E164, PHONE, Offers, link_all
from tests.e2e.conftest import CONTEXT_SECRET, SECRET, settings


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def with_claims(token: str, **changes) -> str:
    """The same header and signature around a changed payload (a forgery)."""
    header, _, signature = token.split(".")
    payload = _b64(json.dumps({**_claims(token), **changes}).encode())
    return f"{header}.{payload}.{signature}"


@pytest.fixture
def trail_setup(hub, post, offers):
    """A customer with two failed self-service tries and an abandoned chat, then an offer."""
    post(
        event_id="ivr-1",
        source="ivr",
        channel="self_service",
        outcome="failed",
        intent="password_reset",
        summary="Reset link expired.",
        customer={"phone": PHONE, "email": "jane@example.com"},
    )
    post(
        event_id="chat-1",
        channel="chat",
        outcome="abandoned",
        intent="password_reset",
        summary="Left the chat after 4 minutes.",
        customer={"phone": PHONE},
    )
    link_all(hub)
    return offers.ok(sentiment="negative")


def test_the_token_opens_the_trail_without_the_api_token(offers, trail_setup, fake_crm):
    response = offers.context(trail_setup["context_token"])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    trail = response.json
    assert trail["intent"] == {
        "code": "password_reset",
        "label": "Password reset",
        "family": "account_access",
    }
    assert trail["customer_key"] == trail_setup["customer_key"]
    episode = trail["episode"]
    assert episode["id"] == trail_setup["episode_id"]
    assert episode["status"] == "open"
    assert episode["summary"] == "2 contacts: self_service failed (1), chat abandoned (1)"
    first, second = trail["outcomes"]
    assert (first["channel"], first["outcome"], first["disposition"]) == (
        "self_service",
        "failed",
        "SS_FAILED",
    )
    assert first["summary"] == "Reset link expired."
    assert first["occurred_at"] == "2026-11-23T14:55:00+00:00"
    assert second["channel"] == "chat" and second["summary"] == "Left the chat after 4 minutes."
    [case] = fake_crm.cases.values()
    assert trail["cases"] == [{"crm": "zendesk", "object": "ticket", "id": case["id"]}]
    assert first["links"][0]["case"] == {"object": "ticket", "id": case["id"]}
    decision = trail["decision"]
    assert decision["id"] == trail_setup["decision_id"]
    assert decision["mode"] == "escalate" and decision["sentiment"] == "negative"
    assert decision["offers"][0]["channel"] == "voice"
    text = response.get_data(as_text=True)
    assert E164 not in text and "555" not in text and "jane@example.com" not in text


def test_the_token_carries_the_documented_claims(trail_setup, clock):
    claims = _claims(trail_setup["context_token"])
    now = int(clock.now().timestamp())
    assert claims == {
        "iss": "cti-hub",
        "aud": "cti-hub-context",
        "iat": now,
        "exp": now + 15 * 60,
        "jti": trail_setup["decision_id"],
        "intent": "password_reset",
        "customer_key": trail_setup["customer_key"],
        "episode_id": trail_setup["episode_id"],
    }
    assert trail_setup["context_token_expires_at"] == "2026-11-23T15:15:00+00:00"


def test_a_first_time_callers_token_has_a_trail_with_no_episode(offers):
    answer = offers.ok(phone="+1 212 555 0199")
    trail = offers.context(answer["context_token"]).json
    assert trail["episode"] is None and trail["outcomes"] == [] and trail["cases"] == []
    assert trail["customer_key"] is None
    assert trail["decision"]["mode"] == "deflect"


def test_caller_reported_attempts_are_handed_on_when_the_hub_had_no_episode(offers):
    answer = offers.ok(
        attempts=[{"channel": "self_service", "outcome": "failed", "at": "2026-11-23T14:50:00Z"}]
    )
    trail = offers.context(answer["context_token"]).json
    assert trail["reported_attempts"] == [
        {"channel": "self_service", "outcome": "failed", "at": "2026-11-23T14:50:00+00:00"}
    ]


def test_an_expired_token_is_401(offers, trail_setup, clock):
    token = trail_setup["context_token"]
    clock.advance(minutes=14, seconds=59)
    assert offers.context(token).status_code == 200
    clock.advance(seconds=1)  # exactly at exp: RFC 7519 says no longer accepted
    response = offers.context(token)
    assert response.status_code == 401
    assert response.json["error"] == {
        "code": "unauthorized",
        "message": "the context token has expired; ask for a new offer",
        "details": [],
    }


def test_a_tampered_token_is_401(offers, trail_setup):
    token = trail_setup["context_token"]
    for forged in (
        with_claims(token, episode_id="ep_someone_else"),
        with_claims(token, exp=_claims(token)["exp"] + 3600),
        token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB"),
        "not-a-token",
        token.split(".")[0] + "." + token.split(".")[1] + ".",
    ):
        response = offers.context(forged)
        assert response.status_code == 401, forged
        assert response.json["error"]["message"] == "the context token is not valid"


def test_an_unsigned_alg_none_token_is_401(offers, trail_setup):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = trail_setup["context_token"].split(".")[1]
    assert offers.context(f"{header}.{payload}.").status_code == 401


def test_a_token_signed_with_another_secret_is_401(offers, trail_setup, clock):
    claims = _claims(trail_setup["context_token"])
    other = ContextTokens(context_key("some-other-context-token-secret-0123456789"))
    forged, _ = other.issue(
        jti=claims["jti"],
        intent=claims["intent"],
        customer_key=claims["customer_key"],
        episode_id=claims["episode_id"],
        now=clock.now(),
    )
    assert offers.context(forged).status_code == 401


def test_a_token_for_another_audience_is_401(offers, trail_setup):
    # Signed with the right key, but minted for something else: still refused.
    from hub.services import context_token

    key = context_key(CONTEXT_SECRET)
    payload = {**_claims(trail_setup["context_token"]), "aud": "someone-else"}
    token = context_token._jwt.encode({"alg": "HS256"}, payload, key).decode()
    assert offers.context(token).status_code == 401


def test_a_correctly_signed_token_for_a_decision_never_recorded_is_401(offers, clock):
    tokens = ContextTokens(context_key(CONTEXT_SECRET))
    token, _ = tokens.issue(
        jti="dfl_never", intent="billing", customer_key=None, episode_id=None, now=clock.now()
    )
    response = offers.context(token)
    assert response.status_code == 401


def test_the_key_is_not_derived_from_the_webhook_secret(offers, trail_setup, clock):
    """The old derivation (HMAC of the webhook secret) signs nothing any more."""
    import hashlib
    import hmac

    derived = hmac.new(SECRET.encode(), b"context-token", hashlib.sha256).digest()
    claims = _claims(trail_setup["context_token"])
    forged, _ = ContextTokens(derived).issue(
        jti=claims["jti"], intent=claims["intent"], customer_key=None, episode_id=None, now=clock.now()
    )
    assert offers.context(forged).status_code == 401
    assert offers.context(trail_setup["context_token"]).status_code == 200


def test_without_the_secret_the_deflection_routes_answer_503_naming_it(sqlite_engine, clock, fake_crm):
    config = settings(environment={"CTIHUB_CONTEXT_TOKEN_SECRET": ""})
    hub = build_hub(config, clock=clock, crm=fake_crm, engine=sqlite_engine)
    client = create_app(hub=hub).test_client()
    response = client.get("/v1/context/anything")
    assert response.status_code == 503
    assert response.json["error"]["details"] == [
        {"path": "CTIHUB_CONTEXT_TOKEN_SECRET", "message": "is not set"}
    ]


def test_a_short_secret_or_no_secret_at_all_is_a_configuration_error():
    with pytest.raises(ConfigError, match="too short"):
        context_key("short")
    with pytest.raises(ConfigError, match="no secret"):
        context_key(None)
    assert context_key("a" * 32) != context_key("b" * 32)


def test_a_broken_deflection_file_stops_the_app_at_startup(tmp_path, sqlite_engine, clock, fake_crm):
    from tests.conftest import MAPPINGS

    for source in MAPPINGS.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "deflection.yaml").write_text("queue: {wait_threshold_seconds: -5}\n")
    hub = build_hub(
        replace(settings(), mappings_dir=tmp_path), clock=clock, crm=fake_crm, engine=sqlite_engine
    )
    with pytest.raises(ConfigError) as raised:
        create_app(hub=hub)
    assert raised.value.problems[0].path == f"{tmp_path / 'deflection.yaml'}:1"


def test_the_token_lifetime_comes_from_the_config(tmp_path, sqlite_engine, clock, fake_crm):
    from tests.conftest import MAPPINGS

    for source in MAPPINGS.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "deflection.yaml").write_text("context_token: {lifetime_minutes: 2}\n")
    hub = build_hub(
        replace(settings(), mappings_dir=tmp_path), clock=clock, crm=fake_crm, engine=sqlite_engine
    )
    offers = Offers(create_app(hub=hub).test_client())
    answer = offers.ok()
    assert answer["context_token_expires_at"] == (clock.now() + timedelta(minutes=2)).isoformat()
    clock.advance(minutes=2)
    assert offers.context(answer["context_token"]).status_code == 401
