"""Sandbox mode: a page opened without a session signs in through the sandbox CRM, with no click."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import pytest

from tests.web.routes import install
from tests.web.signin_helpers import autosubmit_form


def open_page(client, path):
    """Open ``path`` as a browser would, posting the sandbox's auto-submitted form like hub.js does."""
    answer = client.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
    page = answer.get_data(as_text=True)
    if "data-autosubmit" in page:
        action, fields = autosubmit_form(page)
        answer = client.post(action, data=fields, follow_redirects=True)
    return answer


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
@pytest.mark.parametrize(
    ("path", "heading", "name"),
    [("/test/ops-page", "Ops page", "Olivia Operations"), ("/", "CTI Hub", "Sam Agent")],
)
def test_a_page_without_session_signs_in_with_the_role_it_needs_and_returns_to_it(
    make_app, crm, path, heading, name
):
    app = install(make_app(sandbox=True, crm=crm))
    client = app.test_client()
    answer = open_page(client, path)
    assert answer.status_code == 200
    assert answer.request.path == urlsplit(path).path
    page = answer.get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in page and name in page


def test_the_crm_comes_from_the_page_path(make_app):
    """A Salesforce panel page on a Zendesk hub still signs in through Salesforce (OAuth)."""
    app = install(make_app(sandbox=True, crm="zendesk"))
    client = app.test_client()
    answer = client.get("/panel/salesforce/test-page", headers={"Accept": "text/html"}, follow_redirects=True)
    paths = [urlsplit(r.headers["Location"]).path for r in answer.history]
    assert "/sandbox/salesforce/services/oauth2/authorize" in paths
    assert "<h1>SF page</h1>" in answer.get_data(as_text=True)


def test_the_zendesk_path_posts_a_token_the_production_verifier_accepts(make_app):
    app = make_app(sandbox=True)
    client = app.test_client()
    page = client.get("/signin/sandbox?crm=zendesk&role=admin&next=/").get_data(as_text=True)
    action, fields = autosubmit_form(page)
    assert action == "/signin/zendesk?next=/"
    assert set(fields) == {"token"}
    answer = client.post(action, data=fields)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_json_requests_never_sign_in_by_themselves(make_app):
    app = install(make_app(sandbox=True))
    assert app.test_client().get("/v1/test/whoami").status_code == 401


def test_the_sandbox_sign_in_refuses_unknown_roles(make_app):
    client = make_app(sandbox=True).test_client()
    assert client.get("/signin/sandbox?role=root&crm=zendesk").status_code == 400


def test_over_plain_http_on_another_host_the_sandbox_explains_instead_of_looping(make_app):
    client = make_app(sandbox=True).test_client()
    answer = client.get("/signin/sandbox?crm=zendesk&role=agent&next=/", base_url="http://192.168.1.5:8000")
    assert answer.status_code == 400
    assert "Open the sandbox on 127.0.0.1" in answer.get_data(as_text=True)
    secure = client.get("/signin/sandbox?crm=zendesk&role=agent&next=/", base_url="https://hub.example")
    assert secure.status_code == 200


def test_a_sandbox_user_without_the_role_is_offered_the_sandbox_user_who_has_it(make_app):
    app = install(make_app(sandbox=True))
    client = app.test_client()
    open_page(client, "/")  # signed in as the sandbox agent
    denied = client.get("/test/ops-page", headers={"Accept": "text/html"})
    assert denied.status_code == 403
    switch = re.search(r'href="(/signin/sandbox[^"]+)"', denied.get_data(as_text=True)).group(1)
    answer = open_page(client, html.unescape(switch))
    assert "<h1>Ops page</h1>" in answer.get_data(as_text=True)
