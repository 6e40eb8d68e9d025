"""The Twilio Messages API adapter, pinned with ``responses``: method, URL, form body, auth, errors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from adapters.sms.sandbox import SandboxSms
from adapters.sms.sandbox import build_sender as build_sandbox
from adapters.sms.twilio import TwilioSettings, TwilioSms, build_sender
from hub.domain.errors import (
    ConfigError,
    OutreachAuthFailed,
    OutreachRejected,
    OutreachRetryable,
    OutreachUncertain,
)
from hub.ports import OutreachConfig, SmsMessage

ACCOUNT = "AC" + "a" * 32
TOKEN = "auth-token-123"
URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
MESSAGE = SmsMessage(
    key="rc_" + "0" * 32,
    to="+12125550100",
    body="We saw your billing request didn't go through. Reply STOP to opt out.",
    not_before=datetime(2026, 11, 23, 15, 10, tzinfo=UTC),
)


def sender(**settings: str) -> TwilioSms:
    values = {"account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": "+15005550006", **settings}
    return build_sender(OutreachConfig(settings=values, connect_timeout=2.0, read_timeout=7.0))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def form(call) -> dict[str, list[str]]:
    return parse_qs(call.request.body)


@responses.activate
def test_send_posts_the_form_with_basic_auth_and_returns_the_sid():
    responses.post(URL, status=201, json={"sid": "SM" + "1" * 32, "status": "queued", "to": MESSAGE.to})
    receipt = sender(status_callback_url="https://hub.example.com/webhooks/twilio-sms").send(MESSAGE)
    assert (receipt.provider, receipt.id, receipt.status, receipt.found) == (
        "twilio",
        "SM" + "1" * 32,
        "queued",
        False,
    )
    [call] = responses.calls
    assert call.request.method == "POST" and call.request.url == URL
    assert call.request.headers["Authorization"] == basic(ACCOUNT, TOKEN)
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(call) == {
        "To": ["+12125550100"],
        "Body": [MESSAGE.body],
        "From": ["+15005550006"],
        "StatusCallback": ["https://hub.example.com/webhooks/twilio-sms"],
    }


@responses.activate
def test_a_messaging_service_and_an_api_key():
    responses.post(URL, status=201, json={"sid": "SM" + "2" * 32, "status": "accepted"})
    twilio = sender(
        from_number="",
        messaging_service_sid="MG" + "b" * 32,
        api_key_sid="SK" + "c" * 32,
        api_key_secret="s3cret",
    )
    twilio.send(MESSAGE)
    [call] = responses.calls
    assert call.request.headers["Authorization"] == basic("SK" + "c" * 32, "s3cret")
    assert form(call) == {
        "To": [MESSAGE.to],
        "Body": [MESSAGE.body],
        "MessagingServiceSid": ["MG" + "b" * 32],
    }


def test_every_request_has_the_timeout():
    seen = {}

    class Session(requests.Session):
        def request(self, method, url, **kwargs):
            seen.update(kwargs)
            raise requests.ConnectTimeout("slow")

    settings = TwilioSettings.from_settings(
        {"account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": "+1"}
    )
    twilio = TwilioSms(settings, session=Session(), timeout=(2.0, 7.0))
    with pytest.raises(OutreachRetryable):
        twilio.send(MESSAGE)
    assert seen["timeout"] == (2.0, 7.0)


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "opted_out"),
    [
        (
            400,
            {"code": 21610, "message": "Attempt to send to unsubscribed recipient"},
            {},
            OutreachRejected,
            True,
        ),
        (
            400,
            {"code": 21211, "message": "The 'To' number is not a valid phone number."},
            {},
            OutreachRejected,
            False,
        ),
        (401, {"code": 20003, "message": "Authenticate"}, {}, OutreachAuthFailed, None),
        (
            429,
            {"code": 20429, "message": "Too Many Requests"},
            {"Retry-After": "30"},
            OutreachRetryable,
            None,
        ),
        (500, {"code": 20500, "message": "Internal Server Error"}, {}, OutreachUncertain, None),
        (503, "<html>down</html>", {}, OutreachUncertain, None),
    ],
)
@responses.activate
def test_errors_are_translated_by_what_to_do(status, body, headers, error, opted_out):
    if isinstance(body, dict):
        responses.post(URL, status=status, json={**body, "status": status}, headers=headers)
    else:
        responses.post(URL, status=status, body=body, headers=headers)
    with pytest.raises(error) as raised:
        sender().send(MESSAGE)
    assert raised.value.provider == "twilio" and raised.value.status == status
    if opted_out is not None:
        assert raised.value.opted_out is opted_out
    if status == 429:
        assert raised.value.retry_after == 30.0


@responses.activate
def test_a_read_timeout_is_uncertain_and_a_refused_connection_retryable():
    responses.post(URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(OutreachUncertain):
        sender().send(MESSAGE)
    responses.replace(responses.POST, URL, body=requests.ConnectionError("[Errno 111] Connection refused"))
    with pytest.raises(OutreachRetryable):
        sender().send(MESSAGE)


@responses.activate
def test_a_201_without_a_sid_is_uncertain():
    responses.post(URL, status=201, json={"status": "queued"})
    with pytest.raises(OutreachUncertain):
        sender().send(MESSAGE)


@responses.activate
def test_find_lists_outbound_messages_to_the_number_and_follows_pages():
    page2 = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json?To=%2B12125550100&Page=1&PageToken=PA1"
    responses.get(
        URL,
        match=[
            responses.matchers.query_param_matcher(
                {"To": "+12125550100", "DateSent>": "2026-11-22", "PageSize": "50"}
            )
        ],
        json={
            "messages": [
                {"sid": "SMin", "to": "+12125550100", "body": MESSAGE.body, "direction": "inbound",
                 "date_created": "Mon, 23 Nov 2026 15:10:05 +0000"},
                {"sid": "SMold", "to": "+12125550100", "body": MESSAGE.body, "direction": "outbound-api",
                 "date_created": "Sun, 22 Nov 2026 15:10:05 +0000"},
                {"sid": "SMother", "to": "+12125550100", "body": "another text", "direction": "outbound-api",
                 "date_created": "Mon, 23 Nov 2026 15:10:05 +0000"},
            ],
            "next_page_uri": page2,
        },
    )  # fmt: skip
    responses.get(
        "https://api.twilio.com" + page2,
        json={
            "messages": [
                {"sid": "SMours", "to": "+12125550100", "body": MESSAGE.body, "direction": "outbound-api",
                 "status": "delivered", "date_created": "Mon, 23 Nov 2026 15:10:02 +0000"},
            ],
            "next_page_uri": None,
        },
    )  # fmt: skip
    found = sender().find(MESSAGE)
    assert (found.id, found.status, found.found) == ("SMours", "delivered", True)
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]
    assert all(c.request.headers["Authorization"] == basic(ACCOUNT, TOKEN) for c in responses.calls)
    assert urlsplit(responses.calls[0].request.url).path == urlsplit(URL).path


@pytest.mark.parametrize(
    "next_uri",
    [
        "https://evil.example/2010-04-01/Accounts/{account}/Messages.json?Page=1",
        "//evil.example/2010-04-01/Accounts/{account}/Messages.json",
        "/2010-04-01/Accounts/ACother/Messages.json?Page=1",
        "/2010-04-01/Accounts/{account}/Messages/../../../Calls.json",
        "/2010-04-01/Accounts/{account}/Messages.json\\@evil.example",
        42,
    ],
)
@responses.activate
def test_find_follows_pages_only_under_the_account_on_twilios_host(next_uri):
    nxt = next_uri.format(account=ACCOUNT) if isinstance(next_uri, str) else next_uri
    responses.get(URL, json={"messages": [], "next_page_uri": nxt})
    with pytest.raises(OutreachRetryable, match="next_page_uri"):
        sender().find(MESSAGE)
    assert len(responses.calls) == 1  # the credentials went nowhere else


@responses.activate
def test_find_answers_none_when_nothing_was_sent_and_retryable_on_5xx():
    responses.get(URL, json={"messages": [], "next_page_uri": None})
    assert sender().find(MESSAGE) is None
    responses.replace(responses.GET, URL, status=500, json={"code": 20500, "message": "oops"})
    with pytest.raises(OutreachRetryable):
        sender().find(MESSAGE)


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"account_sid": "nope", "auth_token": "t", "from_number": "+1"}, "CTIHUB_TWILIO_ACCOUNT_SID"),
        ({"account_sid": ACCOUNT, "from_number": "+1"}, "CTIHUB_TWILIO_AUTH_TOKEN"),
        ({"account_sid": ACCOUNT, "auth_token": "t"}, "CTIHUB_TWILIO_FROM_NUMBER"),
        ({"account_sid": ACCOUNT, "api_key_sid": "SKx", "from_number": "+1"}, "CTIHUB_TWILIO_API_KEY_SID"),
        ({"account_sid": ACCOUNT, "auth_token": "t", "messaging_service_sid": "XX1"},
         "CTIHUB_TWILIO_MESSAGING_SERVICE_SID"),
        ({"account_sid": ACCOUNT, "auth_token": "t", "from_number": "+1", "api_base_url": "http://x"},
         "CTIHUB_TWILIO_API_BASE_URL"),
    ],
)  # fmt: skip
def test_settings_are_checked_and_secrets_never_shown(settings, problem):
    with pytest.raises(ConfigError) as raised:
        TwilioSettings.from_settings(settings)
    assert problem in [p.path for p in raised.value.problems]
    good = TwilioSettings.from_settings({"account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": "+1"})
    assert TOKEN not in repr(good)


def test_the_sandbox_records_and_finds_without_sending():
    sandbox = build_sandbox(OutreachConfig(settings={}))
    assert isinstance(sandbox, SandboxSms)
    receipt = sandbox.send(MESSAGE)
    assert sandbox.find(MESSAGE).id == receipt.id and sandbox.find(MESSAGE).found
    assert [m.to for m in sandbox.sent_to(MESSAGE.to)] == [MESSAGE.to]
    sandbox.fail_next.append(OutreachRetryable("down", provider="sandbox"))
    with pytest.raises(OutreachRetryable):
        sandbox.send(MESSAGE)


def test_the_entry_points_are_installed():
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="cti_hub.outreach")}
    assert found == {
        "twilio": "adapters.sms.twilio:build_sender",
        "sandbox": "adapters.sms.sandbox:build_sender",
    }
