"""The session gate: roles, bearer token, CSRF, cookie flags, expiry, headers, safe redirects."""

from __future__ import annotations

import re

import pytest

from hub.web.redirects import safe_next
from hub.web.session import Principal, sign_in
from tests.web.conftest import TOKEN
from tests.web.routes import install

AGENT = Principal(subject="zendesk:user:381", name="Ana Agent", crm="zendesk", roles=frozenset({"agent"}))


@pytest.fixture
def app(prod_app):
    install(prod_app)

    @prod_app.post("/test/sign-in-as/<role>")
    def _sign_in(role):  # test-only door: the real sign-ins are tested in their own modules
        sign_in(
            Principal(subject=f"test:{role}", name=f"Test {role}", crm="zendesk", roles=frozenset({role}))
        )
        return "ok"

    return prod_app


@pytest.fixture
def client(app):
    return app.test_client()


def signed_in(client, role="agent"):
    assert client.post(f"/test/sign-in-as/{role}").status_code == 200
    return client


def csrf_of(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def test_json_endpoint_without_session_is_401_with_the_error_body(client):
    answer = client.get("/v1/test/whoami")
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_html_page_without_session_outside_sandbox_shows_the_sign_in_page_with_401(client):
    answer = client.get("/test/ops-page", headers={"Accept": "text/html"})
    assert answer.status_code == 401
    assert "<h1>Sign in to CTI Hub</h1>" in answer.get_data(as_text=True)


def test_no_sandbox_shortcut_outside_sandbox_mode(client):
    assert client.get("/signin/sandbox?role=admin&next=/").status_code == 404
    assert client.get("/v1/test/whoami").status_code == 401


def test_session_with_the_role_passes_and_without_it_is_403(client):
    signed_in(client, "agent")
    assert client.get("/v1/test/whoami").json == {"subject": "test:agent", "roles": ["agent"]}
    denied = client.get("/v1/test/admin-only")
    assert denied.status_code == 403 and denied.json["error"]["code"] == "forbidden"
    page = client.get("/test/ops-page", headers={"Accept": "text/html"})
    assert page.status_code == 403 and "<h1>Not allowed</h1>" in page.get_data(as_text=True)


def test_bearer_token_passes_v1_endpoints_and_is_not_subject_to_csrf(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/v1/test/admin-only", headers=auth).status_code == 200
    assert client.post("/v1/test/change", headers=auth).json == {"changed": True}
    wrong = client.get("/v1/test/whoami", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_bearer_token_does_not_open_html_pages(client):
    answer = client.get("/test/ops-page", headers={"Authorization": f"Bearer {TOKEN}", "Accept": "text/html"})
    assert answer.status_code == 401


@pytest.mark.parametrize("header", [None, "", "wrong-token"])
def test_session_change_without_the_right_csrf_token_is_403(client, header):
    signed_in(client)
    headers = {} if header is None else {"X-CSRF-Token": header}
    answer = client.post("/v1/test/change", headers=headers)
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "csrf_failed"


def test_session_change_with_the_csrf_token_passes_by_header_or_form_field(client):
    signed_in(client)
    token = csrf_of(client)
    assert client.post("/v1/test/change", headers={"X-CSRF-Token": token}).status_code == 200
    assert client.post("/test/form", data={"csrf_token": token}).status_code == 200
    assert client.post("/test/form", data={"csrf_token": token + "x"}).status_code == 403


def test_csrf_token_changes_at_each_sign_in(client):
    signed_in(client)
    first = csrf_of(client)
    signed_in(client)
    assert csrf_of(client) != first


def test_session_cookie_is_secure_httponly_samesite_none_and_expires(client):
    signed_in(client)
    cookie = client.get_cookie("ctihub_session")
    assert cookie.secure and cookie.http_only and cookie.same_site == "None"
    assert cookie.expires is not None


def test_session_ends_after_session_hours_however_active(client, clock):
    signed_in(client)
    clock.advance(hours=7, minutes=59)
    assert client.get("/v1/test/whoami").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/v1/test/whoami").status_code == 401


def test_tampered_session_cookie_is_no_session(client):
    signed_in(client)
    cookie = client.get_cookie("ctihub_session")
    client.set_cookie("ctihub_session", cookie.value[:-2] + "xx")
    assert client.get("/v1/test/whoami").status_code == 401


def test_sign_out_needs_csrf_and_ends_the_session(client):
    signed_in(client)
    assert client.post("/signout").status_code == 403
    assert client.post("/signout", data={"csrf_token": csrf_of(client)}).status_code == 303
    assert client.get("/v1/test/whoami").status_code == 401


def test_pages_send_csp_with_frame_ancestors_and_no_inline_script(make_app):
    app = make_app(
        crm_settings={
            "zendesk": {"subdomain": "acme"},
            "salesforce": {"instance_url": "https://acme.my.salesforce.com"},
        }
    )
    answer = app.test_client().get("/signin")
    policy = answer.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["frame-ancestors"] == (
        "https://acme.my.salesforce.com https://acme.lightning.force.com https://acme.zendesk.com"
    )
    assert (
        directives["script-src"] == "'self' https://acme.my.salesforce.com https://acme.lightning.force.com"
    )
    assert "unsafe-inline" not in policy
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in answer.headers
    assert not re.search(r"<script(?![^>]*\bsrc=)", answer.get_data(as_text=True))


def test_frame_ancestors_setting_replaces_the_derived_list_and_sandbox_adds_self(make_app):
    app = make_app(
        env={"FRAME_ANCESTORS": "https://x.zendesk.com"}, crm_settings={"zendesk": {"subdomain": "y"}}
    )
    policy = app.test_client().get("/signin").headers["Content-Security-Policy"]
    assert "frame-ancestors https://x.zendesk.com" in policy
    sandbox = make_app(sandbox=True)
    assert "frame-ancestors 'self'" in sandbox.test_client().get("/signin").headers["Content-Security-Policy"]


def test_no_configured_console_means_no_framing_at_all(client):
    assert "frame-ancestors 'none'" in client.get("/signin").headers["Content-Security-Policy"]


def test_bad_frame_ancestor_is_a_config_error_naming_the_setting(make_app):
    from hub.domain.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        make_app(env={"FRAME_ANCESTORS": "http://insecure.example"})
    assert caught.value.problems[0].path == "CTIHUB_FRAME_ANCESTORS"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil",
        "",
        "/ok\r\nSet-Cookie: x=1",
        "http:/evil",
    ],
)
def test_safe_next_refuses_anything_but_a_local_path(target):
    assert safe_next(target) == "/"


@pytest.mark.parametrize(
    "target", ["/panel", "/panel/zendesk?host=zaf", "/panel/salesforce/cases/500x?host=lwc"]
)
def test_safe_next_keeps_local_paths(target):
    assert safe_next(target) == target


def test_landing_page_links_only_what_the_principal_may_open(client):
    signed_in(client, "operations")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/dashboard"' in page
    assert 'href="/panel"' not in page and 'href="/admin"' not in page


def test_a_request_without_cookies_skips_the_signing_serializer_and_a_signed_cookie_still_counts(
    app, client, monkeypatch
):
    """API and webhook calls carry no cookie: their empty session costs no key derivation; a browser's
    signed session cookie is still read and checked."""
    signed_in(client)  # the cookie is set while the serializer works
    assert client.get("/v1/test/whoami").status_code == 200

    def refuse(_app):
        raise AssertionError("the signing serializer was built for a request without cookies")

    monkeypatch.setattr(app.session_interface, "get_signing_serializer", refuse)
    assert app.test_client().get("/v1/test/whoami").status_code == 401  # no cookie: empty session
    with pytest.raises(AssertionError, match="signing serializer"):
        client.get("/v1/test/whoami")  # a cookie: read through the serializer, as before
