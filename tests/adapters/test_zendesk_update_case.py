"""``ZendeskCRM.update_case``: the ticket's mapped fields alone, one PUT without a comment, its body
checked against the Zendesk Support OAS, failures classified by the same table as every other call."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses

from adapters.zendesk import ZendeskCRM, build_crm
from hub.domain.errors import CrmError, CrmRecordRejected
from hub.domain.mapping import CrmMapping, ObjectMapping
from tests.adapters.test_zendesk import API, ERROR_CASES, TICKET_ID, _check, assert_auth, config, ticket

KEY = "slaf_" + "0e" * 16
DUE_FIELD = "custom_fields.360000000005"


@pytest.fixture(autouse=True)
def _every_request_matches_the_oas(mocked: responses.RequestsMock, zendesk_oas: Any) -> Iterator[None]:
    yield
    for call in mocked.calls:
        zendesk_oas(call)


@pytest.fixture
def crm(timeouts: tuple[float, float]) -> ZendeskCRM:
    mapping = CrmMapping(
        crm="zendesk",
        case=ObjectMapping(object="ticket", key_field="external_id"),
        activity=ObjectMapping(object="comment"),
    )
    return build_crm(config(mapping, timeouts))


def updated(**extra: Any) -> dict[str, Any]:
    """An update without a comment answers the ticket and an audit of Change events only."""
    return {
        "ticket": ticket(status="open", **extra),
        "audit": {"id": 6164039218999, "ticket_id": TICKET_ID, "events": [{"id": 1, "type": "Change"}]},
    }


def test_update_case_puts_the_fields_without_a_comment(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any, zendesk_oas: Any
) -> None:
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=updated())

    result = crm.update_case(str(TICKET_ID), {DUE_FIELD: "2026-11-25T16:55:00Z", "priority": "high"}, key=KEY)

    assert result is None
    assert sent() == [("PUT", f"{API}/tickets/{TICKET_ID}.json")]
    call = mocked.calls[0]
    assert json.loads(call.request.body) == {
        "ticket": {
            "priority": "high",
            "custom_fields": [{"id": 360000000005, "value": "2026-11-25T16:55:00Z"}],
        }
    }
    assert "Idempotency-Key" not in call.request.headers
    assert_auth(call)
    assert zendesk_oas(call) in ("UpdateTicket", None)


def test_tags_are_added_not_replaced(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=updated())

    crm.update_case(str(TICKET_ID), {"tags": ["ctihub_sla_paused"], "status": "open"}, key=KEY)

    assert json.loads(mocked.calls[0].request.body) == {
        "ticket": {"status": "open", "additional_tags": ["ctihub_sla_paused"]}
    }


def test_no_fields_send_nothing(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    crm.update_case(str(TICKET_ID), {}, key=KEY)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("case_id", "fields"),
    [("12/../users", {"priority": "high"}), (str(TICKET_ID), {"custom_fields.sla_due": "x"})],
)
def test_a_bad_ticket_id_or_field_name_is_rejected_before_sending(
    mocked: responses.RequestsMock, crm: ZendeskCRM, case_id: str, fields: dict[str, Any]
) -> None:
    with pytest.raises(CrmRecordRejected):
        crm.update_case(case_id, fields, key=KEY)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(("answer", "error", "status", "retry_after"), ERROR_CASES)
def test_failures_are_classified_by_the_table(
    mocked: responses.RequestsMock,
    crm: ZendeskCRM,
    answer: dict[str, Any],
    error: type[CrmError],
    status: int | None,
    retry_after: float | None,
) -> None:
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", **answer)

    with pytest.raises(CrmError) as caught:
        crm.without_retries().update_case(str(TICKET_ID), {DUE_FIELD: "2026-11-25T16:55:00Z"}, key=KEY)

    _check(caught.value, error, status, retry_after)
    assert len(mocked.calls) == 1
