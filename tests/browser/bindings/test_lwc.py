"""The LWC host against the package's real ctiHubPanel component (platform modules shimmed),
the component on the console's origin and the panel on the hub's."""

from __future__ import annotations

from urllib.parse import urlencode

CASE_1 = "500000000000001AAA"
CASE_2 = "500000000000002AAA"


def lwc_url(consoles, **query):
    return f"{consoles.console.url}/hosts/lwc-host.html?{urlencode(query)}"


def lwc_calls(page, call):
    return [item for item in page.evaluate("window.__lwcCalls || []") if item["call"] == call]


def test_record_page_frames_the_cases_panel_and_tells_it_the_record(page, consoles, open_framed):
    frame = open_framed(lwc_url(consoles, recordId=CASE_1))
    assert frame.url == f"{consoles.hub.url}/panel/salesforce/cases/{CASE_1}?host=lwc"
    frame.wait_for_function("() => __panel.current !== undefined")
    assert frame.evaluate("__panel.current") == {"crm": "salesforce", "object": "Case", "id": CASE_1}
    assert page.page_errors == []


def test_utility_bar_follows_the_record_the_agent_opens(page, consoles, open_framed):
    frame = open_framed(lwc_url(consoles, mode="utility", recordId=CASE_1, object="Case"))
    frame.wait_for_function("() => __panel.current !== undefined")
    page.evaluate(f"__lwc.navigate('{CASE_2}', 'Case')")
    frame.wait_for_function(f"() => __panel.records.some(r => r && r.id === '{CASE_2}')")
    assert frame.evaluate("__panel.records")[-1] == {"crm": "salesforce", "object": "Case", "id": CASE_2}
    assert frame.url.endswith(f"/cases/{CASE_1}?host=lwc")  # followed by message, not by reloading


def test_pop_navigates_with_navigation_mixin(page, consoles, open_framed):
    frame = open_framed(lwc_url(consoles, recordId=CASE_1))
    frame.evaluate(f"__panel.bridge.pop({{crm: 'salesforce', object: 'Case', id: '{CASE_2}'}})")
    assert lwc_calls(page, "navigate") == [
        {
            "call": "navigate",
            "pageReference": {
                "type": "standard__recordPage",
                "attributes": {"recordId": CASE_2, "actionName": "view", "objectApiName": "Case"},
            },
            "replace": False,
        }
    ]
    error = frame.evaluate(
        "__panel.bridge.pop({crm: 'salesforce', id: 'not an id'}).then(() => null, e => e.message)"
    )
    assert error == "LWC: pop needs a Salesforce record id"


def test_save_log_creates_a_task_on_the_record_with_allowed_fields_only(page, consoles, open_framed):
    frame = open_framed(lwc_url(consoles, recordId=CASE_1))
    result = frame.evaluate(
        "__panel.bridge.saveLog({Subject: 'SMS: callback planned', CallDisposition: 'RECOVERY_PLANNED',"
        " OwnerId: '005000000000001AAA'})"
    )
    assert result == {"saved": True, "id": "00T000000000001AAA"}
    assert lwc_calls(page, "createRecord") == [
        {
            "call": "createRecord",
            "recordInput": {
                "apiName": "Task",
                "fields": {
                    "Subject": "SMS: callback planned",
                    "CallDisposition": "RECOVERY_PLANNED",
                    "WhatId": CASE_1,
                },
            },
        }
    ]


def test_resize_sets_the_frame_height_within_bounds(page, consoles, open_framed):
    frame = open_framed(lwc_url(consoles, recordId=CASE_1))
    frame.evaluate("__panel.bridge.resize(720)")
    page.wait_for_function("() => __lwc.frameHeight() === 720")
    frame.evaluate("__panel.bridge.resize(40)")
    page.wait_for_function("() => __lwc.frameHeight() === 240")


def test_panel_ignores_a_parent_whose_origin_is_not_configured(page, consoles, open_framed):
    consoles.host_origins = "https://acme.lightning.force.com"
    frame = open_framed(lwc_url(consoles, recordId=CASE_1))
    page.evaluate("__lwc.component.handleFrameLoad()")  # the component posts the record again
    frame.wait_for_function("() => __panel.seen.some(m => m.data && m.data.type === 'ctihub:record')")
    assert frame.evaluate("__panel.records") == []
    pending = frame.evaluate(
        "Promise.race([__panel.bridge.pop({crm: 'salesforce', id: '" + CASE_2 + "'}).then(() => 'answered'),"
        " new Promise(r => requestAnimationFrame(() => r('unanswered')))])"
    )
    assert pending == "unanswered"
    assert lwc_calls(page, "navigate") == []


def test_component_ignores_messages_from_other_origins_and_versions(page, consoles, open_framed):
    frame = open_framed(lwc_url(consoles, recordId=CASE_1))
    page.evaluate(
        "window.postMessage({type: 'ctihub:pop', v: 1, requestId: 'from-console',"
        f" record: {{id: '{CASE_2}'}}}}, '*')"
    )
    page.wait_for_function("() => __lwc.seen.some(m => m.data && m.data.requestId === 'from-console')")
    frame.evaluate(
        "parent.postMessage({type: 'ctihub:pop', v: 2, requestId: 'v2', record: {id: '" + CASE_2 + "'}}, '*')"
    )
    page.wait_for_function("() => __lwc.seen.some(m => m.data && m.data.requestId === 'v2')")
    assert lwc_calls(page, "navigate") == []
