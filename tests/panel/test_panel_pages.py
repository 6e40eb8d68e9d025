"""The panel's pages: rendered server-side from the same data, accessible headings, host wiring."""

from __future__ import annotations

import re

import pytest

from tests.panel.conftest import make_world


def test_the_page_renders_the_panel_in_its_first_response(world):
    case_id = world.three_channels()
    page = world.client().get(world.page(case_id) + "?host=zaf")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r"<h1[^>]*>Jane Doe", html)
    for heading in ("Trail", "SLA", "Follow-ups", "Parallel cases", "Disposition", "Resolve"):
        assert re.search(rf"<h2[^>]*>{heading}", html), heading
    assert html.count('data-testid="trail-item"') == 3
    assert 'data-host="zaf"' in html
    assert "<details" in html and "I was charged twice" in html
    assert 'id="panel-confirm"' in html  # the confirmation dialog of irreversible actions
    assert "+1 ••• ••• 0100" in html and "555-0100" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "<script>" not in html  # no inline scripts


def test_an_unknown_host_is_ignored_and_the_fragment_is_the_body_alone(world):
    case_id = world.three_channels()
    html = world.client().get(world.page(case_id) + "?host=evil").get_data(as_text=True)
    assert 'data-host=""' in html
    fragment = world.client().get(world.page(case_id) + "?fragment=1").get_data(as_text=True)
    assert "<html" not in fragment and 'data-testid="trail-item"' in fragment


def test_a_ticket_without_hub_activity_gets_a_calm_page(world):
    html = world.client().get("/panel/zendesk/tickets/4242").get_data(as_text=True)
    assert "No hub activity for this ticket yet" in html


def test_the_bridge_script_is_included_only_when_bridge_js_exists(world, tmp_path):
    case_id = world.three_channels()
    world.app.static_folder = str(tmp_path)
    (tmp_path / "panel.js").write_text("")
    assert "bridge.js" not in world.client().get(world.page(case_id)).get_data(as_text=True)
    (tmp_path / "bridge.js").write_text("")
    assert "bridge.js" in world.client().get(world.page(case_id)).get_data(as_text=True)


@pytest.mark.parametrize("path", ["/panel", "/panel/zendesk?host=zaf", "/panel/salesforce?host=opencti"])
def test_entry_pages_explain_or_ask_the_console(world, path):
    html = world.client().get(path).get_data(as_text=True)
    assert "<h1" in html and "panel.js" in html
    if "host=" in path:
        assert "Finding the record open in your console" in html


def test_the_standalone_entry_form_opens_a_record_by_id(world):
    answer = world.client().get("/panel?crm=salesforce&id=500xx0000001")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(
        "/panel/salesforce/cases/500xx0000001"
    )


def test_a_sandbox_browser_without_a_session_is_signed_in_and_returned(sqlite_engine):
    world = make_world(sqlite_engine, "salesforce", sandbox=True)
    try:
        client = world.app.test_client()
        answer = client.get("/panel/salesforce/cases/500000000000001", follow_redirects=True)
        assert answer.status_code == 200
        assert "No hub activity for this case yet" in answer.get_data(as_text=True)
    finally:
        world.hub.sandbox.reset()
