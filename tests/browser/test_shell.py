"""The shell in a real browser: no-click sandbox sign-in for both CRMs, the Salesforce popup, the cookie."""

from __future__ import annotations

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
