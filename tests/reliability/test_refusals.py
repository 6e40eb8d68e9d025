"""A call refused because the account's Retry-After has not passed costs nothing on its first try,
but is charged on a later try of the same call: an earlier try may have landed, and a free release
would send the next attempt as a first one (``retrying=False``), which does not look first."""

from __future__ import annotations

import pytest
import requests
import responses

from adapters.http import RetryPolicy
from adapters.zendesk import build_crm
from hub.domain.errors import CrmRetryable, CrmWriteNotSent
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import ActivityWrite, AdapterConfig

API = "https://acme.zendesk.com/api/v2"
SETTINGS = {"subdomain": "acme", "email": "hub@acme.test", "api_token": "token"}
MAPPING = CrmMapping(
    crm="zendesk", case=ObjectMapping(object="ticket"), activity=ObjectMapping(object="comment")
)
ACTIVITY = ActivityWrite(key="ev_" + "1" * 32, body="SMS · follow-up")


def adapter(now: list[float]):
    crm = build_crm(AdapterConfig(settings=SETTINGS, mapping=MAPPING))
    crm.clock = lambda: now[0]
    return crm


def test_a_first_try_refused_for_retry_after_is_not_sent() -> None:
    now = [1_000.0]
    crm = adapter(now)
    crm.note_failure(CrmRetryable("429", crm="zendesk", status=429, retry_after=60))
    with responses.RequestsMock(), pytest.raises(CrmWriteNotSent) as caught:
        crm.append_activity("4014", ACTIVITY, retrying=False)
    assert caught.value.retry_after == pytest.approx(60)


def test_a_later_try_refused_for_retry_after_is_charged() -> None:
    now = [1_000.0]
    crm = adapter(now)

    def meanwhile_rate_limited(_seconds: float) -> None:  # another call of the account met a 429
        crm.note_failure(CrmRetryable("429", crm="zendesk", status=429, retry_after=60))

    crm.retry = RetryPolicy(attempts=2, sleep=meanwhile_rate_limited)
    with responses.RequestsMock() as mocked:
        mocked.put(f"{API}/tickets/4014.json", body=requests.ReadTimeout("read timed out"))
        with pytest.raises(CrmRetryable) as caught:
            crm.append_activity("4014", ACTIVITY, retrying=False)
    # The PUT timed out once (the mock insists it was sent, and registered it once only: a second
    # PUT would have failed the test as unregistered); the refused second try is charged.
    assert type(caught.value) is CrmRetryable
    assert "no calls until" in caught.value.message


def test_a_batch_held_back_by_retry_after_sends_nothing_and_charges_no_one() -> None:
    from hub.ports import BatchWrite

    now = [1_000.0]
    crm = adapter(now)
    crm.note_failure(CrmRetryable("429", crm="zendesk", status=429, retry_after=60))
    writes = [
        BatchWrite(case_id=str(4014 + n), activity=ActivityWrite(key=f"ev_{n:032x}", body="SMS"))
        for n in range(3)
    ]
    with responses.RequestsMock():  # any request would fail the test: none is registered
        results = crm.write_batch(writes)
    assert [type(r) for r in results] == [CrmWriteNotSent] * 3
    assert all(r.retry_after == pytest.approx(60) for r in results)  # type: ignore[union-attr]
