"""``ZendeskCRM.write_batch``: the exact bulk-job requests (each checked against the Zendesk Support
OAS), job_status followed to completion, and each record's result. Job answers follow the recorded
zenpy cassette (create-many / update-many: a queued ``job_status``, then ``completed`` with
``results``); the values are ours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import responses
from responses import matchers

from adapters.zendesk import ZendeskCRM
from adapters.zendesk.batch import JobPolicy
from adapters.zendesk.crm import comment_body
from hub.domain.errors import CrmRecordRejected, CrmRetryable, CrmWriteNotSent, CrmWritePending
from hub.ports import BatchWrite, CaseWrite, CustomerProfile, LinkResult, RecordRef
from tests.adapters.conftest import FakeTime
from tests.adapters.test_zendesk import (
    API,
    BODY,
    EPISODE,
    TICKET_ID,
    USER_ID,
    activity_write,
    case_write,
    customer,
    pin_phone_search,
    write_answer,
)
from tests.adapters.test_zendesk import crm as crm_fixture
from tests.adapters.test_zendesk import mapping as mapping_fixture

crm, mapping = crm_fixture, mapping_fixture  # the Zendesk adapter tests' fixtures, by name

NEW_USER_IDS = (6130907993222, 6130907993223, 6130907993224)
NEW_TICKETS = (4101, 4102, 4103)
OTHER_TICKETS = (TICKET_ID, 4015, 4016)


@pytest.fixture(autouse=True)
def _every_request_matches_the_oas(mocked: responses.RequestsMock, zendesk_oas: Any) -> Iterator[None]:
    yield
    for call in mocked.calls:
        zendesk_oas(call)


@pytest.fixture
def fake_time_crm(crm: ZendeskCRM, fake_time: FakeTime) -> ZendeskCRM:
    crm.job_policy = JobPolicy(sleep=fake_time.sleep, monotonic=fake_time)
    crm.retry = crm.retry.with_sleep(fake_time.sleep)
    crm.clock = fake_time  # the account's Retry-After runs on the same clock as the waits
    return crm


def queued(job_id: str) -> dict[str, Any]:
    return {
        "job_status": {
            "id": job_id,
            "url": f"{API}/job_statuses/{job_id}.json",
            "total": 3,
            "progress": None,
            "status": "queued",
            "message": None,
            "results": None,
        }
    }


def job(job_id: str, results: list[dict[str, Any]] | None, status: str = "completed") -> dict[str, Any]:
    return {
        "id": job_id,
        "url": f"{API}/job_statuses/{job_id}.json",
        "total": 3,
        "progress": 3 if status == "completed" else 0,
        "status": status,
        "message": "Completed at 2026-11-23 15:00:01 +0000" if status == "completed" else None,
        "results": results,
    }


def pin_job(
    mocked: responses.RequestsMock, method: str, path: str, body: dict[str, Any], job_id: str
) -> None:
    mocked.add(
        method,
        f"{API}{path}",
        json=queued(job_id),
        match=[matchers.json_params_matcher(body, strict_match=True)],
    )


def pin_poll(mocked: responses.RequestsMock, ids: str, *jobs: dict[str, Any]) -> None:
    mocked.add(
        responses.GET,
        f"{API}/job_statuses/show_many.json",
        json={"job_statuses": list(jobs)},
        match=[matchers.query_param_matcher({"ids": ids})],
    )


def event(n: int) -> str:
    return f"ev_{n:032x}"


def episode(n: int) -> str:
    return f"{EPISODE[:-2]}{n:02d}"


def phone_only(n: int) -> CustomerProfile:
    return customer(key=f"cus_{n}", name=f"Customer {n}", phone=f"+1415555{n:04d}")


def new_case(n: int, who: CustomerProfile | None = None) -> BatchWrite:
    who = who or phone_only(n)
    return BatchWrite(
        case=CaseWrite(key=episode(n), fields=case_write().fields, customer=who),
        activity=activity_write(key=event(n)),
    )


def append(n: int, ticket_id: int) -> BatchWrite:
    return BatchWrite(case_id=str(ticket_id), activity=activity_write(key=event(n)))


def new_ticket(n: int, requester_id: int) -> dict[str, Any]:
    return {
        "subject": "SMS · Billing question",
        "priority": "normal",
        "custom_fields": [{"id": 360001234567, "value": "billing"}, {"id": 360009876543, "value": "cb_req"}],
        "tags": ["cti_hub", "sms", "disp_cb_req"],
        "external_id": episode(n),
        "requester_id": requester_id,
        "comment": {"body": comment_body(BODY, event(n)), "public": False},
    }


def ticket_update(n: int, ticket_id: int) -> dict[str, Any]:
    return {
        "id": ticket_id,
        "status": "open",
        "custom_fields": [{"id": 360009876543, "value": "cb_req"}],
        "additional_tags": ["sms", "disp_cb_req"],
        "comment": {"body": comment_body(BODY, event(n)), "public": False},
    }


def user(n: int) -> dict[str, Any]:
    return {"name": f"Customer {n}", "external_id": f"cus_{n}", "phone": f"+1415555{n:04d}"}


def created(index: int, ticket_id: int) -> dict[str, Any]:
    return {"index": index, "id": ticket_id, "account_id": 1}


def updated(ticket_id: int) -> dict[str, Any]:
    return {"action": "update", "id": ticket_id, "status": "Updated", "success": True}


def test_a_burst_is_three_jobs_in_two_phases_and_every_record_gets_its_result(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM, fake_time: FakeTime
) -> None:
    """Phase 0: the requesters' job beside the first round of updates, polled together; phase 1:
    the tickets that waited for their requesters."""
    pin_phone_search(mocked, *(f"1415555{n:04d}" for n in (1, 2, 3)))  # nobody has these phones
    pin_job(
        mocked,
        responses.POST,
        "/users/create_or_update_many.json",
        {"users": [user(n) for n in (1, 2, 3)]},
        "V3-users",
    )
    pin_job(
        mocked,
        responses.PUT,
        "/tickets/update_many.json",
        {"tickets": [ticket_update(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]},
        "V3-update",
    )
    pin_poll(  # the first look finds the update still working: one pause, then it is done
        mocked,
        "V3-update,V3-users",
        job("V3-update", None, status="working"),
        job(
            "V3-users",
            [{"id": NEW_USER_IDS[i], "index": i, "status": "Created", "success": True} for i in range(3)],
        ),
    )
    pin_poll(mocked, "V3-update", job("V3-update", [updated(t) for t in OTHER_TICKETS]))
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, NEW_USER_IDS[n - 1]) for n in (1, 2, 3)]},
        "V3-create",
    )
    pin_poll(mocked, "V3-create", job("V3-create", [created(i, NEW_TICKETS[i]) for i in range(3)]))
    writes = [new_case(n) for n in (1, 2, 3)] + [append(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]

    results = fake_time_crm.write_batch(writes)

    assert results == [
        *(
            LinkResult(
                case=RecordRef("zendesk", "ticket", str(NEW_TICKETS[n - 1]), True),
                activity=RecordRef("zendesk", "comment", event(n), True),
            )
            for n in (1, 2, 3)
        ),
        *(
            LinkResult(
                case=RecordRef("zendesk", "ticket", str(OTHER_TICKETS[n - 4]), False),
                activity=RecordRef("zendesk", "comment", event(n), True),
            )
            for n in (4, 5, 6)
        ),
    ]
    assert fake_time.waits == [0.5]
    assert fake_time_crm.remembered_requester("cus_2") == {"requester_id": NEW_USER_IDS[1]}


def test_a_failed_record_fails_alone_and_a_job_past_its_deadline_is_left_to_the_retry(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM, fake_time: FakeTime
) -> None:
    fake_time_crm.job_policy = JobPolicy(deadline=3.0, sleep=fake_time.sleep, monotonic=fake_time)
    known = customer(external_ids={"zendesk_user": str(USER_ID)})
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, USER_ID) for n in (1, 2, 3)]},
        "V3-create",
    )
    pin_job(
        mocked,
        responses.PUT,
        "/tickets/update_many.json",
        {"tickets": [ticket_update(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]},
        "V3-update",
    )
    failure = {
        "index": 1,
        "action": "create",
        "success": False,
        "status": "Failed",
        "error": "RecordInvalid",
        "details": "Priority: is invalid",
    }
    pin_poll(
        mocked,
        "V3-create,V3-update",
        job("V3-create", [created(0, NEW_TICKETS[0]), failure, created(2, NEW_TICKETS[2])]),
        job("V3-update", None, status="working"),
    )
    for _ in range(2):
        pin_poll(mocked, "V3-update", job("V3-update", None, status="working"))
    writes = [new_case(n, known) for n in (1, 2, 3)] + [append(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]

    results = fake_time_crm.write_batch(writes)

    assert [type(r).__name__ for r in results] == ["LinkResult", "CrmRecordRejected", "LinkResult"] + [
        "CrmWritePending"
    ] * 3
    rejected, late = results[1], results[3]
    assert isinstance(rejected, CrmRecordRejected) and rejected.crm_code == "RecordInvalid"
    assert "Priority: is invalid" in rejected.message
    # The update may still land: retried only after the job has surely settled, looking first.
    assert isinstance(late, CrmWritePending) and "still running" in late.message
    assert late.retry_after == 60.0
    assert fake_time.waits == [0.5, 1.0]  # then the next pause would pass the 3 s deadline


def test_without_bulk_user_imports_requesters_are_made_one_by_one_and_never_in_bulk_again(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    mocked.add(
        responses.POST,
        f"{API}/users/create_or_update_many.json",
        status=403,
        json={"error": "Forbidden", "description": "You do not have access to this page."},
    )
    for batch, numbers in enumerate(((1, 2, 3), (4, 5, 6))):
        pin_phone_search(mocked, *(f"1415555{n:04d}" for n in numbers))
        for n in numbers:
            answer = {
                "user": {"id": 6130907993200 + n, "name": f"Customer {n}", "url": f"{API}/users/{n}.json"}
            }
            mocked.add(
                responses.POST,
                f"{API}/users/create_or_update.json",
                json=answer,
                status=201,
                match=[matchers.json_params_matcher({"user": user(n)})],
            )
        pin_job(
            mocked,
            responses.POST,
            "/tickets/create_many.json",
            {"tickets": [new_ticket(n, 6130907993200 + n) for n in numbers]},
            f"V3-create-{batch}",
        )
        pin_poll(
            mocked,
            f"V3-create-{batch}",
            job(f"V3-create-{batch}", [created(i, 4200 + n) for i, n in enumerate(numbers)]),
        )

    for numbers in ((1, 2, 3), (4, 5, 6)):
        results = fake_time_crm.write_batch([new_case(n) for n in numbers])
        assert [r.case.id for r in results if isinstance(r, LinkResult)] == [str(4200 + n) for n in numbers]

    sent = [(c.request.method, c.request.url.split("?")[0].removeprefix(API)) for c in mocked.calls]
    assert sent.count(("POST", "/users/create_or_update_many.json")) == 1


def test_a_small_batch_goes_one_by_one_and_a_known_requester_costs_no_user_call(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    """Two of a kind cost two calls either way (a job is its submit and a poll): no job."""
    fake_time_crm.remember_requester("cus_1", NEW_USER_IDS[0])
    mocked.add(
        responses.POST,
        f"{API}/tickets.json",
        json=write_answer(NEW_TICKETS[0]),
        status=201,
        match=[
            matchers.json_params_matcher({"ticket": new_ticket(1, NEW_USER_IDS[0])}),
            matchers.header_matcher({"Idempotency-Key": episode(1)}),
        ],
    )
    mocked.add(
        responses.PUT,
        f"{API}/tickets/{TICKET_ID}.json",
        json=write_answer(TICKET_ID),
        match=[
            matchers.json_params_matcher(
                {"ticket": {k: v for k, v in ticket_update(2, TICKET_ID).items() if k != "id"}}
            )
        ],
    )

    results = fake_time_crm.write_batch([new_case(1), append(2, TICKET_ID)])

    assert [r.case.id for r in results if isinstance(r, LinkResult)] == [str(NEW_TICKETS[0]), str(TICKET_ID)]
    assert len(mocked.calls) == 2


def test_a_retrying_write_takes_the_single_path_that_looks_before_it_writes(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    mocked.add(
        responses.GET,
        f"{API}/tickets/{TICKET_ID}/comments.json",
        json={
            "comments": [{"id": 1, "body": comment_body(BODY, event(2)), "plain_body": ""}],
            "next_page": None,
        },
        match=[matchers.query_param_matcher({"sort_order": "desc"})],
    )
    retry = BatchWrite(case_id=str(TICKET_ID), activity=activity_write(key=event(2)), retrying=True)

    [result] = fake_time_crm.write_batch([retry])

    assert result == LinkResult(
        case=RecordRef("zendesk", "ticket", str(TICKET_ID), False),
        activity=RecordRef("zendesk", "comment", "1", False),
    )


def test_outcomes_for_one_ticket_share_one_note_and_a_retry_finds_each_marker_in_it(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    note = "\n\n".join(comment_body(BODY, event(n)) for n in (1, 2, 3))
    pin_job(
        mocked,
        responses.PUT,
        "/tickets/update_many.json",
        {"tickets": [{**ticket_update(3, TICKET_ID), "comment": {"body": note, "public": False}}]},
        "V3-update",
    )
    pin_poll(mocked, "V3-update", job("V3-update", [updated(TICKET_ID)]))
    mocked.add(
        responses.GET,
        f"{API}/tickets/{TICKET_ID}/comments.json",
        json={"comments": [{"id": 77, "body": note, "plain_body": note}], "next_page": None},
        match=[matchers.query_param_matcher({"sort_order": "desc"})],
    )

    results = fake_time_crm.write_batch([append(n, TICKET_ID) for n in (1, 2, 3)])
    [again] = fake_time_crm.write_batch([BatchWrite(**{**vars(append(2, TICKET_ID)), "retrying": True})])

    assert [r.activity.id for r in results if isinstance(r, LinkResult)] == [event(n) for n in (1, 2, 3)]
    assert again.activity == RecordRef("zendesk", "comment", "77", False)  # found, nothing written again


def test_a_job_zendesk_refuses_through_the_retries_fails_its_own_records_and_the_other_job_is_followed(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM, fake_time: FakeTime
) -> None:
    """update_many answered 503 on every try (3, inside the call): its records fail with it (charged,
    retried later); the create job submitted beside it is still polled and its records linked."""
    known = customer(external_ids={"zendesk_user": str(USER_ID)})
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, USER_ID) for n in (1, 2, 3)]},
        "V3-create",
    )
    for _ in range(3):
        mocked.add(
            responses.PUT,
            f"{API}/tickets/update_many.json",
            status=503,
            json={"error": "ServiceUnavailable", "description": "Down for maintenance"},
        )
    pin_poll(
        mocked,
        "V3-create",
        job("V3-create", [created(i, NEW_TICKETS[i]) for i in range(3)]),
    )
    writes = [new_case(n, known) for n in (1, 2, 3)] + [append(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]

    results = fake_time_crm.write_batch(writes)

    assert [type(r).__name__ for r in results] == ["LinkResult"] * 3 + ["CrmRetryable"] * 3
    assert all(isinstance(r, CrmRetryable) and r.status == 503 for r in results[3:])
    assert len(fake_time.waits) == 2  # two waits between the three tries of the submit


def test_a_submit_of_unknown_fate_is_never_repeated_and_its_records_are_reconciled_later(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    """A read timeout after create_many left: a job may exist, so the submit is not sent again; its
    records are pending (looked up before any new write), the update job beside it is followed."""
    import requests

    known = customer(external_ids={"zendesk_user": str(USER_ID)})
    mocked.add(responses.POST, f"{API}/tickets/create_many.json", body=requests.ReadTimeout("read timed out"))
    pin_job(
        mocked,
        responses.PUT,
        "/tickets/update_many.json",
        {"tickets": [ticket_update(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]},
        "V3-update",
    )
    pin_poll(mocked, "V3-update", job("V3-update", [updated(t) for t in OTHER_TICKETS]))
    writes = [new_case(n, known) for n in (1, 2, 3)] + [append(n, OTHER_TICKETS[n - 4]) for n in (4, 5, 6)]

    results = fake_time_crm.write_batch(writes)

    assert [type(r).__name__ for r in results] == ["CrmWritePending"] * 3 + ["LinkResult"] * 3
    pending = results[0]
    assert isinstance(pending, CrmWritePending) and pending.retry_after == 60.0
    assert "fate is unknown" in pending.message


def test_a_failed_poll_is_tried_again_inside_the_call_honoring_retry_after(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM, fake_time: FakeTime
) -> None:
    known = customer(external_ids={"zendesk_user": str(USER_ID)})
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, USER_ID) for n in (1, 2, 3)]},
        "V3-create",
    )
    mocked.add(
        responses.GET,
        f"{API}/job_statuses/show_many.json",
        status=429,
        headers={"Retry-After": "3"},
        json={"error": "APIRateLimitExceeded", "description": "Too many requests"},
    )
    pin_poll(mocked, "V3-create", job("V3-create", [created(i, NEW_TICKETS[i]) for i in range(3)]))

    results = fake_time_crm.write_batch([new_case(n, known) for n in (1, 2, 3)])

    assert [type(r).__name__ for r in results] == ["LinkResult"] * 3
    assert fake_time.waits == [3.0]  # exactly Retry-After, never less


def test_more_than_100_new_tickets_are_two_jobs_polled_together(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    known = customer(external_ids={"zendesk_user": str(USER_ID)})
    numbers = list(range(1, 121))
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, USER_ID) for n in numbers[:100]]},
        "V3-a",
    )
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, USER_ID) for n in numbers[100:]]},
        "V3-b",
    )
    pin_poll(
        mocked,
        "V3-a,V3-b",
        job("V3-a", [created(i, 5000 + i) for i in range(100)]),
        job("V3-b", [created(i, 5100 + i) for i in range(20)]),
    )

    results = fake_time_crm.write_batch([new_case(n, known) for n in numbers])

    assert [r.case.id for r in results if isinstance(r, LinkResult)] == [str(5000 + i) for i in range(120)]


def test_a_rejected_note_merged_from_several_outcomes_is_retried_alone(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    note = "\n\n".join(comment_body(BODY, event(n)) for n in (1, 2, 3))
    pin_job(
        mocked,
        responses.PUT,
        "/tickets/update_many.json",
        {"tickets": [{**ticket_update(3, TICKET_ID), "comment": {"body": note, "public": False}}]},
        "V3-update",
    )
    failed = {"action": "update", "id": TICKET_ID, "success": False, "error": "RecordInvalid", "details": "x"}
    pin_poll(mocked, "V3-update", job("V3-update", [failed]))

    results = fake_time_crm.write_batch([append(n, TICKET_ID) for n in (1, 2, 3)])

    assert all(isinstance(r, CrmRetryable) and "retried alone" in str(r) for r in results)


def test_requesters_without_an_index_in_the_results_are_matched_by_external_id_never_by_position(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM
) -> None:
    pin_phone_search(mocked, *(f"1415555{n:04d}" for n in (1, 2, 3)))
    pin_job(
        mocked,
        responses.POST,
        "/users/create_or_update_many.json",
        {"users": [user(n) for n in (1, 2, 3)]},
        "V3-users",
    )
    # Updated users come back without ``index``, and here in another order.
    shuffled = [
        {"id": NEW_USER_IDS[i], "action": "update", "status": "Updated", "success": True} for i in (2, 0, 1)
    ]
    pin_poll(mocked, "V3-users", job("V3-users", shuffled))
    mocked.add(
        responses.GET,
        f"{API}/users/show_many.json",
        json={
            "users": [
                {"id": NEW_USER_IDS[n - 1], "external_id": f"cus_{n}", "name": f"Customer {n}"}
                for n in (3, 1, 2)
            ]
        },
        match=[matchers.query_param_matcher({"external_ids": "cus_1,cus_2,cus_3"})],
    )
    pin_job(
        mocked,
        responses.POST,
        "/tickets/create_many.json",
        {"tickets": [new_ticket(n, NEW_USER_IDS[n - 1]) for n in (1, 2, 3)]},
        "V3-create",
    )
    pin_poll(mocked, "V3-create", job("V3-create", [created(i, NEW_TICKETS[i]) for i in range(3)]))

    results = fake_time_crm.write_batch([new_case(n) for n in (1, 2, 3)])

    assert all(isinstance(r, LinkResult) for r in results)


def test_retries_during_an_outage_stop_at_the_first_failure_and_release_the_rest_unsent(
    mocked: responses.RequestsMock, fake_time_crm: ZendeskCRM, fake_time: FakeTime
) -> None:
    """The first retry meets a 503 on each of its 3 tries (bounded, inside the call): it alone is
    charged; the other two were never sent and say so (``CrmWriteNotSent``: no attempt charged)."""
    for _ in range(3):
        mocked.add(
            responses.GET,
            f"{API}/tickets/{TICKET_ID}/comments.json",
            status=503,
            json={"error": "ServiceUnavailable", "description": "Down for maintenance"},
        )
    retries = [BatchWrite(**{**vars(append(n, TICKET_ID)), "retrying": True}) for n in (1, 2, 3)]

    results = fake_time_crm.write_batch(retries)

    assert all(isinstance(r, CrmRetryable) and r.status == 503 for r in results)
    assert type(results[0]) is CrmRetryable
    assert [type(r) for r in results[1:]] == [CrmWriteNotSent] * 2
    assert "not sent" in results[1].message
    assert len(mocked.calls) == 3 and len(fake_time.waits) == 2  # the other two were never sent
