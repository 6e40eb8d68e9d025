"""The Zendesk host: against a stand-in ZAFClient, and with the vendored SDK against a stand-in
Zendesk that speaks the SDK's postMessage protocol across origins."""

from __future__ import annotations

from urllib.parse import quote

TICKET = {"crm": "zendesk", "object": "ticket", "id": "4242"}


def zaf_calls(page, method):
    return [call["args"] for call in page.evaluate("__zaf.calls") if call["method"] == method]


def test_reads_the_open_ticket_and_follows_a_new_ticket_once_submitted(page, consoles, open_panel):
    state = open_panel(consoles.panel_url("zaf", fake="zaf", origin=consoles.console.url, app_guid="g1"))
    assert state == {"ready": True, "error": None, "host": "zaf"}
    page.wait_for_function("() => __panel.current !== undefined")
    assert page.evaluate("__panel.current") == TICKET
    assert ["ticket.id"] in zaf_calls(page, "get")
    subscribed = {args[0] for args in zaf_calls(page, "on")}
    assert {"app.registered", "app.activated", "ticket.saved", "ticket.submit.done"} <= subscribed

    page.evaluate("__zaf.data['ticket.id'] = 4343; __zaf.fire('ticket.submit.done', {})")
    page.wait_for_function("() => __panel.records.length === 1")
    assert page.evaluate("__panel.records") == [{"crm": "zendesk", "object": "ticket", "id": "4343"}]
    assert page.evaluate("__zaf.violations") == []
    assert page.page_errors == []


def test_pop_and_resize_invoke_the_documented_zaf_actions(page, consoles, open_panel):
    open_panel(consoles.panel_url("zaf", fake="zaf", origin=consoles.console.url, app_guid="g1"))
    page.evaluate("__panel.bridge.pop({crm: 'zendesk', object: 'ticket', id: 77})")
    page.evaluate("__panel.bridge.pop({crm: 'zendesk', object: 'user', id: '381'})")
    page.evaluate("__panel.bridge.resize(480)")
    assert zaf_calls(page, "invoke") == [
        ["routeTo", "ticket", "77"],
        ["routeTo", "user", "381"],
        ["resize", {"width": "100%", "height": "480px"}],
    ]
    assert page.evaluate("__panel.bridge.saveLog({Subject: 'x'})") == {
        "saved": False,
        "reason": "Zendesk tickets are updated by the hub, not through the app",
    }
    assert page.evaluate("__zaf.violations") == []


def test_refuses_an_origin_that_is_not_a_configured_zendesk_domain(consoles, open_panel):
    state = open_panel(
        consoles.panel_url("zaf", fake="zaf", origin="https://evil.example.com", app_guid="g1")
    )
    assert state["error"]["code"] == "origin"


def test_vendored_sdk_speaks_zendesks_protocol_across_origins(page, consoles, open_framed):
    panel = consoles.panel_url("zaf", origin=consoles.console.url, app_guid="guid-1")
    frame = open_framed(f"{consoles.console.url}/hosts/zendesk-host.html?panel={quote(panel, safe='')}")
    assert frame.evaluate("__panel.error") is None
    assert frame.evaluate("typeof window.ZAFClient.init") == "function"  # the vendored SDK, not a fake
    frame.wait_for_function("() => __panel.current !== undefined")
    assert frame.evaluate("__panel.current") == TICKET
    handshake = page.evaluate("__zendesk.received[0]")
    assert handshake["key"] == "iframe.handshake"
    assert handshake["appGuid"] == "guid-1"

    page.evaluate("__zendesk.ticketId = 5050; __zendesk.fire('ticket.saved')")
    frame.wait_for_function("() => __panel.records.some(r => r && r.id === '5050')")
    # app.registered may have reported the first ticket too, before currentRecord() answered
    assert frame.evaluate("__panel.records")[-1] == {"crm": "zendesk", "object": "ticket", "id": "5050"}

    frame.evaluate("__panel.bridge.pop({crm: 'zendesk', object: 'ticket', id: '77'})")
    frame.evaluate("__panel.bridge.resize(500)")
    assert page.evaluate("__zendesk.invoked") == [
        {"routeTo": ["ticket", "77"]},
        {"resize": [{"width": "100%", "height": "500px"}]},
    ]
    assert "ticket.saved" in page.evaluate("__zendesk.subscribed")


def test_the_frame_keeps_zendesks_parameters_when_the_panel_moves_to_the_ticket(page, consoles, open_framed):
    panel = consoles.panel_url("zaf", origin=consoles.console.url, app_guid="guid-1")
    frame = open_framed(f"{consoles.console.url}/hosts/zendesk-host.html?panel={quote(panel, safe='')}")
    frame.wait_for_function("() => __panel.current !== undefined")
    # What the panel does once it knows the ticket: a URL without Zendesk's origin and app_guid.
    frame.evaluate("location.assign('/hosts/panel?host=zaf&ticket=4242')")
    frame.wait_for_url("**ticket=4242**")
    frame.wait_for_function("() => window.__panel && __panel.current !== undefined")
    assert frame.evaluate("__panel.error") is None
    assert frame.evaluate("__panel.current") == TICKET
    handshakes = [m for m in page.evaluate("__zendesk.received") if m.get("key") == "iframe.handshake"]
    assert [m["appGuid"] for m in handshakes] == ["guid-1", "guid-1"]


def test_a_page_without_zendesks_parameters_is_refused(consoles, open_panel):
    state = open_panel(consoles.panel_url("zaf"))
    assert state["error"] == {
        "message": "Zendesk: origin null is not a configured Zendesk domain",
        "code": "origin",
    }
