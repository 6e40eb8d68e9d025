"""Salesforce sign-in: authlib's web-server flow with PKCE, against the sandbox and a pinned org."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses

from adapters.sandbox.identity import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, s256
from tests.web.signin_helpers import rsa_key

ORG = "https://acme.my.salesforce.com"
ORG_ID = "00D5e000000AbCdEAK"
USER_ID = "0055e000001XyZaAAK"


def landing(client) -> str:
    return client.get("/").get_data(as_text=True)


# -- against the sandbox (the no-click path runs exactly this code) ------------------------------


@pytest.fixture
def sandbox_sf(make_app):
    return make_app(sandbox=True, crm="salesforce")


def test_sandbox_flow_signs_in_the_user_the_hint_names_with_roles_from_custom_permissions(sandbox_sf):
    client = sandbox_sf.test_client()
    answer = client.get("/signin/salesforce?next=/&login_hint=operations", follow_redirects=True)
    assert answer.status_code == 200
    steps = [urlsplit(r.headers["Location"]).path for r in answer.history]
    assert steps == [
        "/sandbox/salesforce/services/oauth2/authorize",
        "/signin/salesforce/callback",
        "/",
    ]
    page = answer.get_data(as_text=True)
    assert "Olivia Operations" in page
    assert 'href="/dashboard"' in page and 'href="/panel"' in page and 'href="/admin"' not in page


def test_the_authorize_request_uses_pkce_s256_and_openid(sandbox_sf):
    start = sandbox_sf.test_client().get("/signin/salesforce?next=/")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["scope"] == ["openid profile email custom_permissions"]
    assert query["client_id"] == [SALESFORCE_CLIENT_ID]
    assert query["redirect_uri"] == ["http://localhost/signin/salesforce/callback"]


def test_popup_sign_in_ends_on_a_page_that_tells_the_opener(sandbox_sf):
    client = sandbox_sf.test_client()
    answer = client.get(
        "/signin/salesforce",
        query_string={"popup": "1", "next": "/panel/salesforce?host=opencti"},
        follow_redirects=True,
    )
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert 'data-signin-complete data-next="/panel/salesforce?host=opencti"' in page
    assert "<script>" not in page  # the message is posted by hub.js, never by inline script


def test_a_code_redeemed_with_another_verifier_is_refused_and_no_session_starts(sandbox_sf):
    """The hub's state, but a code the sandbox issued for someone else's challenge: PKCE must fail."""
    client = sandbox_sf.test_client()
    start = client.get("/signin/salesforce?next=/")
    state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
    foreign = client.get(
        "/sandbox/salesforce/services/oauth2/authorize",
        query_string={
            "response_type": "code",
            "client_id": SALESFORCE_CLIENT_ID,
            "redirect_uri": "http://localhost/signin/salesforce/callback",
            "code_challenge": s256("an-attacker-verifier-0123456789-0123456789-abc"),
            "code_challenge_method": "S256",
            "scope": "openid custom_permissions",
        },
    )
    code = parse_qs(urlsplit(foreign.headers["Location"]).query)["code"][0]
    answer = client.get(f"/signin/salesforce/callback?code={code}&state={state}")
    assert answer.status_code == 401
    assert "invalid code verifier" in answer.get_data(as_text=True)
    assert "Signed in as" not in landing(client)


def test_a_callback_without_the_sessions_state_is_refused(sandbox_sf):
    client = sandbox_sf.test_client()
    answer = client.get("/signin/salesforce/callback?code=x&state=forged")
    assert answer.status_code == 401
    assert "Signed in as" not in landing(client)


def test_an_error_from_the_authorize_page_is_shown_and_signs_nobody_in(sandbox_sf):
    client = sandbox_sf.test_client()
    client.get("/signin/salesforce?next=/")
    answer = client.get("/signin/salesforce/callback?error=access_denied&error_description=end-user+denied")
    assert answer.status_code == 401 and "end-user denied" in answer.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example/", "javascript:x"])
def test_next_must_be_a_local_path(sandbox_sf, target):
    assert (
        sandbox_sf.test_client().get("/signin/salesforce", query_string={"next": target}).status_code == 400
    )


# -- the sandbox's endpoints themselves --------------------------------------------------------------


def authorize(client, verifier="v" * 50, **changes):
    params = {
        "response_type": "code",
        "client_id": SALESFORCE_CLIENT_ID,
        "redirect_uri": "http://localhost/cb",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "scope": "openid custom_permissions",
        "state": "s1",
    }
    params.update(changes)
    return client.get("/sandbox/salesforce/services/oauth2/authorize", query_string=params)


def redeem(client, code, verifier="v" * 50, **changes):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "http://localhost/cb",
        "client_id": SALESFORCE_CLIENT_ID,
        "client_secret": SALESFORCE_CLIENT_SECRET,
        "code_verifier": verifier,
    }
    form.update(changes)
    return client.post("/sandbox/salesforce/services/oauth2/token", data=form)


def code_of(answer) -> str:
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def test_sandbox_token_answer_has_salesforces_fields_and_a_valid_signature(sandbox_sf):
    client = sandbox_sf.test_client()
    token = redeem(client, code_of(authorize(client))).json
    assert set(token) == {
        "access_token",
        "signature",
        "scope",
        "id_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
    }
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == "https://sandbox.my.salesforce.com"
    assert token["id"].startswith("https://sandbox.my.salesforce.com/id/00D")
    assert token["issued_at"].isdigit() and len(token["issued_at"]) == 13
    expected = hmac.new(
        SALESFORCE_CLIENT_SECRET.encode(), (token["id"] + token["issued_at"]).encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(token["signature"]) == expected


def test_sandbox_refuses_a_wrong_verifier_and_spends_the_code(sandbox_sf):
    client = sandbox_sf.test_client()
    code = code_of(authorize(client))
    wrong = redeem(client, code, verifier="w" * 50)
    assert wrong.status_code == 400
    assert wrong.json == {"error": "invalid_grant", "error_description": "invalid code verifier"}
    again = redeem(client, code)
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_secret": "nope"}, "invalid_client"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"redirect_uri": "http://localhost/other"}, "invalid_grant"),
        ({"code_verifier": ""}, "invalid_grant"),
    ],
)
def test_sandbox_token_errors_use_salesforces_error_body(sandbox_sf, changes, error):
    client = sandbox_sf.test_client()
    answer = redeem(client, code_of(authorize(client)), **changes)
    assert answer.status_code == 400
    assert answer.json["error"] == error and answer.json["error_description"]


def test_sandbox_authorize_demands_an_s256_challenge_and_a_known_client(sandbox_sf):
    client = sandbox_sf.test_client()
    plain = authorize(client, code_challenge_method="plain")
    assert parse_qs(urlsplit(plain.headers["Location"]).query)["error"] == ["invalid_request"]
    assert authorize(client, client_id="someone-else").status_code == 400
    assert authorize(client, redirect_uri="https://evil.example/cb").json["error"] == "redirect_uri_mismatch"


def test_sandbox_userinfo_has_salesforces_shape(sandbox_sf):
    client = sandbox_sf.test_client()
    token = redeem(client, code_of(authorize(client, login_hint="admin")))
    info = client.get(
        "/sandbox/salesforce/services/oauth2/userinfo",
        headers={"Authorization": f"Bearer {token.json['access_token']}"},
    ).json
    for name in (
        "user_id",
        "organization_id",
        "preferred_username",
        "name",
        "email",
        "zoneinfo",
        "user_type",
    ):
        assert info[name], name
    assert info["custom_permissions"] == {
        "CTI_Hub_Agent": True,
        "CTI_Hub_Operations": True,
        "CTI_Hub_Admin": True,
    }
    bad = client.get("/sandbox/salesforce/services/oauth2/userinfo", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 403


# -- a real org's configuration, with Salesforce's answers pinned --------------------------------------


@pytest.fixture(scope="module")
def org_key():
    return rsa_key()


@pytest.fixture
def org_app(make_app):
    return make_app(
        crm="salesforce",
        crm_settings={
            "salesforce": {
                "instance_url": ORG,
                "signin_consumer_key": "3MVG9-key",
                "signin_consumer_secret": "shh-secret",
                "org_id": ORG_ID,
            }
        },
    )


def pin_salesforce(org_key, state_query, *, permissions, org_id=ORG_ID):
    nonce = state_query["nonce"][0]
    now = int(__import__("time").time())
    id_token = jwt.encode(
        {
            "iss": ORG,
            "sub": f"{ORG}/id/{ORG_ID}/{USER_ID}",
            "aud": "3MVG9-key",
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        },
        org_key,
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(org_key.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    token = responses.post(
        f"{ORG}/services/oauth2/token",
        json={
            "access_token": "00D!tok",
            "id_token": id_token,
            "instance_url": ORG,
            "token_type": "Bearer",
            "id": f"{ORG}/id/{ORG_ID}/{USER_ID}",
            "issued_at": str(now * 1000),
            "signature": "x",
        },
    )
    responses.get(f"{ORG}/id/keys", json={"keys": [jwk]})
    responses.get(
        f"{ORG}/services/oauth2/userinfo",
        json={
            "user_id": USER_ID,
            "organization_id": org_id,
            "name": "Lee Lead",
            "email": "lee@acme.example",
            "zoneinfo": "America/Chicago",
            "custom_permissions": permissions,
        },
    )
    return token


@responses.activate
def test_org_flow_sends_pkce_verifier_and_client_secret_and_maps_custom_permissions(org_app, org_key):
    client = org_app.test_client()
    start = client.get("/signin/salesforce?next=/")
    location = urlsplit(start.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{ORG}/services/oauth2/authorize"
    query = parse_qs(location.query)
    token_call = pin_salesforce(
        org_key, query, permissions={"CTI_Hub_Operations": True, "CTI_Hub_Admin": False}
    )
    answer = client.get(f"/signin/salesforce/callback?code=aPrx1&state={query['state'][0]}")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    sent = parse_qs(token_call.calls[0].request.body)
    assert s256(sent["code_verifier"][0]) == query["code_challenge"][0]
    assert sent["client_secret"] == ["shh-secret"] and sent["grant_type"] == ["authorization_code"]
    page = landing(client)
    assert "Lee Lead" in page and 'href="/dashboard"' in page and 'href="/panel"' not in page


@responses.activate
def test_org_user_without_a_cti_hub_permission_is_refused(org_app, org_key):
    client = org_app.test_client()
    query = parse_qs(urlsplit(client.get("/signin/salesforce?next=/").headers["Location"]).query)
    pin_salesforce(org_key, query, permissions={"Some_Other": True})
    answer = client.get(f"/signin/salesforce/callback?code=aPrx1&state={query['state'][0]}")
    assert answer.status_code == 403
    assert "Signed in as" not in landing(client)


@responses.activate
def test_org_user_of_another_org_is_refused(org_app, org_key):
    client = org_app.test_client()
    query = parse_qs(urlsplit(client.get("/signin/salesforce?next=/").headers["Location"]).query)
    pin_salesforce(org_key, query, permissions={"CTI_Hub_Agent": True}, org_id="00D000000000999EAA")
    answer = client.get(f"/signin/salesforce/callback?code=aPrx1&state={query['state'][0]}")
    assert answer.status_code == 403
    assert "Signed in as" not in landing(client)


@responses.activate
def test_an_id_token_signed_by_another_key_is_refused(org_app, org_key):
    client = org_app.test_client()
    query = parse_qs(urlsplit(client.get("/signin/salesforce?next=/").headers["Location"]).query)
    pin_salesforce(rsa_key(), query, permissions={"CTI_Hub_Agent": True})
    responses.replace(
        responses.GET,
        f"{ORG}/id/keys",
        json={
            "keys": [
                {
                    **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(org_key.public_key())),
                    "kid": "k1",
                    "alg": "RS256",
                }
            ]
        },
    )
    answer = client.get(f"/signin/salesforce/callback?code=aPrx1&state={query['state'][0]}")
    assert answer.status_code == 401 and "Signed in as" not in landing(client)


def test_without_a_connected_app_there_is_no_salesforce_sign_in(prod_app):
    client = prod_app.test_client()
    assert client.get("/signin/salesforce?next=/").status_code == 404
    assert "Sign in with Salesforce" not in client.get("/signin").get_data(as_text=True)
