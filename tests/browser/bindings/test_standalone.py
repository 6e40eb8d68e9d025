"""Without a console host the bridge resolves and does nothing; an unknown host is refused."""

from __future__ import annotations


def test_standalone_bridge_resolves_and_does_nothing(page, consoles, open_panel):
    assert open_panel(consoles.panel_url("")) == {"ready": True, "error": None, "host": None}
    page.wait_for_function("() => __panel.current !== undefined")
    assert page.evaluate("__panel.current") is None
    assert page.evaluate("__panel.bridge.pop({crm: 'zendesk', object: 'ticket', id: '1'})") is None
    assert page.evaluate("__panel.bridge.resize(300)") is None
    assert page.evaluate("__panel.bridge.saveLog({Subject: 'x'})") == {
        "saved": False,
        "reason": "no console host",
    }
    loaded = page.evaluate("performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)")
    assert not [path for path in loaded if path.startswith("/static/bridge/")]


def test_unknown_host_and_bad_arguments_are_refused(page, consoles, open_panel):
    state = open_panel(consoles.panel_url("teams"))
    assert state["error"] == {"message": 'unknown console host "teams"', "code": "host"}
    open_panel(consoles.panel_url(""))
    assert page.evaluate("__panel.bridge.pop({}).then(() => null, e => e.code)") == "argument"
    assert page.evaluate("__panel.bridge.resize(-5).then(() => null, e => e.code)") == "argument"
    assert page.evaluate("__panel.bridge.saveLog([1]).then(() => null, e => e.code)") == "argument"
