"""The Zendesk adapter against recorded-shape answers: the exact requests it sends (each JSON body
checked against the Zendesk Support OAS), and how every failure is classified. Answer bodies follow
the zenpy cassettes in fixtures/zenpy and zendesk_error_bodies.observed.json; they are written here,
not copied."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from adapters.zendesk import ZendeskCRM, build_crm
from adapters.zendesk.crm import comment_body
from hub.domain.errors import ConfigError, CrmAuthExpired, CrmError, CrmRecordRejected, CrmRetryable
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import (
    ActivityWrite,
    AdapterConfig,
    CaseRecord,
    CaseWrite,
    CustomerProfile,
    LinkResult,
    RecordRef,
)

BASE = "https://acme.zendesk.com"
API = f"{BASE}/api/v2"
EMAIL = "integration@acme.test"
TOKEN = "zd-api-token-secret"
BASIC = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
EPISODE = "ep_01JAB3XKQ7T9ZC4M2N6P8R0S1V"
EVENT = "ev_" + "0f" * 16
MARKER = f"— CTI Hub · {EVENT}"
TICKET_ID = 4014
COMMENT_ID = 6164039218842
AUDIT_ID = 6164039218714
USER_ID = 6130907993114
BODY = "SMS · Callback requested (CB_REQ)\nIntent: Billing question\n\nsms-gw · m-1 · 2026-05-01"


def ticket(ticket_id: int = TICKET_ID, status: str = "new", **extra: Any) -> dict[str, Any]:
    """A ticket as the API answers it (trimmed from the recorded 2023 shape)."""
    return {
        "url": f"{API}/tickets/{ticket_id}.json",
        "id": ticket_id,
        "external_id": EPISODE,
        "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        "created_at": "2026-05-01T10:00:00Z",
        "updated_at": "2026-05-01T10:00:00Z",
        "type": None,
        "subject": "SMS · Billing question",
        "status": status,
        "requester_id": USER_ID,
        "submitter_id": 6130907993000,
        "tags": ["cti_hub"],
        "custom_fields": [],
        "is_public": False,
        **extra,
    }


def write_answer(ticket_id: int = TICKET_ID, body: str = "", comment_id: int = COMMENT_ID) -> dict[str, Any]:
    """``{ticket, audit}`` as a create or update answers it: a Comment event, then field events."""
    return {
        "ticket": ticket(ticket_id),
        "audit": {
            "id": AUDIT_ID,
            "ticket_id": ticket_id,
            "created_at": "2026-05-01T10:00:00Z",
            "author_id": 6130907993000,
            "metadata": {"system": {"client": "cti-hub (zenpy)"}, "custom": {}},
            "events": [
                {
                    "id": comment_id,
                    "type": "Comment",
                    "author_id": 6130907993000,
                    "body": body,
                    "plain_body": body,
                    "public": False,
                    "attachments": [],
                    "audit_id": AUDIT_ID,
                },
                {"id": comment_id + 128, "type": "Create", "value": "new", "field_name": "status"},
            ],
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
        },
    }


def comment(comment_id: int, body: str) -> dict[str, Any]:
    return {
        "id": comment_id,
        "type": "Comment",
        "author_id": 6130907993000,
        "body": body,
        "html_body": f"<div class='zd-comment'><p>{body}</p></div>",
        "plain_body": body,
        "public": False,
        "attachments": [],
        "audit_id": comment_id - 1,
        "created_at": "2026-05-01T10:00:00Z",
    }


def listing(key: str, items: list[dict[str, Any]], next_page: str | None = None) -> dict[str, Any]:
    return {key: items, "next_page": next_page, "previous_page": None, "count": len(items)}


def zd_error(status: int, error: str, description: str, **details: str) -> dict[str, Any]:
    body: dict[str, Any] = {"error": error, "description": description}
    if details:
        body["details"] = {field: [{"description": text}] for field, text in details.items()}
    return {"status": status, "json": body}


@pytest.fixture(autouse=True)
def _every_request_matches_the_oas(mocked: responses.RequestsMock, zendesk_oas: Any) -> Iterator[None]:
    """Whatever a test sends, each request must be an operation of the Zendesk Support OAS, and its
    JSON body (or the absence of one) must fit that operation."""
    yield
    for call in mocked.calls:
        zendesk_oas(call)


@pytest.fixture
def mapping() -> CrmMapping:
    return CrmMapping(
        crm="zendesk",
        case=ObjectMapping(object="ticket", key_field="external_id"),
        activity=ObjectMapping(object="comment"),
    )


def config(mapping: CrmMapping, timeouts: tuple[float, float], **settings: str) -> AdapterConfig:
    return AdapterConfig(
        settings=settings or {"subdomain": "acme", "email": EMAIL, "api_token": TOKEN},
        mapping=mapping,
        connect_timeout=timeouts[0],
        read_timeout=timeouts[1],
    )


@pytest.fixture
def crm(mapping: CrmMapping, timeouts: tuple[float, float]) -> ZendeskCRM:
    return build_crm(config(mapping, timeouts))


def customer(**overrides: Any) -> CustomerProfile:
    values: dict[str, Any] = {"key": "cus_7", "name": "Ana Lima", "phone": "+14155550100"}
    values.update(overrides)
    return CustomerProfile(**values)


def case_write(who: CustomerProfile | None = None) -> CaseWrite:
    return CaseWrite(
        key=EPISODE,
        fields={
            "subject": "SMS · Billing question",
            "priority": "normal",
            "custom_fields.360001234567": "billing",
            "tags": ["cti_hub", "sms"],
        },
        customer=who or customer(external_ids={"zendesk_user": str(USER_ID)}),
    )


def activity_write(**overrides: Any) -> ActivityWrite:
    values: dict[str, Any] = {
        "key": EVENT,
        "body": BODY,
        "fields": {"custom_fields.360009876543": "cb_req", "tags": ["disp_cb_req"]},
        "case_fields": {"status": "open", "tags": ["sms"]},
    }
    values.update(overrides)
    return ActivityWrite(**values)


def assert_auth(call: Any) -> None:
    assert call.request.headers["Authorization"] == BASIC


# -- building -----------------------------------------------------------------------------------------


def test_build_crm_checks_settings_and_sends_nothing(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    assert crm.name == "zendesk"
    assert len(mocked.calls) == 0
    assert TOKEN not in repr(crm) and TOKEN not in repr(crm.settings)


def test_build_crm_names_every_missing_setting(mapping: CrmMapping, timeouts: tuple[float, float]) -> None:
    with pytest.raises(ConfigError) as caught:
        build_crm(config(mapping, timeouts, email=EMAIL))
    assert [p.path for p in caught.value.problems] == ["CTIHUB_ZENDESK_SUBDOMAIN", "CTIHUB_ZENDESK_API_TOKEN"]


def test_oauth_token_is_sent_as_bearer(
    mocked: responses.RequestsMock, mapping: CrmMapping, timeouts: tuple[float, float], sent: Any
) -> None:
    crm = build_crm(
        config(mapping, timeouts, subdomain="acme", oauth_token="oauth-secret", domain="zendesk.com")
    )
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", json={"ticket": ticket()})

    crm.get_case(str(TICKET_ID))

    assert mocked.calls[0].request.headers["Authorization"] == "Bearer oauth-secret"
    assert len(sent()) == 1


def test_a_shared_transport_session_is_left_untouched(
    mocked: responses.RequestsMock, mapping: CrmMapping, timeouts: tuple[float, float], sent: Any
) -> None:
    """zenpy writes auth onto the session it is given; ours must not leak into a shared one."""
    shared = requests.Session()
    before = dict(shared.headers)
    crm = build_crm(
        AdapterConfig(
            settings={"subdomain": "acme", "email": EMAIL, "api_token": TOKEN},
            mapping=mapping,
            session=shared,
            connect_timeout=timeouts[0],
            read_timeout=timeouts[1],
        )
    )
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", json={"ticket": ticket()})

    crm.get_case(str(TICKET_ID))

    assert_auth(mocked.calls[0])
    assert shared.auth is None and dict(shared.headers) == before
    assert len(sent()) == 1


# -- create_case ----------------------------------------------------------------------------------------


def test_create_case_posts_the_ticket_with_an_idempotency_key(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any, zendesk_oas: Any
) -> None:
    mocked.post(
        f"{API}/tickets.json",
        json=write_answer(body=comment_body(BODY, EVENT)),
        status=201,
        headers={"Location": f"{API}/tickets/{TICKET_ID}.json", "x-idempotency-lookup": "miss"},
    )

    result = crm.create_case(case_write(), activity_write(), retrying=False)

    assert result == LinkResult(
        case=RecordRef("zendesk", "ticket", str(TICKET_ID), True),
        activity=RecordRef("zendesk", "comment", str(COMMENT_ID), True),
    )
    assert sent() == [("POST", f"{API}/tickets.json")]
    call = mocked.calls[0]
    assert json.loads(call.request.body) == {
        "ticket": {
            "subject": "SMS · Billing question",
            "priority": "normal",
            "custom_fields": [
                {"id": 360001234567, "value": "billing"},
                {"id": 360009876543, "value": "cb_req"},
            ],
            "tags": ["cti_hub", "sms", "disp_cb_req"],
            "external_id": EPISODE,
            "requester_id": USER_ID,
            "comment": {"body": f"{BODY}\n\n{MARKER}", "public": False},
        }
    }
    assert call.request.headers["Idempotency-Key"] == EPISODE
    assert call.request.headers["Content-Type"] == "application/json"
    assert_auth(call)
    assert zendesk_oas(call) in ("CreateTicket", None)


def test_a_known_email_becomes_the_requester_object(
    mocked: responses.RequestsMock, crm: ZendeskCRM, zendesk_oas: Any
) -> None:
    mocked.post(f"{API}/tickets.json", json=write_answer(), status=201)

    crm.create_case(case_write(customer(email="ana@example.com")), activity_write(), retrying=False)

    sent_ticket = json.loads(mocked.calls[0].request.body)["ticket"]
    assert sent_ticket["requester"] == {"name": "Ana Lima", "email": "ana@example.com"}
    assert "requester_id" not in sent_ticket
    zendesk_oas(mocked.calls[0])


def pin_phone_search(mocked: responses.RequestsMock, *digits: str, users: list[Any] | None = None) -> None:
    """``users/search`` for end users with these phones (Talk's lookup); none found by default."""
    mocked.get(
        f"{API}/users/search.json",
        match=[
            matchers.query_param_matcher(
                {"query": " ".join(["role:end-user", *(f"phone:{d}" for d in digits)])}
            )
        ],
        json={"users": users or [], "next_page": None, "previous_page": None, "count": len(users or [])},
    )


def test_a_phone_only_customer_is_created_or_updated_first(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any, zendesk_oas: Any
) -> None:
    pin_phone_search(mocked, "14155550100")
    mocked.post(
        f"{API}/users/create_or_update.json",
        json={
            "user": {"id": 8929981612030, "url": f"{API}/users/8929981612030.json", "name": "+14155550100"}
        },
        status=201,
    )
    mocked.post(f"{API}/tickets.json", json=write_answer(), status=201)

    crm.create_case(case_write(customer(name=None)), activity_write(), retrying=False)

    assert sent() == [
        ("GET", f"{API}/users/search.json?query=role%3Aend-user+phone%3A14155550100"),
        ("POST", f"{API}/users/create_or_update.json"),
        ("POST", f"{API}/tickets.json"),
    ]
    search_call, user_call, ticket_call = mocked.calls
    assert zendesk_oas(search_call) in ("SearchUsers", None)
    assert json.loads(user_call.request.body) == {
        "user": {"name": "+14155550100", "phone": "+14155550100", "external_id": "cus_7"}
    }
    assert "Idempotency-Key" not in user_call.request.headers
    assert json.loads(ticket_call.request.body)["ticket"]["requester_id"] == 8929981612030
    for call in mocked.calls:
        assert_auth(call)
    assert zendesk_oas(user_call) in ("CreateOrUpdateUser", None)
    zendesk_oas(ticket_call)


def test_retrying_create_reuses_the_oldest_open_ticket_with_the_key(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    mocked.get(
        f"{API}/tickets.json",
        match=[matchers.query_string_matcher(f"external_id={EPISODE}")],
        json=listing(
            "tickets",
            [
                ticket(4001, "closed", created_at="2026-04-01T00:00:00Z"),
                ticket(4020, "open", created_at="2026-05-01T10:00:05Z"),
                ticket(TICKET_ID, "pending", created_at="2026-05-01T10:00:00Z"),
            ],
        ),
    )
    mocked.get(
        f"{API}/tickets/{TICKET_ID}/comments.json",
        match=[matchers.query_string_matcher("sort_order=desc")],
        json=listing("comments", [comment(COMMENT_ID, f"{BODY}\n\n{MARKER}")]),
    )

    result = crm.create_case(case_write(), activity_write(), retrying=True)

    assert result == LinkResult(
        case=RecordRef("zendesk", "ticket", str(TICKET_ID), False),
        activity=RecordRef("zendesk", "comment", str(COMMENT_ID), False),
    )
    assert sent() == [
        ("GET", f"{API}/tickets.json?external_id={EPISODE}"),
        ("GET", f"{API}/tickets/{TICKET_ID}/comments.json?sort_order=desc"),
    ]  # no POST, no PUT


def test_retrying_create_without_a_match_posts(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    mocked.get(f"{API}/tickets.json", json=listing("tickets", [ticket(4001, "closed")]))
    mocked.post(
        f"{API}/tickets.json", json=write_answer(), status=201, headers={"x-idempotency-lookup": "hit"}
    )

    result = crm.create_case(case_write(), activity_write(), retrying=True)

    assert [method for method, _ in sent()] == ["GET", "POST"]
    assert mocked.calls[1].request.headers["Idempotency-Key"] == EPISODE
    # a replayed answer: an earlier attempt created it
    assert (result.case.created, result.activity.created) == (False, False)


def test_an_idempotency_key_reused_with_another_body_appends_to_that_ticket(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    mocked.post(
        f"{API}/tickets.json",
        **zd_error(400, "IdempotentRequestError", "Request parameters don't match the given idempotency key"),
    )
    mocked.get(f"{API}/tickets.json", json=listing("tickets", [ticket()]))
    mocked.get(
        f"{API}/tickets/{TICKET_ID}/comments.json",
        json=listing("comments", [comment(1, "other\n\n— CTI Hub · ev_x")]),
    )
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=write_answer(comment_id=777))

    result = crm.create_case(case_write(), activity_write(), retrying=False)

    assert [method for method, _ in sent()] == ["POST", "GET", "GET", "PUT"]
    assert result.activity == RecordRef("zendesk", "comment", "777", True)
    assert result.case.created is False


def test_external_id_is_encoded_in_the_query(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    mocked.get(f"{API}/tickets.json", json=listing("tickets", []))
    mocked.post(f"{API}/tickets.json", json=write_answer(), status=201)

    crm.create_case(
        CaseWrite(key="ep a&b=c/é", fields={}, customer=customer(external_ids={"zendesk_user": "1"})),
        activity_write(),
        retrying=True,
    )

    assert mocked.calls[0].request.path_url == "/api/v2/tickets.json?external_id=ep+a%26b%3Dc%2F%C3%A9"


# -- append_activity ---------------------------------------------------------------------------------


def test_append_activity_puts_a_private_marked_comment_and_adds_tags(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any, zendesk_oas: Any
) -> None:
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=write_answer(body=comment_body(BODY, EVENT)))

    result = crm.append_activity(str(TICKET_ID), activity_write(), retrying=False)

    assert result == LinkResult(
        case=RecordRef("zendesk", "ticket", str(TICKET_ID), False),
        activity=RecordRef("zendesk", "comment", str(COMMENT_ID), True),
    )
    assert sent() == [("PUT", f"{API}/tickets/{TICKET_ID}.json")]
    call = mocked.calls[0]
    assert json.loads(call.request.body) == {
        "ticket": {
            "status": "open",
            "custom_fields": [{"id": 360009876543, "value": "cb_req"}],
            "additional_tags": ["sms", "disp_cb_req"],  # added; "tags" would replace the agent's tags
            "comment": {"body": f"{BODY}\n\n{MARKER}", "public": False},
        }
    }
    assert "Idempotency-Key" not in call.request.headers
    assert_auth(call)
    assert zendesk_oas(call) in ("UpdateTicket", None)


def test_comment_fields_go_into_the_comment_which_stays_private(
    mocked: responses.RequestsMock, crm: ZendeskCRM, zendesk_oas: Any
) -> None:
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=write_answer())

    crm.append_activity(
        str(TICKET_ID),
        activity_write(
            fields={"comment.author_id": USER_ID, "comment.public": True, "comment.html_body": "<b>x</b>"},
            case_fields={},
        ),
        retrying=False,
    )

    assert json.loads(mocked.calls[0].request.body) == {
        "ticket": {"comment": {"author_id": USER_ID, "body": f"{BODY}\n\n{MARKER}", "public": False}}
    }
    zendesk_oas(mocked.calls[0])


def test_retrying_append_finds_its_marker_and_writes_nothing(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    mocked.get(
        f"{API}/tickets/{TICKET_ID}/comments.json",
        json=listing(
            "comments",
            [comment(9002, "Agent: calling back now"), comment(9001, f"{BODY}\n\n{MARKER}\n")],
            next_page=f"{API}/tickets/{TICKET_ID}/comments.json?page=2&sort_order=desc",
        ),
    )

    result = crm.append_activity(str(TICKET_ID), activity_write(), retrying=True)

    assert result.activity == RecordRef("zendesk", "comment", "9001", False)
    assert sent() == [
        ("GET", f"{API}/tickets/{TICKET_ID}/comments.json?sort_order=desc")
    ]  # no PUT, no page 2


def test_retrying_append_without_its_marker_follows_pages_then_writes(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    page_2 = f"{API}/tickets/{TICKET_ID}/comments.json?page=2&sort_order=desc"
    mocked.get(
        f"{API}/tickets/{TICKET_ID}/comments.json",
        match=[matchers.query_string_matcher("sort_order=desc")],
        json=listing("comments", [comment(9003, f"x\n\n— CTI Hub · {EVENT}0")], next_page=page_2),
    )
    mocked.get(page_2, json=listing("comments", [comment(9000, "first")], next_page="https://evil.test/next"))
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=write_answer())

    result = crm.append_activity(str(TICKET_ID), activity_write(), retrying=True)

    assert [url for _, url in sent()] == [
        f"{API}/tickets/{TICKET_ID}/comments.json?sort_order=desc",
        page_2,
        f"{API}/tickets/{TICKET_ID}.json",
    ]
    assert result.activity.created is True


def test_append_to_something_that_is_not_a_ticket_id_is_rejected(
    mocked: responses.RequestsMock, crm: ZendeskCRM
) -> None:
    with pytest.raises(CrmRecordRejected):
        crm.append_activity("12/../users", activity_write(), retrying=False)
    assert len(mocked.calls) == 0


def test_a_mapped_custom_field_must_name_a_numeric_id(
    mocked: responses.RequestsMock, crm: ZendeskCRM
) -> None:
    with pytest.raises(CrmRecordRejected) as caught:
        crm.append_activity(
            str(TICKET_ID), activity_write(fields={"custom_fields.disposition": "x"}), retrying=False
        )
    assert caught.value.crm_code == "BadFieldMapping"


# -- get_case ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "is_open"),
    [("new", True), ("open", True), ("pending", True), ("hold", True), ("solved", False), ("closed", False)],
)
def test_get_case_reads_the_ticket_status(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any, status: str, is_open: bool
) -> None:
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", json={"ticket": ticket(status=status)})

    record = crm.get_case(str(TICKET_ID))

    assert record == CaseRecord(
        crm="zendesk",
        object="ticket",
        id=str(TICKET_ID),
        is_open=is_open,
        url=f"{BASE}/agent/tickets/{TICKET_ID}",
    )
    assert sent() == [("GET", f"{API}/tickets/{TICKET_ID}.json")]
    assert_auth(mocked.calls[0])


def test_get_case_is_never_cached(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", json={"ticket": ticket(status="open")})
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", json={"ticket": ticket(status="solved")})

    assert crm.get_case(str(TICKET_ID)).is_open is True  # type: ignore[union-attr]
    assert crm.get_case(str(TICKET_ID)).is_open is False  # type: ignore[union-attr]


def test_get_case_of_a_missing_ticket_is_none(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    mocked.get(f"{API}/tickets/9223372036854775807.json", **zd_error(404, "RecordNotFound", "Not found"))

    assert crm.get_case("9223372036854775807") is None
    assert crm.get_case("not-a-ticket") is None  # sends nothing
    assert len(sent()) == 1


# -- errors ------------------------------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param(
        {
            "status": 429,
            "headers": {"Retry-After": "42"},
            "json": {
                "error": "APIRateLimitExceeded",
                "description": "Number of allowed API requests per minute exceeded",
            },
        },
        CrmRetryable,
        429,
        42.0,
        id="429-retry-after",
    ),
    pytest.param(
        {"status": 429, "headers": {"Retry-After": "7"}, "body": "429 Too Many Requests"},
        CrmRetryable,
        429,
        7.0,
        id="429-text",
    ),
    pytest.param(
        {"status": 503, "body": "<html>Service Unavailable</html>"}, CrmRetryable, 503, None, id="503"
    ),
    pytest.param(
        {"status": 503, "headers": {"Retry-After": "30"}, "json": {"error": "ServiceUnavailable"}},
        CrmRetryable,
        503,
        30.0,
        id="503-retry-after",
    ),
    pytest.param(
        {"status": 409, "json": {"error": "Conflict", "description": "request in progress"}},
        CrmRetryable,
        409,
        None,
        id="409",
    ),
    pytest.param(
        {"status": 401, "json": {"error": "Couldn't authenticate you"}}, CrmAuthExpired, 401, None, id="401"
    ),
    pytest.param(
        zd_error(
            422,
            "RecordInvalid",
            "Record validation errors",
            requester="Requester: Unknown username is suspended.",
        ),
        CrmRecordRejected,
        422,
        None,
        id="422-RecordInvalid",
    ),
    pytest.param(zd_error(404, "RecordNotFound", "Not found"), CrmRecordRejected, 404, None, id="404"),
    pytest.param(
        zd_error(403, "Forbidden", "You do not have access to this page."),
        CrmRecordRejected,
        403,
        None,
        id="403",
    ),
    pytest.param(
        {"body": requests.ReadTimeout("read timed out")}, CrmRetryable, None, None, id="read-timeout"
    ),
    pytest.param(
        {"body": requests.ConnectTimeout("connect timed out")}, CrmRetryable, None, None, id="connect-timeout"
    ),
    pytest.param(
        {"body": requests.ConnectionError("refused")}, CrmRetryable, None, None, id="connection-error"
    ),
]


def _check(error: CrmError, expected: type[CrmError], status: int | None, retry_after: float | None) -> None:
    assert type(error) is expected
    assert (error.crm, error.status, error.retry_after) == ("zendesk", status, retry_after)
    assert error.__cause__ is not None or status is not None
    assert TOKEN not in f"{error} {error.describe()}" and BASIC not in f"{error} {error.describe()}"


@pytest.mark.parametrize(("answer", "error", "status", "retry_after"), ERROR_CASES)
def test_failures_of_our_own_calls_are_classified_by_the_table(
    mocked: responses.RequestsMock,
    crm: ZendeskCRM,
    answer: dict[str, Any],
    error: type[CrmError],
    status: int | None,
    retry_after: float | None,
) -> None:
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", **answer)

    with pytest.raises(CrmError) as caught:
        crm.without_retries().append_activity(str(TICKET_ID), activity_write(), retrying=False)

    _check(caught.value, error, status, retry_after)
    assert len(mocked.calls) == 1  # without retries: one call, whatever the answer


@pytest.mark.parametrize(("answer", "error", "status", "retry_after"), ERROR_CASES)
def test_failures_inside_zenpy_are_classified_by_the_same_table(
    mocked: responses.RequestsMock,
    crm: ZendeskCRM,
    answer: dict[str, Any],
    error: type[CrmError],
    status: int | None,
    retry_after: float | None,
) -> None:
    pin_phone_search(mocked, "14155550100")
    mocked.post(f"{API}/users/create_or_update.json", **answer)

    with pytest.raises(CrmError) as caught:
        crm.without_retries().create_case(case_write(customer()), activity_write(), retrying=False)

    _check(caught.value, error, status, retry_after)
    assert caught.value.__cause__ is not None  # raised from zenpy's or requests' exception
    assert len(mocked.calls) == 2  # the phone search, then the user call: zenpy did not try again


def test_record_invalid_keeps_zendesks_code_and_description(
    mocked: responses.RequestsMock, crm: ZendeskCRM
) -> None:
    mocked.post(
        f"{API}/tickets.json",
        **zd_error(
            422,
            "RecordInvalid",
            "Record validation errors",
            requester="Requester: Unknown username is suspended.",
        ),
    )

    with pytest.raises(CrmRecordRejected) as caught:
        crm.create_case(case_write(), activity_write(), retrying=False)

    assert caught.value.crm_code == "RecordInvalid"
    assert caught.value.describe() == (
        "zendesk 422 RecordInvalid: Record validation errors: Requester: Unknown username is suspended."
    )


def test_a_429_on_get_case_raises_without_sleeping(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    mocked.get(
        f"{API}/tickets/{TICKET_ID}.json", status=429, headers={"Retry-After": "42"}, json={"error": "x"}
    )

    with pytest.raises(CrmRetryable) as caught:
        crm.get_case(str(TICKET_ID))

    assert caught.value.retry_after == 42.0
    assert len(mocked.calls) == 1


def test_an_expired_token_drops_the_client(mocked: responses.RequestsMock, crm: ZendeskCRM) -> None:
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", status=401, json={"error": "Couldn't authenticate you"})
    first = crm._client()

    with pytest.raises(CrmAuthExpired):
        crm.get_case(str(TICKET_ID))

    assert crm._client() is not first


def test_the_oas_check_runs_and_catches_bad_bodies(_zendesk_spec: Any) -> None:
    """The OAS checker used above is live: it knows the operations and rejects wrong shapes."""
    if _zendesk_spec is None:
        pytest.skip("the Zendesk Support OAS is not available")
    import jsonschema

    good = {"ticket": {"comment": {"body": "x", "public": False}, "additional_tags": ["a"]}}
    assert _zendesk_spec.check("PUT", f"{API}/tickets/1.json", good) == "UpdateTicket"
    assert _zendesk_spec.check("POST", f"{API}/tickets.json", {"ticket": {"subject": "s"}}) == "CreateTicket"
    with pytest.raises(jsonschema.ValidationError):
        _zendesk_spec.check("POST", f"{API}/tickets.json", {"ticket": {"comment": {"public": "no"}}})
    with pytest.raises(jsonschema.ValidationError):
        _zendesk_spec.check("POST", f"{API}/tickets.json", {"ticket": {"custom_fields": [{"id": "x1"}]}})
    with pytest.raises(AssertionError):
        _zendesk_spec.check("POST", f"{API}/tickets.json", {"ticket": {"requester_email": "a@b.c"}})


# -- screen pop (Talk Partner Edition) ----------------------------------------------------------------------

AGENT_ID = 6130907993000


@pytest.mark.parametrize(
    ("method_name", "kind", "record_id", "operation"),
    [
        ("display_ticket", "tickets", TICKET_ID, "OpenTicketInAgentBrowser"),
        ("display_user", "users", USER_ID, "OpenUsersProfileInAgentBrowser"),
    ],
)
def test_screen_pop_posts_to_the_agents_display_endpoint(
    mocked: responses.RequestsMock,
    crm: ZendeskCRM,
    sent: Any,
    zendesk_oas: Any,
    method_name: str,
    kind: str,
    record_id: int,
    operation: str,
) -> None:
    url = f"{API}/channels/voice/agents/{AGENT_ID}/{kind}/{record_id}/display.json"
    mocked.post(url, body="", status=200)

    getattr(crm.without_retries(), method_name)(str(AGENT_ID), record_id)

    assert sent() == [("POST", url)]
    call = mocked.calls[0]
    assert not call.request.body  # the endpoint takes no body
    assert_auth(call)
    assert zendesk_oas(call) in (operation, None)


def test_screen_pop_for_an_unknown_agent_or_ticket_is_rejected(
    mocked: responses.RequestsMock, crm: ZendeskCRM
) -> None:
    url = f"{API}/channels/voice/agents/{AGENT_ID}/tickets/{TICKET_ID}/display.json"
    mocked.post(url, status=404, json={"error": "RecordNotFound", "description": "Not found"})

    with pytest.raises(CrmRecordRejected) as caught:
        crm.without_retries().display_ticket(AGENT_ID, TICKET_ID)

    assert (caught.value.status, caught.value.crm_code) == (404, "RecordNotFound")


@pytest.mark.parametrize(("agent", "ticket_id"), [("12/../1", TICKET_ID), (AGENT_ID, "4014?x=1"), ("", 1)])
def test_screen_pop_with_a_bad_id_sends_nothing(
    mocked: responses.RequestsMock, crm: ZendeskCRM, agent: Any, ticket_id: Any
) -> None:
    with pytest.raises(CrmRecordRejected) as caught:
        crm.display_ticket(agent, ticket_id)
    assert caught.value.crm_code == "InvalidId" and len(mocked.calls) == 0


# -- ticket fields (``ctihub crm check``) --------------------------------------------------------------------


def ticket_field(
    field_id: int, field_type: str, title: str, options: list[str] | None = None
) -> dict[str, Any]:
    """A ticket field as GET /api/v2/ticket_fields answers it (OAS TicketFieldObject)."""
    field: dict[str, Any] = {
        "url": f"{API}/ticket_fields/{field_id}.json",
        "id": field_id,
        "type": field_type,
        "title": title,
        "raw_title": title,
        "description": "",
        "position": 1,
        "active": True,
        "required": False,
        "removable": field_type not in ("subject", "status", "priority"),
        "created_at": "2024-01-02T03:04:05Z",
        "updated_at": "2024-01-02T03:04:05Z",
    }
    if options is not None:
        field["custom_field_options"] = [
            {"id": field_id * 10 + i, "name": value.title(), "raw_name": value.title(), "value": value}
            for i, value in enumerate(options)
        ]
    return field


def test_ticket_fields_follow_next_page_and_become_metadata(
    mocked: responses.RequestsMock, crm: ZendeskCRM, sent: Any
) -> None:
    page_2 = f"{API}/ticket_fields.json?page=2"
    mocked.get(
        f"{API}/ticket_fields.json",
        json=listing("ticket_fields", [ticket_field(1, "subject", "Subject")], next_page=page_2),
    )
    mocked.get(
        page_2, json=listing("ticket_fields", [ticket_field(360001, "tagger", "Disposition", ["a", "b"])])
    )

    metadata = crm.metadata()

    assert metadata.crm == "zendesk"
    assert [f["id"] for f in metadata.ticket_fields] == [1, 360001]
    assert [url for _, url in sent()] == [f"{API}/ticket_fields.json", page_2]


# -- the activity mapping's comment fields ------------------------------------------------------------------


def test_comment_properties_of_the_activity_mapping_go_into_the_comment(
    mocked: responses.RequestsMock, crm: ZendeskCRM, zendesk_oas: Any
) -> None:
    """fields.zendesk.yaml maps ``body`` and ``public`` on the comment (its activity object)."""
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", json=write_answer())

    crm.append_activity(
        str(TICKET_ID),
        activity_write(fields={"body": "Mapped body", "public": True, "tags": ["x"]}, case_fields={}),
        retrying=False,
    )

    sent_ticket = json.loads(mocked.calls[0].request.body)["ticket"]
    assert sent_ticket == {
        "additional_tags": ["x"],
        "comment": {"body": f"Mapped body\n\n{MARKER}", "public": False},  # always a private note
    }
    zendesk_oas(mocked.calls[0])


# -- secrets -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["api_token", "oauth_token"])
def test_secrets_never_show_in_reprs_errors_or_logs(
    mocked: responses.RequestsMock,
    mapping: CrmMapping,
    timeouts: tuple[float, float],
    caplog: pytest.LogCaptureFixture,
    auth: str,
) -> None:
    import logging

    secret = f"{auth}-zd-secret-0042"
    settings = {"subdomain": "acme", auth: secret}
    if auth == "api_token":
        settings["email"] = EMAIL
    crm = build_crm(config(mapping, timeouts, **settings))
    mocked.get(f"{API}/tickets/{TICKET_ID}.json", status=401, json={"error": "Couldn't authenticate you"})
    mocked.put(f"{API}/tickets/{TICKET_ID}.json", body=requests.ConnectionError("reset"))

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(CrmAuthExpired) as expired:
            crm.get_case(str(TICKET_ID))
        with pytest.raises(CrmRetryable) as unreachable:
            crm.without_retries().append_activity(str(TICKET_ID), activity_write(), retrying=False)

    encoded = base64.b64encode(f"{EMAIL}/token:{secret}".encode()).decode()
    texts = [repr(crm), repr(crm.settings), json.dumps(crm.status()), caplog.text]
    for error in (expired.value, unreachable.value):
        texts += [str(error), repr(error), error.describe(), str(error.__cause__)]
    for text in texts:
        assert secret not in text and encoded not in text
    assert crm.status()["state"] == "auth_failed"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("subdomain", "acme.zendesk.com"),
        ("subdomain", "evil.example/x"),
        ("subdomain", "acme:8443"),
        ("subdomain", "user@acme"),
        ("subdomain", "-acme"),
        ("subdomain", "a" * 64),
        ("domain", "zendesk.com/evil"),
        ("domain", "evil.example:8080"),
    ],
)
def test_a_subdomain_or_domain_that_is_not_a_host_name_is_refused_at_start(
    mapping: CrmMapping, timeouts: tuple[float, float], name: str, value: str
) -> None:
    values = {"subdomain": "acme", "email": EMAIL, "api_token": TOKEN, name: value}
    with pytest.raises(ConfigError) as caught:
        build_crm(config(mapping, timeouts, **values))
    assert [p.path for p in caught.value.problems] == [f"CTIHUB_ZENDESK_{name.upper()}"]


def test_a_valid_subdomain_builds(mapping: CrmMapping, timeouts: tuple[float, float]) -> None:
    for subdomain in ("acme", "acme-support", "a1", "a" * 63):
        build_crm(config(mapping, timeouts, subdomain=subdomain, email=EMAIL, api_token=TOKEN))
