"""The shell in a real browser: no-click sandbox sign-in for both CRMs, the Salesforce popup, the cookie."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from playwright.sync_api import expect


def test_sandbox_signs_in_with_no_click_and_lands_on_a_visible_heading(live_hub, page):
    page.goto(live_hub.url + "/")

    expect(page.get_by_role("heading", level=1, name="CTI Hub")).to_be_visible()
    expect(page.locator(".site-header__name")).to_have_text("Sam Agent")
    assert page.url == live_hub.url + "/"
    cookie = next(c for c in page.context.cookies() if c["name"] == "ctihub_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "None"
    page.reload()  # the Secure cookie is sent back over http://127.0.0.1: still signed in, no redirect
    assert page.url == live_hub.url + "/"
    expect(page.locator(".site-header__name")).to_have_text("Sam Agent")


@pytest.mark.parametrize("live_hub", ["salesforce"], indirect=True)
def test_salesforce_sandbox_runs_the_oauth_flow_with_no_click(live_hub, page):
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    page.goto(live_hub.url + "/")

    expect(page.get_by_role("heading", level=1, name="CTI Hub")).to_be_visible()
    expect(page.get_by_text("through Salesforce")).to_be_visible()
    assert any("/sandbox/salesforce/services/oauth2/authorize?" in url for url in seen)
    assert any("/signin/salesforce/callback?code=" in url for url in seen)


def test_salesforce_popup_sign_in_tells_the_opener_which_reloads(live_hub, page):
    page.goto(live_hub.url + "/signin?next=/")
    expect(page.get_by_role("heading", level=1, name="Sign in to CTI Hub")).to_be_visible()

    with page.expect_popup() as popup_info:
        page.get_by_role("link", name="Sign in with Salesforce").click()
    popup = popup_info.value
    popup.wait_for_event("close")

    page.wait_for_url(live_hub.url + "/")
    expect(page.locator(".site-header__name")).to_have_text("Sam Agent")


def test_sign_out_ends_the_session(live_hub, page):
    page.goto(live_hub.url + "/")
    expect(page.locator(".site-header__name")).to_have_text("Sam Agent")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1, name="Sign in to CTI Hub")).to_be_visible()
    expect(page.locator(".site-header__name")).to_have_count(0)


class _ConsoleStandIn(BaseHTTPRequestHandler):
    """A page on another origin (another port) that frames the hub, like a console would."""

    target = ""

    def do_GET(self) -> None:
        body = f'<!doctype html><title>console</title><iframe id="hub" src="{self.target}"></iframe>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_origin(live_hub):
    handler = type("Console", (_ConsoleStandIn,), {"target": live_hub.url + "/signin"})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


def test_csp_frame_ancestors_blocks_framing_from_an_origin_not_configured(live_hub, page, other_origin):
    """Sandbox mode allows only 'self': a console on another origin cannot frame the hub."""
    page.goto(other_origin)  # waits for the load event, which includes the iframe's
    frame = next(f for f in page.frames if f is not page.main_frame)
    assert frame.url.startswith("chrome-error://")
    expect(page.frame_locator("#hub").get_by_role("heading", name="Sign in to CTI Hub")).to_have_count(0)


def test_the_same_origin_may_frame_the_pages_in_sandbox_mode(live_hub, page):
    live_hub.app.add_url_rule(
        "/test/console",
        "test_console",
        lambda: '<!doctype html><title>console</title><iframe id="hub" src="/signin"></iframe>',
    )
    page.goto(live_hub.url + "/test/console")
    expect(page.frame_locator("#hub").get_by_role("heading", name="Sign in to CTI Hub")).to_be_visible()


def test_hub_api_sends_the_csrf_token_and_rejects_with_the_hubs_error(live_hub, page):
    from tests.web.routes import install

    install(live_hub.app)
    page.goto(live_hub.url + "/")
    expect(page.locator(".site-header__name")).to_have_text("Sam Agent")

    assert page.evaluate("() => Hub.api('POST', '/v1/test/change', {})") == {"changed": True}
    error = page.evaluate(
        """() => {
          document.querySelector('meta[name="csrf-token"]').setAttribute('content', 'forged');
          return Hub.api('POST', '/v1/test/change', {}).then(
            () => null,
            (e) => ({isApiError: e instanceof Hub.ApiError, status: e.status, code: e.code, body: e.body}));
        }"""
    )
    assert error["isApiError"] and error["status"] == 403 and error["code"] == "csrf_failed"
    assert error["body"]["error"]["code"] == "csrf_failed"
    assert page.evaluate("() => Hub.api('GET', '/v1/test/whoami')")["subject"] == "zendesk:user:9001"


def test_hub_format_time_uses_the_given_zone(live_hub, page):
    page.goto(live_hub.url + "/signin")
    text = page.evaluate("() => Hub.formatTime('2026-12-06T15:05:00Z', 'America/New_York')")
    assert "10:05" in text
    assert page.evaluate("() => Hub.formatTime('', 'UTC')") == ""
