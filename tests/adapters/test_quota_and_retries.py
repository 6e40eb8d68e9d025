"""In-call retries (tenacity, an injected sleep recording every wait), Retry-After honored exactly,
never calling before it, the Salesforce quota pause, and ``status()``. Nothing here sleeps."""

from __future__ import annotations

import random
from typing import Any

import pytest
import requests
import responses

from adapters.http import RetryPolicy
from adapters.salesforce import SalesforceCRM
from adapters.salesforce import build_crm as build_salesforce
from adapters.zendesk import ZendeskCRM
from adapters.zendesk import build_crm as build_zendesk
from hub.domain.errors import (
    CrmAuthExpired,
    CrmQuotaExhausted,
    CrmRecordRejected,
    CrmRetryable,
)
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import AdapterConfig
from tests.adapters.conftest import FakeTime

INSTANCE = "https://acme.my.salesforce.com"
CASE_URL = f"{INSTANCE}/services/data/v59.0/sobjects/Case/5005g00000AbCdEAAZ"
CASE_ID = "5005g00000AbCdEAAZ"
ZD_TICKET = "https://acme.zendesk.com/api/v2/tickets/4014.json"
QUOTA = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
CASE = {"Id": CASE_ID, "Status": "New", "IsClosed": False}


def ticket() -> dict[str, Any]:
    return {"ticket": {"id": 4014, "status": "open", "external_id": "ep_1"}}


@pytest.fixture
def policy(fake_time: FakeTime) -> RetryPolicy:
    return RetryPolicy(attempts=3, max_wait=5.0, budget=10.0, initial=0.5, jitter=0.5).with_sleep(
        fake_time.sleep, random.Random(7)
    )


@pytest.fixture
def salesforce(fake_time: FakeTime, policy: RetryPolicy, timeouts: tuple[float, float]) -> SalesforceCRM:
    built = build_salesforce(
        AdapterConfig(
            settings={"instance_url": INSTANCE, "access_token": "00DAcme!token"},
            mapping=CrmMapping(
                crm="salesforce", case=ObjectMapping(object="Case"), activity=ObjectMapping(object="Task")
            ),
        )
    )
    return SalesforceCRM(built.settings, None, timeout=timeouts, retry=policy, clock=fake_time)


@pytest.fixture
def zendesk(fake_time: FakeTime, policy: RetryPolicy, timeouts: tuple[float, float]) -> ZendeskCRM:
    built = build_zendesk(
        AdapterConfig(
            settings={"subdomain": "acme", "email": "a@acme.test", "api_token": "zd-secret"}, mapping=None
        )
    )
    return ZendeskCRM(built.settings, None, timeout=timeouts, retry=policy, clock=fake_time)


def stamped(fake_time: FakeTime, answers: list[dict[str, Any]]) -> tuple[list[float], Any]:
    """A responses callback answering ``answers`` in turn and noting the (fake) time of each call."""
    times: list[float] = []

    def answer(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        import json

        times.append(fake_time.now)
        item = answers[min(len(times), len(answers)) - 1]
        return item["status"], item.get("headers", {}), json.dumps(item.get("json", {}))

    return times, answer


# -- the policy on its own ----------------------------------------------------------------------------------


def test_retry_after_is_waited_exactly(fake_time: FakeTime, policy: RetryPolicy) -> None:
    outcomes: list[Any] = [CrmRetryable("busy", crm="x", status=429, retry_after=2.0), "done"]

    def attempt(number: int) -> str:
        outcome = outcomes[number - 1]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert policy.call(attempt) == "done"
    assert fake_time.waits == [2.0]  # exactly: no jitter added or taken away


def test_backoff_grows_with_bounded_jitter_and_gives_up_after_the_attempts(
    fake_time: FakeTime, policy: RetryPolicy
) -> None:
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise CrmRetryable("503", crm="x", status=503)

    with pytest.raises(CrmRetryable):
        policy.call(attempt)

    assert calls == [1, 2, 3]
    first, second = fake_time.waits
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 1.5  # initial * 2^n + up to 0.5 s of jitter


def test_jitter_is_bounded_over_many_draws() -> None:
    policy = RetryPolicy(initial=0.5, jitter=0.5, max_wait=5.0, rng=random.Random(1))
    error = CrmRetryable("x", crm="x")
    for attempt, low in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0)):
        waits = [policy.wait_for(error, attempt) for _ in range(200)]
        assert all(low <= w <= min(low + 0.5, 5.0) for w in waits), attempt


def test_a_long_retry_after_is_not_waited_here(fake_time: FakeTime, policy: RetryPolicy) -> None:
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise CrmRetryable("slow down", crm="x", status=429, retry_after=42.0)

    with pytest.raises(CrmRetryable) as caught:
        policy.call(attempt)

    assert calls == [1] and fake_time.waits == []
    assert caught.value.retry_after == 42.0  # the worker reschedules the event after it


@pytest.mark.parametrize(
    "error",
    [
        CrmRecordRejected("bad field", crm="x", status=400),
        CrmAuthExpired("expired", crm="x", status=401),
        CrmQuotaExhausted("quota", crm="x", status=403),
    ],
)
def test_only_retryable_failures_are_tried_again(
    fake_time: FakeTime, policy: RetryPolicy, error: Any
) -> None:
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise error

    with pytest.raises(type(error)):
        policy.call(attempt)
    assert calls == [1] and fake_time.waits == []


def test_the_waits_stay_within_the_budget(fake_time: FakeTime) -> None:
    policy = RetryPolicy(attempts=10, max_wait=5.0, budget=6.0).with_sleep(fake_time.sleep)
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise CrmRetryable("busy", crm="x", status=503, retry_after=4.0)

    with pytest.raises(CrmRetryable):
        policy.call(attempt)
    assert fake_time.waits == [4.0] and calls == [1, 2]  # a second 4 s wait would pass 6 s


def test_none_never_waits() -> None:
    calls: list[int] = []

    def attempt(number: int) -> None:
        calls.append(number)
        raise CrmRetryable("busy", crm="x", status=503, retry_after=0.1)

    with pytest.raises(CrmRetryable):
        RetryPolicy.none().call(attempt)
    assert calls == [1]


# -- the adapters under their policy ------------------------------------------------------------------------


def test_salesforce_retries_a_503_then_answers(
    mocked: responses.RequestsMock, salesforce: SalesforceCRM, fake_time: FakeTime, sent: Any
) -> None:
    mocked.get(CASE_URL, status=503, json=[{"message": "Server busy", "errorCode": "SERVER_UNAVAILABLE"}])
    mocked.get(CASE_URL, json=CASE)

    assert salesforce.get_case(CASE_ID) is not None
    assert len(sent()) == 2 and len(fake_time.waits) == 1 and 0.5 <= fake_time.waits[0] <= 1.0


def test_salesforce_retries_a_connection_reset(
    mocked: responses.RequestsMock, salesforce: SalesforceCRM, fake_time: FakeTime
) -> None:
    mocked.get(CASE_URL, body=requests.ConnectionError("Connection reset by peer"))
    mocked.get(CASE_URL, json=CASE)

    assert salesforce.get_case(CASE_ID) is not None
    assert len(mocked.calls) == 2 and len(fake_time.waits) == 1


def test_zendesk_honors_a_short_retry_after_exactly_and_calls_no_sooner(
    mocked: responses.RequestsMock, zendesk: ZendeskCRM, fake_time: FakeTime
) -> None:
    started = fake_time.now
    times, answer = stamped(
        fake_time,
        [
            {"status": 429, "headers": {"Retry-After": "3"}, "json": {"error": "APIRateLimitExceeded"}},
            {"status": 200, "json": ticket()},
        ],
    )
    mocked.add_callback(responses.GET, ZD_TICKET, callback=answer)

    assert zendesk.get_case("4014") is not None

    assert fake_time.waits == [3.0]
    assert times == [started, started + 3.0]  # the second call exactly when Retry-After allowed it


def test_after_a_long_retry_after_no_call_is_sent_before_it(
    mocked: responses.RequestsMock, zendesk: ZendeskCRM, fake_time: FakeTime
) -> None:
    mocked.get(ZD_TICKET, status=429, headers={"Retry-After": "42"}, json={"error": "APIRateLimitExceeded"})

    with pytest.raises(CrmRetryable) as first:
        zendesk.get_case("4014")
    assert first.value.retry_after == 42.0 and len(mocked.calls) == 1

    fake_time.now += 30
    with pytest.raises(CrmRetryable) as refused:
        zendesk.without_retries().get_case("4014")
    assert refused.value.retry_after == 12.0
    assert len(mocked.calls) == 1  # refused without sending
    assert zendesk.status()["state"] == "rate_limited"

    fake_time.now += 12
    mocked.replace(responses.GET, ZD_TICKET, json=ticket())
    assert zendesk.get_case("4014") is not None
    assert len(mocked.calls) == 2 and zendesk.status()["state"] == "ok"


def test_zendesk_retries_a_write_as_retrying_so_it_looks_before_writing_again(
    mocked: responses.RequestsMock, zendesk: ZendeskCRM, fake_time: FakeTime
) -> None:
    """A PUT whose answer was lost may have written the comment: the second try checks the marker."""
    from hub.ports import ActivityWrite

    key = "ev_" + "ab" * 16
    mocked.put(ZD_TICKET, body=requests.ReadTimeout("read timed out"))
    mocked.get(
        "https://acme.zendesk.com/api/v2/tickets/4014/comments.json",
        json={
            "comments": [{"id": 77, "body": f"x\n\n— CTI Hub · {key}", "public": False}],
            "next_page": None,
        },
    )

    result = zendesk.append_activity("4014", ActivityWrite(key=key, body="x"), retrying=False)

    assert [call.request.method for call in mocked.calls] == ["PUT", "GET"]  # no second PUT
    assert result.activity.id == "77" and result.activity.created is False
    assert len(fake_time.waits) == 1


def test_without_retries_sends_once_and_never_waits(
    mocked: responses.RequestsMock, salesforce: SalesforceCRM, fake_time: FakeTime
) -> None:
    mocked.get(CASE_URL, status=503, headers={"Retry-After": "1"}, body="busy")

    with pytest.raises(CrmRetryable) as caught:
        salesforce.without_retries().get_case(CASE_ID)

    assert caught.value.retry_after == 1.0
    assert len(mocked.calls) == 1 and fake_time.waits == []
    assert salesforce.retry.retries  # the original keeps its policy; the view shares the org


# -- the Salesforce quota -------------------------------------------------------------------------------


def test_request_limit_exceeded_pauses_every_call_without_sending(
    mocked: responses.RequestsMock, salesforce: SalesforceCRM, fake_time: FakeTime
) -> None:
    mocked.get(CASE_URL, status=403, json=QUOTA)
    started = fake_time.now

    with pytest.raises(CrmQuotaExhausted) as caught:
        salesforce.get_case(CASE_ID)

    assert caught.value.retry_after == 900.0 and caught.value.crm_code == "REQUEST_LIMIT_EXCEEDED"
    assert len(mocked.calls) == 1 and fake_time.waits == []  # not retried in the call
    status = salesforce.status()
    assert status["state"] == "quota_exhausted" and status["reason"] == "REQUEST_LIMIT_EXCEEDED"
    assert status["until"] is not None

    fake_time.now += 600
    for view in (salesforce, salesforce.without_retries()):
        with pytest.raises(CrmQuotaExhausted) as refused:
            view.get_case(CASE_ID)
        assert refused.value.retry_after == pytest.approx(300.0)
    assert len(mocked.calls) == 1  # nothing was sent while paused

    fake_time.now = started + 900  # the pause is over: one probe; the quota is still spent
    with pytest.raises(CrmQuotaExhausted) as again:
        salesforce.get_case(CASE_ID)
    assert again.value.retry_after == 1800.0  # doubled
    assert len(mocked.calls) == 2

    fake_time.now += 1800
    mocked.replace(
        responses.GET, CASE_URL, json=CASE, headers={"Sforce-Limit-Info": "api-usage=10018/100000"}
    )
    assert salesforce.get_case(CASE_ID) is not None
    status = salesforce.status()
    assert status["state"] == "ok" and status["until"] is None
    assert status["api_usage"] == {"used": 10018, "max": 100000}


def test_the_quota_pause_stops_doubling_at_two_hours(
    mocked: responses.RequestsMock, salesforce: SalesforceCRM, fake_time: FakeTime
) -> None:
    mocked.get(CASE_URL, status=403, json=QUOTA)
    pauses = []
    for _ in range(6):
        with pytest.raises(CrmQuotaExhausted) as caught:
            salesforce.get_case(CASE_ID)
        pauses.append(caught.value.retry_after)
        fake_time.now += caught.value.retry_after or 0
    assert pauses == [900.0, 1800.0, 3600.0, 7200.0, 7200.0, 7200.0]


def test_status_is_a_plain_dict_without_secrets(salesforce: SalesforceCRM, zendesk: ZendeskCRM) -> None:
    import json

    for crm, secret in ((salesforce, "00DAcme!token"), (zendesk, "zd-secret")):
        status = crm.status()
        assert status["state"] == "ok" and status["crm"] == crm.name
        assert secret not in json.dumps(status)
