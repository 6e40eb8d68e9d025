"""The agent panel in headless Chromium, driven as an agent would, on a sandbox hub over HTTP.

Prints the measured figures (first paint of the trail, live update delay) so a run can be quoted.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import requests
from playwright.sync_api import expect

from hub.services.recovery import RecoveryService

PHONE = "+1 415 555 0100"


def quiet_machine() -> bool:
    """Timing budgets are asserted only when the machine is not oversubscribed (this sandbox runs eight
    engineers' suites on two cores); the figures are printed either way."""
    return os.getloadavg()[0] <= 2 * (os.cpu_count() or 1)


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post(live, **event) -> None:
    body = {
        "source": "web-chat",
        "occurred_at": iso(live.clock.now()),
        "customer": {"phone": PHONE, "name": "Jane Doe", "email": "jane.doe@example.com"},
        "intent": "billing",
        **event,
    }
    answer = live.post_outcome(body)
    assert answer.status_code == 202, answer.text


def one_problem_on_three_channels(live) -> str:
    now = live.clock.now()
    post(
        live,
        event_id="chat-1",
        channel="chat",
        outcome="abandoned",
        occurred_at=iso(now - timedelta(minutes=40)),
        summary="Left the chat while waiting for an agent.",
        transcript=[
            {"from": "customer", "text": "I was charged twice in October"},
            {"from": "bot", "text": "I can get you an agent. Please hold on."},
        ],
    )
    post(
        live,
        event_id="sms-1",
        source="twilio-sms",
        channel="sms",
        outcome="no_response",
        occurred_at=iso(now - timedelta(minutes=25)),
        summary="Texted about the refund; no answer yet.",
    )
    post(
        live,
        event_id="ss-1",
        source="ivr",
        channel="self_service",
        outcome="failed",
        occurred_at=iso(now - timedelta(minutes=10)),
        summary="Could not verify the double charge in the IVR.",
    )
    assert live.drain() == 3
    # the self-service failure planned a text; no consent is on record, so the claim blocks it
    recovery = RecoveryService.for_hub(live.hub)
    assert recovery is not None
    recovery.tick()
    live.clock.advance(minutes=15)
    recovery.tick()
    tickets = live.hub.sandbox.records("zendesk", "ticket")
    assert len(tickets) == 1
    return str(tickets[0]["id"])


def signed_in(live, page) -> None:
    page.goto(live.url + "/panel")  # the sandbox signs the browser in with no click
    expect(page.get_by_role("heading", level=1, name="Agent panel")).to_be_visible()


def first_trail_paint(page) -> dict:
    return page.evaluate(
        """() => new Promise((resolve) => {
            const nav = performance.getEntriesByType('navigation')[0];
            const done = (element) => resolve({
              trail_rendered_ms: element ? element.renderTime || element.loadTime : null,
              first_contentful_paint_ms:
                (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
              dom_content_loaded_ms: nav.domContentLoadedEventEnd,
            });
            new PerformanceObserver((list) => {
              const found = list.getEntries().find((e) => e.identifier === 'trail-first');
              if (found) { done(found); }
            }).observe({ type: 'element', buffered: true });
            setTimeout(() => done(null), 3000);
        })"""
    )


def test_an_agent_sees_the_trail_sla_and_a_recovery_block_first_paint_under_a_second(live_hub, page):
    case_id = one_problem_on_three_channels(live_hub)
    signed_in(live_hub, page)
    page.goto(f"{live_hub.url}/panel/zendesk/tickets/{case_id}")
    timing = first_trail_paint(page)
    print(f"\npanel first paint: {timing}")
    assert timing["trail_rendered_ms"] is not None
    if quiet_machine():
        assert timing["trail_rendered_ms"] < 1000

    expect(page.get_by_role("heading", level=1)).to_contain_text("Jane Doe")
    items = page.get_by_test_id("trail-item")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("Chat abandoned")
    expect(items.nth(1)).to_contain_text("SMS")
    expect(items.nth(2)).to_contain_text("Self-service")
    items.nth(0).get_by_text("Transcript").click()
    expect(items.nth(0).get_by_text("I was charged twice in October")).to_be_visible()
    clocks = page.get_by_test_id("sla-clock")
    expect(clocks.first).to_be_visible()
    expect(clocks.first).to_contain_text("due")
    block = page.get_by_test_id("recovery-block").filter(has_text="blocked")
    expect(block).to_be_visible()
    print(f"recovery block shown: {block.inner_text()}")
    expect(page.get_by_text("+1 ••• ••• 0100")).to_be_visible()

    for width, name in ((360, "panel-360.png"), (1000, "panel-1000.png")):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(_shot(name)), full_page=True)
    page.set_viewport_size({"width": 400, "height": 1000})  # a console side panel, for the README
    page.screenshot(path=str(_shot("panel-400.png")))


def _shot(name: str) -> Path:
    folder = Path("var/screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_a_new_event_appears_without_a_reload_within_five_seconds(live_hub, page):
    case_id = one_problem_on_three_channels(live_hub)
    signed_in(live_hub, page)
    page.goto(f"{live_hub.url}/panel/zendesk/tickets/{case_id}")
    expect(page.get_by_test_id("trail-item")).to_have_count(3)
    page.wait_for_timeout(500)  # let the first version poll record the ETag
    started = time.monotonic()
    post(
        live_hub,
        event_id="sms-2",
        source="twilio-sms",
        channel="sms",
        outcome="resolved",
        summary="Refund confirmed by text.",
    )
    assert live_hub.drain() == 1
    expect(page.get_by_test_id("trail-item")).to_have_count(4, timeout=20_000)
    delay = time.monotonic() - started
    print(f"\nlive update: {delay:.2f} s from posting the event to seeing it")
    if quiet_machine():
        assert delay < 5
    expect(page.get_by_text("Refund confirmed by text.")).to_be_visible()


def test_a_disposition_correction_reaches_the_sandbox_crm(live_hub, page):
    case_id = one_problem_on_three_channels(live_hub)
    signed_in(live_hub, page)
    page.goto(f"{live_hub.url}/panel/zendesk/tickets/{case_id}")
    chat = page.get_by_test_id("trail-item").nth(0)
    inbox_id = chat.get_attribute("data-inbox-id")
    page.locator("select#disposition-event").select_option(inbox_id)
    page.locator("select#disposition-code").select_option("CHAT_RESOLVED")
    page.get_by_label("Why (optional)").fill("Customer confirmed the refund in chat")
    page.get_by_role("button", name="Save disposition").click()
    expect(page.get_by_test_id("trail-item").nth(0)).to_contain_text("corrected")
    expect(page.get_by_test_id("trail-item").nth(0)).to_contain_text("Resolved in chat")
    ticket = requests.get(
        f"{live_hub.url}/sandbox/zendesk/api/v2/tickets/{case_id}.json",
        auth=("hub@sandbox.invalid/token", "sandbox-token"),
        timeout=10,
    ).json()["ticket"]
    assert {"id": 360000000001, "value": "ctihub_chat_resolved"} in ticket["custom_fields"]
    comments = requests.get(
        f"{live_hub.url}/sandbox/zendesk/api/v2/tickets/{case_id}/comments.json",
        auth=("hub@sandbox.invalid/token", "sandbox-token"),
        timeout=10,
    ).json()["comments"]
    agent = page.locator(".site-header__name").inner_text().strip()  # the sandbox's signed-in agent
    assert any(agent in c["body"] and "CHAT_RESOLVED" in c["body"] for c in comments)


def test_cancelling_follow_ups_asks_first_and_going_back_changes_nothing(live_hub, page):
    case_id = one_problem_on_three_channels(live_hub)
    # a second failure plans a new follow-up that is still pending
    post(live_hub, event_id="chat-2", channel="chat", outcome="abandoned", summary="Dropped again.")
    live_hub.drain()
    RecoveryService.for_hub(live_hub.hub).tick()
    signed_in(live_hub, page)
    page.goto(f"{live_hub.url}/panel/zendesk/tickets/{case_id}")
    cancel = page.get_by_role("button", name="Cancel follow-ups")
    cancel.click()
    dialog = page.locator("#panel-confirm")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Go back").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Cancel follow-ups")).to_be_visible()
    page.get_by_label("Reason", exact=True).fill("Customer asked us not to text")
    page.get_by_role("button", name="Cancel follow-ups").click()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("button", name="Cancel follow-ups")).to_have_count(0)
    expect(page.get_by_test_id("recovery-plan").last).to_contain_text("cancelled")


def test_a_screen_pop_offers_a_choice_between_two_records(live_hub, page):
    one_problem_on_three_channels(live_hub)
    post(
        live_hub,
        event_id="order-1",
        intent="order_status",
        channel="chat",
        outcome="abandoned",
        summary="Where is my order?",
    )
    live_hub.drain()
    signed_in(live_hub, page)
    page.goto(f"{live_hub.url}/panel/pop?phone=%2B14155550100")
    choices = page.get_by_test_id("pop-choices").get_by_role("listitem")
    expect(choices).to_have_count(2)
    expect(choices.first).to_contain_text("one of several open problems")
    choices.nth(1).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Jane Doe")
