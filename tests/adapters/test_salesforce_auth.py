"""Salesforce authentication: the JWT bearer flow (authlib), client credentials on My Domain, the
legacy password login, token re-minting, and secrets kept out of every log, error and repr.

Token answers follow fixtures/salesforce/simple-salesforce/oauth_token_response_success.json and
restforce's auth_success/auth_error_response.json; they are written here, not copied."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any
from urllib.parse import parse_qs

import jwt as pyjwt  # an independent verifier (PyJWT comes with simple-salesforce)
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from responses import matchers

from adapters.salesforce import SalesforceCRM, build_crm
from adapters.salesforce.auth import JWT_GRANT
from hub.domain.errors import ConfigError, CrmAuthExpired, CrmError
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import AdapterConfig
from tests.adapters.conftest import FakeTime

INSTANCE = "https://acme.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v59.0/sobjects"
CASE_ID = "5005g00000AbCdEAAZ"
CONSUMER_KEY = "3MVG9-acme-consumer-key"
CONSUMER_SECRET = "acme-consumer-secret-6A1F"
USERNAME = "integration@acme.test"
FIRST_TOKEN = "00DAcme!first-minted-token"
SECOND_TOKEN = "00DAcme!second-minted-token"


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


@pytest.fixture
def mapping() -> CrmMapping:
    return CrmMapping(
        crm="salesforce",
        case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
        activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
    )


def token_answer(token: str, **extra: Any) -> dict[str, Any]:
    return {
        "access_token": token,
        "instance_url": INSTANCE,
        "id": "https://login.salesforce.com/id/00DAcme/005Acme",
        "token_type": "Bearer",
        "issued_at": "1780000000000",
        "signature": "c2lnbmF0dXJl",
        "scope": "api",
        **extra,
    }


def case_answer() -> dict[str, Any]:
    return {"attributes": {"type": "Case"}, "Id": CASE_ID, "Status": "New", "IsClosed": False}


def jwt_crm(
    mapping: CrmMapping, private_key: str, clock: FakeTime, timeouts: tuple[float, float], **settings: str
) -> SalesforceCRM:
    config = AdapterConfig(
        settings={
            "auth": "jwt",
            "consumer_key": CONSUMER_KEY,
            "username": USERNAME,
            "private_key": private_key,
            **settings,
        },
        mapping=mapping,
        connect_timeout=timeouts[0],
        read_timeout=timeouts[1],
    )
    built = build_crm(config)
    return SalesforceCRM(built.settings, mapping, timeout=timeouts, clock=clock).without_retries()


def form(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


# -- JWT bearer -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "token_url", "audience"),
    [
        ({}, "https://login.salesforce.com/services/oauth2/token", "https://login.salesforce.com"),
        (
            {"domain": "test"},
            "https://test.salesforce.com/services/oauth2/token",
            "https://test.salesforce.com",
        ),
        (
            {"login_url": "https://acme.my.salesforce.com"},
            "https://acme.my.salesforce.com/services/oauth2/token",
            "https://login.salesforce.com",
        ),
        (
            {"login_url": "https://acme--uat.sandbox.my.salesforce.com"},
            "https://acme--uat.sandbox.my.salesforce.com/services/oauth2/token",
            "https://test.salesforce.com",
        ),
    ],
)
def test_the_jwt_assertion_is_signed_for_the_login_host_and_expires_within_3_minutes(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    key_pair: tuple[str, str],
    fake_time: FakeTime,
    timeouts: tuple[float, float],
    sent: Any,
    settings: dict[str, str],
    token_url: str,
    audience: str,
) -> None:
    private, public = key_pair
    crm = jwt_crm(mapping, private, fake_time, timeouts, **settings)
    mocked.post(token_url, json=token_answer(FIRST_TOKEN))
    mocked.get(f"{DATA}/Case/{CASE_ID}", json=case_answer())

    assert crm.get_case(CASE_ID) is not None

    assert sent() == [("POST", token_url), ("GET", f"{DATA}/Case/{CASE_ID}?fields=Id%2CStatus%2CIsClosed")]
    token_call, read_call = mocked.calls
    body = form(token_call)
    assert set(body) == {"grant_type", "assertion"} and body["grant_type"] == JWT_GRANT
    assert token_call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    header = pyjwt.get_unverified_header(body["assertion"])
    assert header["alg"] == "RS256"
    claims = pyjwt.decode(
        body["assertion"], public, algorithms=["RS256"], audience=audience, options={"verify_exp": False}
    )  # the signature is checked with the public key
    assert claims["iss"] == CONSUMER_KEY and claims["sub"] == USERNAME and claims["aud"] == audience
    assert claims["aud"] != token_url  # the host, not the token URL
    assert claims["iat"] == int(fake_time.now)
    assert 0 < claims["exp"] - fake_time.now <= 180
    assert read_call.request.headers["Authorization"] == f"Bearer {FIRST_TOKEN}"


def test_the_token_is_minted_once_and_again_when_it_is_old(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    key_pair: tuple[str, str],
    fake_time: FakeTime,
    timeouts: tuple[float, float],
) -> None:
    crm = jwt_crm(mapping, key_pair[0], fake_time, timeouts, session_seconds="600")
    token_url = "https://login.salesforce.com/services/oauth2/token"
    mocked.post(token_url, json=token_answer(FIRST_TOKEN))
    mocked.post(token_url, json=token_answer(SECOND_TOKEN))
    mocked.get(f"{DATA}/Case/{CASE_ID}", json=case_answer())

    crm.get_case(CASE_ID)
    fake_time.now += 300
    crm.get_case(CASE_ID)  # still fresh: no new token
    fake_time.now += 300  # 600 s after minting (60 s of leeway)
    crm.get_case(CASE_ID)

    methods = [(call.request.method, call.request.url.split("?")[0]) for call in mocked.calls]
    assert methods == [
        ("POST", token_url),
        ("GET", f"{DATA}/Case/{CASE_ID}"),
        ("GET", f"{DATA}/Case/{CASE_ID}"),
        ("POST", token_url),
        ("GET", f"{DATA}/Case/{CASE_ID}"),
    ]
    assert mocked.calls[4].request.headers["Authorization"] == f"Bearer {SECOND_TOKEN}"
    first, second = (
        pyjwt.decode(form(mocked.calls[i])["assertion"], options={"verify_signature": False}) for i in (0, 3)
    )
    assert second["exp"] - first["exp"] == 600  # a fresh assertion, not the old one again


def test_invalid_session_id_mints_a_new_token_and_repeats_the_call_once(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    key_pair: tuple[str, str],
    fake_time: FakeTime,
    timeouts: tuple[float, float],
) -> None:
    crm = jwt_crm(mapping, key_pair[0], fake_time, timeouts)
    token_url = "https://login.salesforce.com/services/oauth2/token"
    mocked.post(token_url, json=token_answer(FIRST_TOKEN))
    mocked.get(
        f"{DATA}/Case/{CASE_ID}",
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
        match=[matchers.header_matcher({"Authorization": f"Bearer {FIRST_TOKEN}"})],
    )
    mocked.post(token_url, json=token_answer(SECOND_TOKEN))
    mocked.get(
        f"{DATA}/Case/{CASE_ID}",
        json=case_answer(),
        match=[matchers.header_matcher({"Authorization": f"Bearer {SECOND_TOKEN}"})],
    )

    record = crm.get_case(CASE_ID)

    assert record is not None and record.id == CASE_ID
    assert [call.request.method for call in mocked.calls] == ["POST", "GET", "POST", "GET"]
    assert crm.status()["state"] == "ok"


def test_a_second_invalid_session_id_is_auth_expired(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    key_pair: tuple[str, str],
    fake_time: FakeTime,
    timeouts: tuple[float, float],
) -> None:
    crm = jwt_crm(mapping, key_pair[0], fake_time, timeouts)
    token_url = "https://login.salesforce.com/services/oauth2/token"
    expired = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    mocked.post(token_url, json=token_answer(FIRST_TOKEN))
    mocked.get(f"{DATA}/Case/{CASE_ID}", status=401, json=expired)
    mocked.post(token_url, json=token_answer(SECOND_TOKEN))

    with pytest.raises(CrmAuthExpired) as caught:
        crm.get_case(CASE_ID)

    assert caught.value.crm_code == "INVALID_SESSION_ID"
    assert [call.request.method for call in mocked.calls] == ["POST", "GET", "POST", "GET"]  # once more only
    status = crm.status()
    assert status["state"] == "auth_failed" and "INVALID_SESSION_ID" in status["reason"]


def test_a_refused_assertion_is_auth_expired_with_the_endpoints_reason(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    key_pair: tuple[str, str],
    fake_time: FakeTime,
    timeouts: tuple[float, float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    crm = jwt_crm(mapping, key_pair[0], fake_time, timeouts)
    mocked.post(
        "https://login.salesforce.com/services/oauth2/token",
        status=400,
        json={"error": "invalid_grant", "error_description": "user hasn't approved this consumer"},
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(CrmAuthExpired) as caught:
        crm.get_case(CASE_ID)

    assert caught.value.describe() == "salesforce 400 invalid_grant: user hasn't approved this consumer"
    assert crm.status()["state"] == "auth_failed"
    assert_no_secrets(key_pair[0], crm, caught.value, caplog.text)


def test_a_bad_private_key_is_a_config_error_that_does_not_show_it(mapping: CrmMapping) -> None:
    bad = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"
    with pytest.raises(ConfigError) as caught:
        build_crm(
            AdapterConfig(
                settings={"consumer_key": CONSUMER_KEY, "username": USERNAME, "private_key": bad},
                mapping=mapping,
            )
        )
    assert [p.path for p in caught.value.problems] == ["CTIHUB_SALESFORCE_PRIVATE_KEY"]
    assert "bm90IGEga2V5" not in str(caught.value.problems)


def test_the_private_key_can_come_from_a_file_or_a_one_line_env_value(
    mapping: CrmMapping, key_pair: tuple[str, str], tmp_path: Any
) -> None:
    path = tmp_path / "server.key"
    path.write_text(key_pair[0])
    from_file = build_crm(
        AdapterConfig(
            settings={"consumer_key": CONSUMER_KEY, "username": USERNAME, "private_key_file": str(path)},
            mapping=mapping,
        )
    )
    one_line = build_crm(
        AdapterConfig(
            settings={
                "consumer_key": CONSUMER_KEY,
                "username": USERNAME,
                "private_key": key_pair[0].strip().replace("\n", "\\n"),
            },
            mapping=mapping,
        )
    )
    assert from_file.settings.auth == one_line.settings.auth == "jwt"
    assert from_file.settings.private_key == one_line.settings.private_key == key_pair[0].strip()


def test_jwt_names_every_missing_setting(mapping: CrmMapping) -> None:
    with pytest.raises(ConfigError) as caught:
        build_crm(AdapterConfig(settings={"auth": "jwt"}, mapping=mapping))
    assert [p.path for p in caught.value.problems] == [
        "CTIHUB_SALESFORCE_CONSUMER_KEY",
        "CTIHUB_SALESFORCE_USERNAME",
        "CTIHUB_SALESFORCE_PRIVATE_KEY",
    ]
    with pytest.raises(ConfigError) as caught:
        build_crm(AdapterConfig(settings={"auth": "oauth"}, mapping=mapping))
    assert [p.path for p in caught.value.problems] == ["CTIHUB_SALESFORCE_AUTH"]


# -- client credentials -------------------------------------------------------------------------------------


def test_client_credentials_post_to_my_domain_with_basic_auth(
    mocked: responses.RequestsMock, mapping: CrmMapping, timeouts: tuple[float, float], sent: Any
) -> None:
    crm = build_crm(
        AdapterConfig(
            settings={
                "consumer_key": CONSUMER_KEY,
                "consumer_secret": CONSUMER_SECRET,
                "login_url": "https://acme.my.salesforce.com/",
            },
            mapping=mapping,
            connect_timeout=timeouts[0],
            read_timeout=timeouts[1],
        )
    )
    assert crm.settings.auth == "client_credentials"
    token_url = "https://acme.my.salesforce.com/services/oauth2/token"
    mocked.post(
        token_url,
        json=token_answer(FIRST_TOKEN),
        match=[matchers.urlencoded_params_matcher({"grant_type": "client_credentials"})],
    )
    mocked.get(f"{DATA}/Case/{CASE_ID}", json=case_answer())

    crm.get_case(CASE_ID)

    assert [method for method, _ in sent()] == ["POST", "GET"]
    basic = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
    assert mocked.calls[0].request.headers["Authorization"] == f"Basic {basic}"
    assert mocked.calls[1].request.headers["Authorization"] == f"Bearer {FIRST_TOKEN}"


@pytest.mark.parametrize(
    "settings",
    [
        {"login_url": "https://login.salesforce.com"},
        {"login_url": "https://test.salesforce.com"},
        {"login_url": "https://acme.my.salesforce.com", "domain": "test"},
        {},
    ],
)
def test_client_credentials_refuse_the_login_and_test_hosts(
    mapping: CrmMapping, settings: dict[str, str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_crm(
            AdapterConfig(
                settings={"consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET, **settings},
                mapping=mapping,
            )
        )
    assert [p.path for p in caught.value.problems] == ["CTIHUB_SALESFORCE_LOGIN_URL"]
    assert CONSUMER_SECRET not in json.dumps([p.as_dict() for p in caught.value.problems])


# -- the legacy password login ------------------------------------------------------------------------------

LEGACY = {"username": "api@acme.test", "password": "pw-secret-91", "security_token": "tok-secret-37"}


def test_the_legacy_login_warns_once_without_the_password(
    mapping: CrmMapping, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        first = build_crm(AdapterConfig(settings=LEGACY, mapping=mapping))
        build_crm(AdapterConfig(settings=LEGACY, mapping=mapping))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "legacy" in r.getMessage()]
    assert len(warnings) == 1
    assert first.settings.auth == "password"
    assert_no_secrets("pw-secret-91", first, None, caplog.text)
    assert_no_secrets("tok-secret-37", first, None, caplog.text)


# -- secrets -------------------------------------------------------------------------------------------------


def assert_no_secrets(secret: str, crm: Any, error: CrmError | None, *texts: str) -> None:
    """``secret`` (and any long piece of it, e.g. a key's body) is nowhere to be seen."""
    pieces = [secret] + [line for line in secret.splitlines() if len(line) > 16 and "-----" not in line]
    seen = [repr(crm), repr(crm.settings), str(crm.status()), *texts]
    if error is not None:
        seen += [str(error), repr(error), error.describe(), str(error.__cause__ or "")]
    for piece in pieces:
        for text in seen:
            assert piece not in text, f"a secret shows in {text[:80]!r}"


def test_secrets_never_show_in_reprs_errors_or_logs(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    key_pair: tuple[str, str],
    fake_time: FakeTime,
    timeouts: tuple[float, float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    crm = jwt_crm(mapping, key_pair[0], fake_time, timeouts)
    mocked.post("https://login.salesforce.com/services/oauth2/token", json=token_answer(FIRST_TOKEN))
    mocked.get(
        f"{DATA}/Case/{CASE_ID}",
        status=403,
        json=[{"message": "insufficient access rights on object id", "errorCode": "INSUFFICIENT_ACCESS"}],
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(CrmError) as caught:
        crm.get_case(CASE_ID)

    for secret in (key_pair[0], FIRST_TOKEN):
        assert_no_secrets(secret, crm, caught.value, caplog.text)
    client_credentials = build_crm(
        AdapterConfig(
            settings={
                "consumer_key": CONSUMER_KEY,
                "consumer_secret": CONSUMER_SECRET,
                "login_url": "https://acme.my.salesforce.com",
            },
            mapping=mapping,
        )
    )
    assert_no_secrets(CONSUMER_SECRET, client_credentials, None, caplog.text)
