"""The Open CTI host against a stand-in opencti_min.js that checks the documented argument shapes."""

from __future__ import annotations

CASE_1 = {"crm": "salesforce", "object": "Case", "id": "500000000000001AAA"}
CASE_2 = {"crm": "salesforce", "object": "Case", "id": "500000000000002AAA"}


def calls(page, method):
    return [call["args"] for call in page.evaluate("__opencti.calls") if call["method"] == method]


def test_loads_opencti_from_the_orgs_domain_and_follows_navigation(page, consoles, open_panel):
    state = open_panel(consoles.panel_url("opencti", sfdcIFrameOrigin=consoles.console.url))
    assert state == {"ready": True, "error": None, "host": "opencti"}
    page.wait_for_function("() => __panel.current !== undefined")
    assert page.evaluate("__panel.current") == CASE_1
    assert calls(page, "getAppViewInfo") == [{"callback": "<function>"}]
    assert calls(page, "onNavigationChange") == [{"listener": "<function>"}]

    page.evaluate(
        "__opencti.navigate({url: '/lightning/r/Case/500000000000002AAA/view',"
        " recordId: '500000000000002AAA', recordName: '00001002', objectType: 'Case'})"
    )
    page.evaluate(
        "__opencti.navigate({url: '/lightning/r/Case/500000000000002AAA/view',"
        " recordId: '500000000000002AAA', objectType: 'Case'})"
    )  # same record: no change
    page.evaluate("__opencti.navigate({url: '/lightning/o/Case/list'})")  # a list view: no record
    assert page.evaluate("__panel.records") == [CASE_2, None]
    assert page.evaluate("__opencti.violations") == []
    assert page.page_errors == []


def test_pop_save_log_and_resize_call_open_cti_with_the_documented_shapes(page, consoles, open_panel):
    open_panel(consoles.panel_url("opencti", sfdcIFrameOrigin=consoles.console.url))

    page.evaluate("__panel.bridge.pop({crm: 'salesforce', object: 'Case', id: '500000000000003AAA'})")
    assert calls(page, "screenPop") == [
        {"type": "sobject", "params": {"recordId": "500000000000003AAA"}, "callback": "<function>"}
    ]
    page.evaluate("__panel.bridge.pop({search: 'Jane Roe'})")
    assert calls(page, "searchAndScreenPop") == [
        {
            "searchParams": "Jane Roe",
            "queryParams": "",
            "callType": "inbound",
            "deferred": False,
            "callback": "<function>",
        }
    ]

    saved = page.evaluate(
        "__panel.bridge.saveLog({Subject: 'Chat: resolved', CallDisposition: 'RESOLVED',"
        " WhatId: '500000000000001AAA', entityApiName: 'Account', Id: '001000000000001AAA', OwnerId: 'x'})"
    )
    assert saved == {"saved": True, "id": "00T00000000000101A"}
    assert calls(page, "saveLog") == [
        {
            "value": {
                "entityApiName": "Task",
                "Subject": "Chat: resolved",
                "CallDisposition": "RESOLVED",
                "WhatId": "500000000000001AAA",
            },
            "callback": "<function>",
        }
    ]

    page.evaluate("__panel.bridge.resize(700)")
    page.evaluate("__panel.bridge.resize(100)")  # below Open CTI's minimum of 240
    assert calls(page, "setSoftphonePanelHeight") == [
        {"heightPX": 700, "callback": "<function>"},
        {"heightPX": 240, "callback": "<function>"},
    ]
    assert page.evaluate("__opencti.violations") == []


def test_a_failed_open_cti_call_rejects_with_salesforces_error(page, consoles, open_panel):
    open_panel(consoles.panel_url("opencti", sfdcIFrameOrigin=consoles.console.url))
    page.evaluate("window.sforce.opencti.SCREENPOP_TYPE = {SOBJECT: 'not-a-type'}")
    error = page.evaluate(
        "__panel.bridge.pop({crm: 'salesforce', id: '500000000000003AAA'}).then(() => null, e => e.message)"
    )
    assert error == "Open CTI screenPop failed: type must be a sforce.opencti.SCREENPOP_TYPE value"


def test_refuses_an_sfdc_origin_that_is_not_configured(page, consoles, open_panel):
    state = open_panel(consoles.panel_url("opencti", sfdcIFrameOrigin="https://evil.example.com"))
    assert state["ready"] is False
    assert state["error"]["code"] == "origin"
    assert "evil.example.com" in state["error"]["message"]
    assert page.evaluate("typeof window.sforce") == "undefined"


def test_without_configured_origins_only_salesforce_domains_are_trusted(page, consoles, open_panel):
    consoles.host_origins = None  # no data-host-origins: the platform's own https domains only
    state = open_panel(consoles.panel_url("opencti", sfdcIFrameOrigin=consoles.console.url))
    assert state["error"]["code"] == "origin"
    assert page.evaluate("HubBridge.originMatches('https://acme.lightning.force.com', 'https://*.force.com')")
    assert not page.evaluate("HubBridge.originMatches('https://force.com.evil.io', 'https://*.force.com')")
    assert not page.evaluate(
        "HubBridge.originMatches('http://acme.lightning.force.com', 'https://*.force.com')"
    )
