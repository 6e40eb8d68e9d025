"""The shell in a real browser: sandbox sign-in with no click, the cookie over http://127.0.0.1."""

from __future__ import annotations

from playwright.sync_api import expect


def test_sandbox_signs_in_with_no_click_and_lands_on_a_visible_heading(live_hub, page):
    page.goto(live_hub.url + "/")

    expect(page.get_by_role("heading", level=1, name="CTI Hub")).to_be_visible()
    expect(page.locator(".site-header__name")).to_have_text("Sandbox Agent")
    cookie = next(c for c in page.context.cookies() if c["name"] == "ctihub_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "None"
    page.reload()  # the Secure cookie is sent back over http://127.0.0.1: still signed in, no redirect
    assert page.url == live_hub.url + "/"
    expect(page.locator(".site-header__name")).to_have_text("Sandbox Agent")
