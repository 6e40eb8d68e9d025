"""The Zendesk fake, driven through the real zenpy client."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, CustomField, Ticket, User
from zenpy.lib.exception import APIException, RecordNotFoundException, TooManyValuesException

from adapters.sandbox import ZENDESK_BASE_URL, Sandbox

from .conftest import FakeClock

DISPOSITION, INTENT, CHANNEL, EPISODE = 360000000001, 360000000002, 360000000003, 360000000004
TICKETS = f"{ZENDESK_BASE_URL}/api/v2/tickets.json"


def body_of(exc: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    return exc.value.response.json()


def new_ticket(**kwargs: Any) -> Ticket:
    kwargs.setdefault("subject", "Order status")
    kwargs.setdefault("comment", Comment(body="Customer asked about order 1234 in chat.", public=False))
    return Ticket(**kwargs)


def test_create_get_update_and_comments(zd: Zenpy, sb: Sandbox) -> None:
    audit = zd.tickets.create(
        new_ticket(
            external_id="ep-1",
            requester=User(name="Jane Roe", email="jane@example.com"),
            priority="high",
            tags=["vip"],
            custom_fields=[
                CustomField(id=DISPOSITION, value="ctihub_chat_resolved"),
                CustomField(id=INTENT, value="order_status"),
                CustomField(id=EPISODE, value="ep-1"),
            ],
        )
    )
    ticket = audit.ticket
    assert ticket.status == "new" and ticket.priority == "high" and ticket.external_id == "ep-1"
    assert ticket.description == "Customer asked about order 1234 in chat."
    assert ticket.url == f"{ZENDESK_BASE_URL}/api/v2/tickets/{ticket.id}.json"
    assert ticket.created_at == "2026-03-02T09:30:00Z"
    assert set(ticket.tags) == {"vip", "ctihub_chat_resolved", "order_status"}
    values = {f["id"]: f["value"] for f in ticket.custom_fields}
    assert values == {
        DISPOSITION: "ctihub_chat_resolved",
        INTENT: "order_status",
        CHANNEL: None,
        EPISODE: "ep-1",
        360000000005: None,  # CTI Hub SLA due
    }
    requester = zd.users(id=ticket.requester_id)
    assert (requester.name, requester.email, requester.role) == ("Jane Roe", "jane@example.com", "end-user")
    agent = zd.users.me()
    assert ticket.submitter_id == agent.id and agent.email == "agent@example.com"
    assert audit.audit.events[0]["type"] == "Comment"

    ticket.comment = Comment(body="SMS follow-up sent.", public=True)
    ticket.status = "pending"
    ticket.custom_fields = [CustomField(id=DISPOSITION, value="ctihub_sms_resolved")]
    updated = zd.tickets.update(ticket).ticket
    assert updated.status == "pending"
    assert "ctihub_sms_resolved" in updated.tags and "ctihub_chat_resolved" not in updated.tags
    assert zd.tickets(id=ticket.id).status == "pending"

    comments = list(zd.tickets.comments(ticket=ticket.id))
    assert [(c.body, c.public, c.type) for c in comments] == [
        ("Customer asked about order 1234 in chat.", False, "Comment"),
        ("SMS follow-up sent.", True, "Comment"),
    ]
    assert comments[0].html_body.startswith('<div class="zd-comment"')
    assert comments[1].author_id == agent.id
    stored = sb.records("zendesk", "comment")
    assert [c["ticket_id"] for c in stored] == [ticket.id, ticket.id]


def test_list_by_external_id_returns_every_match(zd: Zenpy) -> None:
    first = zd.tickets.create(new_ticket(external_id="shared")).ticket
    second = zd.tickets.create(new_ticket(external_id="shared")).ticket
    zd.tickets.create(new_ticket(external_id="other"))
    assert [t.id for t in zd.tickets(external_id="shared")] == [first.id, second.id]
    assert list(zd.tickets(external_id="absent")) == []


def test_create_accepts_the_legacy_description(sb: Sandbox) -> None:
    session = sb.session()
    response = session.post(
        TICKETS,
        json={"ticket": {"subject": "test", "description": "test"}},
        auth=("agent@example.com/token", "t"),
    )
    assert response.status_code == 201
    assert response.headers["Location"] == f"{ZENDESK_BASE_URL}/api/v2/tickets/1.json"
    body = response.json()
    assert set(body) == {"ticket", "audit"}
    assert body["ticket"]["description"] == "test" and body["ticket"]["status"] == "new"
    assert (
        body["audit"]["events"][0]["html_body"]
        == '<div class="zd-comment" dir="auto"><p dir="auto">test</p></div>'
    )


def test_idempotency_key(sb: Sandbox, clock: FakeClock) -> None:
    session = sb.session()
    session.auth = ("agent@example.com/token", "t")
    payload = {"ticket": {"subject": "once", "comment": {"body": "first contact"}}}
    first = session.post(TICKETS, json=payload, headers={"Idempotency-Key": "ep-7"})
    assert first.status_code == 201 and first.headers["x-idempotency-lookup"] == "miss"
    replay = session.post(TICKETS, json=payload, headers={"Idempotency-Key": "ep-7"})
    assert replay.status_code == 201 and replay.headers["x-idempotency-lookup"] == "hit"
    assert replay.json() == first.json()
    assert len(sb.records("zendesk", "ticket")) == 1

    mismatch = session.post(
        TICKETS,
        json={"ticket": {"subject": "other", "comment": {"body": "x"}}},
        headers={"Idempotency-Key": "ep-7"},
    )
    assert mismatch.status_code == 400
    assert mismatch.json() == {
        "error": "IdempotentRequestError",
        "description": "Request parameters don't match the given idempotency key",
    }
    clock.advance(hours=2, seconds=1)
    expired = session.post(TICKETS, json=payload, headers={"Idempotency-Key": "ep-7"})
    assert expired.status_code == 201 and expired.headers["x-idempotency-lookup"] == "miss"
    assert len(sb.records("zendesk", "ticket")) == 2


def test_validation_errors(zd: Zenpy, sb: Sandbox) -> None:
    with pytest.raises(APIException) as exc:
        zd.tickets.create(new_ticket(custom_fields=[CustomField(id=DISPOSITION, value="ctihub_made_up")]))
    assert exc.value.response.status_code == 422
    body = body_of(exc)
    assert body["error"] == "RecordInvalid" and body["description"] == "Record validation errors"
    assert body["details"]["base"][0]["ticket_field_id"] == DISPOSITION
    assert "ctihub_made_up" in body["details"]["base"][0]["description"]

    with pytest.raises(APIException) as exc:
        zd.tickets.create(new_ticket(custom_fields=[CustomField(id=999, value="x")]))
    assert exc.value.response.status_code == 422

    for bad in ({"status": "resolved"}, {"priority": "critical"}, {"type": "bug"}):
        with pytest.raises(APIException) as exc:
            zd.tickets.create(new_ticket(**bad))
        assert exc.value.response.status_code == 422
        assert list(body_of(exc)["details"]) == list(bad)

    with pytest.raises(APIException) as exc:
        zd.tickets.create(Ticket(subject="no comment"))
    assert exc.value.response.status_code == 422
    assert body_of(exc)["details"]["description"][0]["description"] == "Description: cannot be blank"

    with pytest.raises(APIException) as exc:
        zd.tickets.create(new_ticket(requester_id=12345))
    assert exc.value.response.status_code == 422
    assert sb.records("zendesk", "ticket") == []

    # Zendesk's documented permissive mode: unknown fields and values are dropped silently.
    sb.strict_zendesk_fields = False
    ticket = zd.tickets.create(
        new_ticket(
            custom_fields=[
                CustomField(id=DISPOSITION, value="ctihub_made_up"),
                CustomField(id=CHANNEL, value="channel_sms"),
            ]
        )
    ).ticket
    assert {f["id"]: f["value"] for f in ticket.custom_fields}[DISPOSITION] is None
    assert ticket.tags == ["channel_sms"]


def test_not_found_and_auth(zd: Zenpy, sb: Sandbox) -> None:
    with pytest.raises(RecordNotFoundException) as exc:
        zd.tickets(id=9223372036854775807)
    assert body_of(exc) == {"error": "RecordNotFound", "description": "Not found"}
    with pytest.raises(RecordNotFoundException):
        zd.tickets.update(Ticket(id=424242, subject="x"))
    anonymous = sb.session().get(TICKETS)
    assert anonymous.status_code == 401 and anonymous.json() == {"error": "Couldn't authenticate you"}
    bearer = sb.session().get(TICKETS, headers={"Authorization": "Bearer token"})
    assert bearer.status_code == 200 and bearer.json() == {
        "tickets": [],
        "next_page": None,
        "previous_page": None,
        "count": 0,
    }


def test_closed_and_solved_rules(zd: Zenpy) -> None:
    ticket = zd.tickets.create(new_ticket()).ticket
    ticket.status = "solved"
    with pytest.raises(APIException) as exc:
        zd.tickets.update(ticket)
    assert body_of(exc)["details"]["base"][0]["description"] == "Assignee: is required when solving a ticket"
    agent = zd.users.me()
    closing = Ticket(id=ticket.id, status="closed", assignee_id=agent.id)
    assert zd.tickets.update(closing).ticket.status == "closed"
    with pytest.raises(APIException) as exc:
        zd.tickets.update(Ticket(id=ticket.id, comment=Comment(body="too late")))
    assert exc.value.response.status_code == 422
    assert body_of(exc)["details"] == {"status": [{"description": "closed prevents ticket update"}]}


def test_create_many_limit_and_job_status(zd: Zenpy) -> None:
    with pytest.raises(TooManyValuesException) as exc:
        zd.tickets.create([new_ticket() for _ in range(101)])
    assert body_of(exc) == {
        "error": "TooManyValues",
        "description": "Parameter  cannot specify more than 100 values",
        "max_count": 100,
    }
    job = zd.tickets.create(
        [new_ticket(subject="bulk 1"), new_ticket(subject="bulk 2"), Ticket(subject="no body")]
    )
    assert job.status == "queued" and job.id.startswith("V3-")
    done = zd.job_status(id=job.id)
    assert done.status == "completed" and done.total == 3 and done.progress == 3
    assert done.message.startswith("Completed at ")
    results = [{k: v for k, v in r.to_dict().items() if v is not None} for r in done.results]
    ok = [r for r in results if "id" in r]
    assert ok[0] == {"index": 0, "id": ok[0]["id"], "account_id": ok[0]["account_id"]}
    assert [r["index"] for r in ok] == [0, 1]
    failed = [r for r in results if r.get("success") is False]
    assert failed[0]["index"] == 2 and failed[0]["error"] == "RecordInvalid"

    ids = [r["id"] for r in ok]
    update_job = zd.tickets.update(
        [
            Ticket(id=ids[0], priority="low"),
            Ticket(id=ids[1], priority="urgent"),
            Ticket(id=987654, priority="low"),
        ]
    )
    results = [
        {k: v for k, v in r.to_dict().items() if v is not None}
        for r in zd.job_status(id=update_job.id).results
    ]
    assert results[:2] == [
        {"action": "update", "id": ids[0], "status": "Updated", "success": True},
        {"action": "update", "id": ids[1], "status": "Updated", "success": True},
    ]
    assert results[2]["success"] is False and results[2]["error"] == "RecordNotFound"
    assert zd.tickets(id=ids[1]).priority == "urgent"
    with pytest.raises(TooManyValuesException):
        zd.tickets.update([Ticket(id=i + 1, priority="low") for i in range(101)])


def test_update_many_by_ids(sb: Sandbox, zd: Zenpy) -> None:
    ids = [zd.tickets.create(new_ticket()).ticket.id for _ in range(2)]
    session = sb.session()
    response = session.put(
        f"{ZENDESK_BASE_URL}/api/v2/tickets/update_many.json",
        params={"ids": ",".join(map(str, ids))},
        json={"ticket": {"status": "open"}},
        auth=("agent@example.com/token", "t"),
    )
    assert response.status_code == 200 and response.json()["job_status"]["status"] == "queued"
    assert {t["status"] for t in sb.records("zendesk", "ticket")} == {"open"}


def test_ticket_fields(zd: Zenpy) -> None:
    fields = {f.id: f for f in zd.ticket_fields()}
    disposition = fields[DISPOSITION]
    assert disposition.type == "tagger" and disposition.title == "CTI Hub disposition" and disposition.active
    options = [o.to_dict() for o in disposition.custom_field_options]
    assert len(options) == 22 and {"id", "name", "value", "default"} <= set(options[0])
    assert "ctihub_callback_requested" in {o["value"] for o in options}
    assert fields[CHANNEL].custom_field_options[0].value == "channel_chat"
    assert fields[EPISODE].type == "text"
    assert {f.type for f in fields.values()} >= {
        "subject",
        "description",
        "status",
        "priority",
        "tagger",
        "text",
    }


def test_merge(zd: Zenpy, sb: Sandbox) -> None:
    target = zd.tickets.create(new_ticket(subject="Target")).ticket
    source = zd.tickets.create(new_ticket(subject="Duplicate from SMS")).ticket
    job = zd.tickets.merge(
        target.id,
        [source.id],
        target_comment="Merged the SMS ticket.",
        source_comment="Closed: duplicate of the chat ticket.",
    )
    assert job.status == "queued"
    assert zd.job_status(id=job.id).status == "completed"
    merged = zd.tickets(id=source.id)
    assert merged.status == "closed" and "closed_by_merge" in merged.tags
    source_comments = list(zd.tickets.comments(ticket=source.id))
    assert (source_comments[-1].body, source_comments[-1].public) == (
        "Closed: duplicate of the chat ticket.",
        False,
    )
    target_comments = list(zd.tickets.comments(ticket=target.id))
    assert (target_comments[-1].body, target_comments[-1].public) == ("Merged the SMS ticket.", False)
    assert zd.tickets(id=target.id).status == "new"

    # Sources that are closed, or a solved target, make the job fail and change nothing.
    another = zd.tickets.create(new_ticket(subject="Another")).ticket
    failing = zd.tickets.merge(target.id, [source.id])
    assert zd.job_status(id=failing.id).status == "failed"
    agent = zd.users.me()
    zd.tickets.update(Ticket(id=target.id, status="solved", assignee_id=agent.id))
    failing = zd.tickets.merge(target.id, [another.id])
    status = zd.job_status(id=failing.id)
    assert status.status == "failed" and "target" in status.message
    assert zd.tickets(id=another.id).status == "new"
    with pytest.raises(RecordNotFoundException):
        zd.tickets.merge(999999, [another.id])


def test_users_create_or_update(sb: Sandbox) -> None:
    session = sb.session()
    session.auth = ("agent@example.com/token", "t")
    url = f"{ZENDESK_BASE_URL}/api/v2/users/create_or_update.json"
    created = session.post(
        url,
        json={
            "user": {"name": "Sam", "email": "Sam@Example.com", "phone": "+15550100", "external_id": "cust-1"}
        },
    )
    assert created.status_code == 201
    user = created.json()["user"]
    assert user["url"] == f"{ZENDESK_BASE_URL}/api/v2/users/{user['id']}.json" and user["role"] == "end-user"
    by_email = session.post(url, json={"user": {"name": "Sam Smith", "email": "sam@example.com"}})
    assert by_email.status_code == 200 and by_email.json()["user"]["id"] == user["id"]
    by_external = session.post(url, json={"user": {"name": "Samuel", "external_id": "CUST-1"}})
    assert by_external.status_code == 200 and by_external.json()["user"]["name"] == "Samuel"
    assert (
        session.get(f"{ZENDESK_BASE_URL}/api/v2/users/{user['id']}.json").json()["user"]["phone"]
        == "+15550100"
    )
    bad = session.post(url, json={"user": {"name": "", "email": "x@example.com"}})
    assert bad.status_code == 422 and bad.json()["details"]["name"][0]["description"].startswith("Name:")
    found = session.get(
        f"{ZENDESK_BASE_URL}/api/v2/users/search.json", params={"query": "email:sam@example.com"}
    )
    assert [u["id"] for u in found.json()["users"]] == [user["id"]]
    missing = session.get(f"{ZENDESK_BASE_URL}/api/v2/users/1.json")
    assert missing.status_code == 404


def test_zenpy_user_create_or_update(zd: Zenpy) -> None:
    first = zd.users.create_or_update(User(name="Lee", email="lee@example.com"))
    second = zd.users.create_or_update(User(name="Lee Park", email="lee@example.com"))
    assert first.id == second.id and second.name == "Lee Park"


def test_paths_work_with_and_without_json_suffix(sb: Sandbox, zd: Zenpy) -> None:
    ticket = zd.tickets.create(new_ticket()).ticket
    session = sb.session()
    session.auth = ("agent@example.com/token", "t")
    plain = session.get(f"{ZENDESK_BASE_URL}/api/v2/tickets/{ticket.id}")
    suffixed = session.get(f"{ZENDESK_BASE_URL}/api/v2/tickets/{ticket.id}.json")
    assert plain.json() == suffixed.json()
    assert json.loads(plain.content)["ticket"]["id"] == ticket.id
    assert isinstance(plain, requests.Response) and plain.headers["Content-Type"].startswith(
        "application/json"
    )


def test_end_user_authored_first_comment(zd: Zenpy) -> None:
    customer = zd.users.create_or_update(User(name="Cara", email="cara@example.com"))
    ticket = zd.tickets.create(
        Ticket(
            subject="From SMS",
            requester_id=customer.id,
            comment=Comment(body="My order?", author_id=customer.id),
        )
    ).ticket
    assert ticket.requester_id == customer.id and ticket.submitter_id == customer.id
    assert next(iter(zd.tickets.comments(ticket=ticket.id))).author_id == customer.id
