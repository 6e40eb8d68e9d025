"""The admin console in headless Chromium: edit a mapping with an error, see it flagged in place,
fix it, preview the draft against the published version, publish."""

from __future__ import annotations

import json
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
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#admin-message")).to_contain_text("Published v3")
    assert live_hub.hub.config_version == 3  # this process applied it at once
    expect(page.locator("#versions tbody tr").first).to_contain_text("published")

    page.get_by_role("button", name="Check against the CRM").click()  # the live (sandbox) Zendesk schema
    expect(page.locator("#crm-findings")).to_contain_text("v3: all 10 mapped fields fit zendesk")
