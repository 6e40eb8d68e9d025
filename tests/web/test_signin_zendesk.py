"""Zendesk's signed-URL sign-in: only a fresh RS256 token of this app installation opens a session."""

from __future__ import annotations

import base64
import html
import json

import jwt
import pytest

from tests.web.signin_helpers import INSTALLATION_ID, SUBDOMAIN, app_token, public_pem, rsa_key

NEXT = "/panel/zendesk?host=zaf"


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture
def app(make_app, key):
    return make_app(
        crm_settings={
            "zendesk": {
                "subdomain": SUBDOMAIN,
                "app_installation_id": INSTALLATION_ID,
                "app_public_key": public_pem(key),
            }
        }
    )


@pytest.fixture
def now(clock) -> int:
    return int(clock.now().timestamp())


def post(client, token, next_url=NEXT):
    return client.post("/signin/zendesk", query_string={"next": next_url}, data={"token": token})


def whoami(client):
    """The session's principal as the landing page shows it (None without a session)."""
    page = client.get("/").get_data(as_text=True)
    return page if "Signed in as" in page else None


def test_a_valid_token_signs_the_agent_in_and_redirects_to_next(app, key, now):
    client = app.test_client()
    answer = post(client, app_token(key, now))
    assert answer.status_code == 303
    assert answer.headers["Location"] == NEXT
    assert "Ana Agent" in whoami(client)
    cookie = client.get_cookie("ctihub_session")
    assert cookie.secure and cookie.http_only and cookie.same_site == "None"


def test_the_zendesk_role_maps_to_hub_roles(app, key, now):
    client = app.test_client()
    post(client, app_token(key, now, role="admin"))
    page = client.get("/").get_data(as_text=True)
    assert 'href="/panel"' in page and 'href="/dashboard"' in page and 'href="/admin"' in page


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "evil.zendesk.com"}, "another Zendesk account"),
        ({"aud": f"https://{SUBDOMAIN}.zendesk.com/api/v2/apps/installations/999.json"}, "another app"),
        ({"aud": None}, "'aud'"),
        ({"sub": None}, "'sub'"),
        ({"exp": None}, "'exp'"),
    ],
)
def test_wrong_or_missing_claims_are_refused_with_401_and_no_session(app, key, now, changes, reason):
    client = app.test_client()
    answer = post(client, app_token(key, now, **changes))
    assert answer.status_code == 401
    assert reason in html.unescape(answer.get_data(as_text=True))
    assert whoami(client) is None


def test_expired_token_is_refused(app, key, now):
    client = app.test_client()
    answer = post(client, app_token(key, now - 400, exp=now - 61))
    assert answer.status_code == 401 and "expired" in answer.get_data(as_text=True)
    assert whoami(client) is None


def test_token_issued_in_the_future_is_refused(app, key, now):
    answer = post(app.test_client(), app_token(key, now + 3600))
    assert answer.status_code == 401 and "future" in answer.get_data(as_text=True)


def test_token_signed_by_another_key_is_refused(app, now):
    client = app.test_client()
    answer = post(client, app_token(rsa_key(), now))
    assert answer.status_code == 401 and "signature" in answer.get_data(as_text=True)
    assert whoami(client) is None


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused(app, key, now):
    from tests.web.signin_helpers import app_claims

    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(app_claims(now))}."
    client = app.test_client()
    assert post(client, unsigned).status_code == 401
    assert whoami(client) is None


def test_hs256_signed_with_the_public_key_as_secret_is_refused(app, key, now):
    """The classic key-confusion attack: the verifier must not accept HMAC with the public key."""
    import hashlib
    import hmac

    from tests.web.signin_helpers import app_claims

    header_payload = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(app_claims(now))}"
    mac = hmac.new(public_pem(key).encode(), header_payload.encode(), hashlib.sha256).digest()
    forged = header_payload + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    client = app.test_client()
    answer = post(client, forged)
    assert answer.status_code == 401 and "RS256" in answer.get_data(as_text=True)
    assert whoami(client) is None


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c"])
def test_garbage_is_refused(app, token):
    assert post(app.test_client(), token).status_code == 401


def test_an_end_user_gets_no_role_and_no_session(app, key, now):
    client = app.test_client()
    answer = post(client, app_token(key, now, role="end-user"))
    assert answer.status_code == 403
    assert whoami(client) is None


@pytest.mark.parametrize("target", ["https://evil.example/panel", "//evil.example", "panel"])
def test_next_must_be_a_local_path(app, key, now, target):
    client = app.test_client()
    answer = post(client, app_token(key, now), next_url=target)
    assert answer.status_code == 400
    assert whoami(client) is None


def test_without_the_app_settings_zendesk_sign_in_is_refused(make_app, key, now):
    app = make_app(crm_settings={"zendesk": {"subdomain": SUBDOMAIN}})
    answer = post(app.test_client(), app_token(key, now))
    assert answer.status_code == 401
    assert "CTIHUB_ZENDESK_APP_PUBLIC_KEY" in answer.get_data(as_text=True)


def test_the_public_key_may_come_from_a_file_with_escaped_newlines(make_app, key, now):
    app = make_app(
        crm_settings={
            "zendesk": {
                "subdomain": SUBDOMAIN,
                "app_installation_id": INSTALLATION_ID,
                "app_public_key": public_pem(key).replace("\n", "\\n"),
            }
        }
    )
    assert post(app.test_client(), app_token(key, now)).status_code == 303


def test_the_token_never_reaches_the_log(app, key, now, caplog):
    token = app_token(key, now, iss="evil.zendesk.com")
    post(app.test_client(), token)
    assert caplog.records, "the refusal is logged"
    assert all(token not in record.getMessage() for record in caplog.records)


def test_jwt_library_refuses_none_even_if_asked_for_rs256():
    """Pins the PyJWT behaviour the verifier relies on."""
    with pytest.raises(jwt.InvalidTokenError):
        jwt.decode("eyJhbGciOiJub25lIn0.e30.", "k", algorithms=["RS256"])
