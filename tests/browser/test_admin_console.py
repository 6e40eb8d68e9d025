"""The admin console in headless Chromium: edit a mapping with an error, see it flagged in place,
fix it, preview the draft against the published version, publish."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

expect = pytest.importorskip("playwright.sync_api").expect

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "admin.png"
EVENT = {
    "event_id": "console-preview-1",
    "occurred_at": "2026-12-06T20:00:00Z",
    "channel": "chat",
    "customer": {"email": "console.preview@example.com", "name": "Pat Preview"},
    "intent": "billing",
    "outcome": "failed",
    "summary": "Charged twice for October.",
}


def test_edit_flag_fix_preview_publish(live_hub, page):
    page.goto(live_hub.url + "/admin")
    expect(page.get_by_role("heading", level=1, name="Configuration")).to_be_visible()
    expect(page.locator("#versions tbody tr")).to_have_count(1)
    expect(page.locator("#document")).to_have_value("fields.zendesk.yaml")
    original = page.locator("#editor").input_value()

    broken = original.replace("transform: slug}", "transform: shout}", 1)
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "shout" in text)
    page.locator("#editor").fill(broken)
    page.get_by_role("button", name="Save draft").click()
    problem = page.locator("#problems li").first
    expect(problem).to_contain_text(f"line {line}")
    expect(problem).to_contain_text("shout")
    expect(page.locator("#gutter .bad").first).to_have_text(str(line))
    expect(page.get_by_role("button", name="Publish")).to_be_disabled()

    fixed = original.replace("value: [ctihub]}", "value: [ctihub, from-console]}", 1)
    page.locator("#editor").fill(fixed)
    page.locator("#note").fill("tag tickets from the console")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#problems")).to_contain_text("No problems.")
    expect(page.get_by_role("button", name="Publish")).to_be_enabled()

    page.locator("#preview-event").fill(json.dumps(EVENT, indent=1))
    page.get_by_role("button", name="Preview", exact=True).click()
    columns = page.locator("#preview-result > .card")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).not_to_contain_text("from-console")
    expect(columns.nth(1)).to_contain_text("from-console")
    expect(columns.nth(1).locator("tr.changed")).to_contain_text("case.tags")
    routed = columns.nth(1).locator("tr", has_text="routed to")  # routing.yaml's "money" rule
    expect(routed).to_contain_text("Zendesk group Billing")
    expect(routed).to_contain_text("rules[2] · routing.yaml:")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#admin-message")).to_contain_text("Published v3")
    assert live_hub.hub.config_version == 3  # this process applied it at once
    expect(page.locator("#versions tbody tr").first).to_contain_text("published")

    page.get_by_role("button", name="Check against the CRM").click()  # the live (sandbox) Zendesk schema
    expect(page.locator("#crm-findings")).to_contain_text("v3: all 10 mapped fields fit zendesk")


PREVIEW_SCREENSHOT = SCREENSHOT.with_name("admin-preview.png")


def suggestions(page):
    return page.get_by_role("listbox", name="Suggestions from the document's schema")


def expect_offered(page, label: str) -> None:
    """The listbox is open, the textarea points at its active option, and that option is ``label``."""
    listbox = suggestions(page)
    expect(listbox).to_be_visible()
    active = listbox.locator("[role=option][aria-selected=true]")
    expect(active.locator(".completion__label")).to_have_text(label)
    expect(page.locator("#editor")).to_have_attribute("aria-activedescendant", active.get_attribute("id"))


def test_completion_by_keyboard_and_the_recovery_plan_in_the_preview(live_hub, page):
    """At a 400 px wide console: a new recovery policy typed with the schema's completion (arrow
    keys, Enter, Escape, Ctrl+Space), saved, and previewed: the draft's recovery plan beside the
    published one, an attempt blocked for want of consent."""
    page.set_viewport_size({"width": 400, "height": 900})
    page.goto(live_hub.url + "/admin")
    expect(page.locator("#document")).to_have_value("fields.zendesk.yaml")
    page.locator("#document").select_option("recovery.yaml")
    editor = page.locator("#editor")
    original = editor.input_value()
    assert original.endswith("\n")
    editor.focus()
    page.keyboard.press("Control+End")
    keys = page.keyboard

    keys.type("  - na")  # a new policy: the item's keys come from $defs/policy
    expect_offered(page, "name")
    keys.press("Enter")
    keys.type("Chat failed")
    expect(suggestions(page)).to_be_hidden()  # a name has no values to offer
    keys.press("Enter")
    keys.type("    ma")  # "name" is given already: only match
    expect_offered(page, "match")
    keys.press("Enter")
    keys.type("{channel: [ch")  # inside a one-line {mapping} and [list]: the channel enum
    expect_offered(page, "chat")
    keys.press("Enter")
    keys.type("], outcome: [")
    expect_offered(page, "failed")
    keys.press("Enter")
    keys.type("]}")
    keys.press("Enter")
    keys.type("    steps:")
    keys.press("Enter")
    keys.type("      - {action: ")  # every action, sms first
    expect_offered(page, "sms")
    keys.press("Enter")
    keys.type(", af")
    expect_offered(page, "after_minutes")
    keys.press("Escape")  # closed; Ctrl+Space asks again
    expect(suggestions(page)).to_be_hidden()
    expect(editor).not_to_have_attribute("aria-activedescendant", re.compile(".+"))
    keys.press("Control+Space")
    expect_offered(page, "after_minutes")
    keys.press("Tab")
    keys.type("10}")
    keys.press("Enter")
    keys.type("      - {action: ")
    expect_offered(page, "sms")
    keys.press("ArrowDown")
    expect_offered(page, "callback")
    keys.press("Enter")
    keys.type(", after_minutes: 30}")
    keys.press("Enter")

    typed = editor.input_value()[len(original) :]
    assert typed == (
        "  - name: Chat failed\n"
        "    match: {channel: [chat], outcome: [failed]}\n"
        "    steps:\n"
        "      - {action: sms, after_minutes: 10}\n"
        "      - {action: callback, after_minutes: 30}\n"
    )
    page.locator("#note").fill("recover failed chats")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#admin-message")).to_have_text("Saved as draft v2.")
    expect(page.locator("#problems")).to_contain_text("No problems.")

    # Yesterday 10:00 in New York: a chat failed; the customer agreed to texts, not to calls.
    occurred = live_hub.clock.now().replace(hour=15, minute=0, second=0) - timedelta(days=1)
    event = {
        "event_id": "console-recovery-1",
        "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": "chat",
        "customer": {"phone": "+12125550100", "name": "Pat Preview"},
        "intent": "billing",
        "outcome": "failed",
        "summary": "The payment step failed.",
        "consent": {"sms": True},
    }
    page.locator("#preview-event").fill(json.dumps(event, indent=1))
    page.get_by_role("button", name="Preview", exact=True).click()
    published, draft = (
        page.locator("#preview-result > .card").nth(0),
        page.locator("#preview-result > .card").nth(1),
    )
    expect(published.locator(".plan")).to_contain_text("no policy matches channel chat")
    expect(draft.locator(".plan__head")).to_contain_text("Policy “Chat failed”")
    attempts = draft.locator(".plan__attempt")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("1. sms")
    expect(attempts.nth(0)).to_contain_text("America/New_York")
    expect(attempts.nth(1)).to_contain_text("blocked: no_consent")
    expect(attempts.nth(1)).to_contain_text("consent: no voice consent on record")
    for side in (published, draft):  # the plans differ: both are highlighted, like differing rows
        expect(side.locator(".plan.changed")).to_be_visible()

    no_overflow = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_overflow, "the console scrolls sideways at 400 px"
    # The draft's side as an admin sees it at 400 px: its last rows and the recovery plan.
    draft.locator(".plan").evaluate("plan => plan.scrollIntoView({block: 'end'})")
    page.screenshot(path=str(PREVIEW_SCREENSHOT))
