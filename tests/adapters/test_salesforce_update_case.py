"""``SalesforceCRM.update_case``: one PATCH of the Case's fields (204 No Content), through the same
token, quota and retry machinery as every call, failures classified by the same table."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses

from adapters.salesforce import SalesforceCRM, build_crm
from hub.domain.errors import CrmError, CrmQuotaExhausted
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import AdapterConfig
from tests.adapters.test_salesforce import (
    CASE_ID,
    DATA,
    ERROR_CASES,
    INSTANCE,
    TOKEN,
    assert_headers,
    sf_errors,
)

KEY = "slaf_" + "0e" * 16
FIELDS = {"CTI_Hub_SLA_Due__c": "2026-11-25T16:55:00Z", "CTI_Hub_SLA_Status__c": "active"}


@pytest.fixture
def crm(timeouts: tuple[float, float]) -> SalesforceCRM:
    return build_crm(
        AdapterConfig(
            settings={"instance_url": INSTANCE, "access_token": TOKEN},
            mapping=CrmMapping(
                crm="salesforce",
                case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
                activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
            ),
            connect_timeout=timeouts[0],
            read_timeout=timeouts[1],
        )
    )


def test_update_case_patches_the_case_by_id(
    mocked: responses.RequestsMock, crm: SalesforceCRM, sent: Any
) -> None:
    mocked.patch(f"{DATA}/Case/{CASE_ID}", status=204)

    assert crm.update_case(CASE_ID, FIELDS, key=KEY) is None

    assert sent() == [("PATCH", f"{DATA}/Case/{CASE_ID}")]
    assert json.loads(mocked.calls[0].request.body) == FIELDS
    assert_headers(mocked.calls[0])


def test_a_cleared_due_time_is_null_and_keys_stay_out_of_the_body(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.patch(f"{DATA}/Case/{CASE_ID}", status=204)

    crm.update_case(
        CASE_ID,
        {
            "Id": CASE_ID,
            "CTI_Hub_Key__c": "ep_1",
            "CTI_Hub_SLA_Due__c": None,
            "CTI_Hub_SLA_Status__c": "paused",
        },
        key=KEY,
    )

    assert json.loads(mocked.calls[0].request.body) == {
        "CTI_Hub_SLA_Due__c": None,
        "CTI_Hub_SLA_Status__c": "paused",
    }


def test_the_case_id_is_one_url_segment(mocked: responses.RequestsMock, crm: SalesforceCRM) -> None:
    mocked.patch(f"{DATA}/Case/500%2F..%2FAccount", status=204)

    crm.update_case("500/../Account", FIELDS, key=KEY)

    assert mocked.calls[0].request.path_url == "/services/data/v59.0/sobjects/Case/500%2F..%2FAccount"


def test_no_fields_send_nothing(mocked: responses.RequestsMock, crm: SalesforceCRM) -> None:
    crm.update_case(CASE_ID, {"Id": CASE_ID}, key=KEY)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(("answer", "error", "status", "retry_after"), ERROR_CASES)
def test_failures_are_classified_by_the_table(
    mocked: responses.RequestsMock,
    crm: SalesforceCRM,
    answer: dict[str, Any],
    error: type[CrmError],
    status: int | None,
    retry_after: float | None,
) -> None:
    mocked.patch(f"{DATA}/Case/{CASE_ID}", **answer)

    with pytest.raises(CrmError) as caught:
        crm.without_retries().update_case(CASE_ID, FIELDS, key=KEY)

    assert type(caught.value) is error
    assert (caught.value.crm, caught.value.status, caught.value.retry_after) == (
        "salesforce",
        status,
        retry_after,
    )
    assert caught.value.__cause__ is not None
    assert TOKEN not in f"{caught.value} {caught.value.describe()}"
    assert len(mocked.calls) == 1


def test_a_retryable_failure_is_tried_again_inside_the_call(
    mocked: responses.RequestsMock, crm: SalesforceCRM, fake_time: Any
) -> None:
    mocked.patch(f"{DATA}/Case/{CASE_ID}", status=503, json=sf_errors("SERVER_UNAVAILABLE", "busy"))
    mocked.patch(f"{DATA}/Case/{CASE_ID}", status=204)

    crm.with_retries(crm.retry.with_sleep(fake_time.sleep)).update_case(CASE_ID, FIELDS, key=KEY)

    assert len(mocked.calls) == 2 and len(fake_time.waits) == 1


def test_an_exhausted_quota_pauses_the_adapter_for_this_call_too(
    mocked: responses.RequestsMock, crm: SalesforceCRM
) -> None:
    mocked.patch(
        f"{DATA}/Case/{CASE_ID}", status=403, json=sf_errors("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit")
    )

    with pytest.raises(CrmQuotaExhausted):
        crm.update_case(CASE_ID, FIELDS, key=KEY)
    with pytest.raises(CrmQuotaExhausted):  # refused at once, nothing sent
        crm.update_case(CASE_ID, FIELDS, key=KEY)

    assert len(mocked.calls) == 1
    assert crm.status()["state"] == "quota_exhausted"
