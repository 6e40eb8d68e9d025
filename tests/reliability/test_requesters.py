"""Zendesk requesters without duplicates (issue 15.5): a phone-only customer Talk already made an
end user for is adopted, remembered in the hub's table (every process, across restarts), looked up
once per customer, and two workers never both make the user."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
import responses
from responses import matchers
from sqlalchemy import Engine, select

from adapters.sandbox import ZENDESK_BASE_URL, Sandbox
from adapters.zendesk import build_crm
from hub.domain.errors import CrmWriteNotSent
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import (
    ActivityWrite,
    AdapterConfig,
    BatchWrite,
    CaseWrite,
    CustomerProfile,
    LinkResult,
    RequesterClaim,
)
from hub.services.clock import FixedClock
from hub.store.requester_tables import crm_requesters
from hub.store.requesters import StoredRequesters
from tests.adapters.test_batch_sandbox import Calls

T = TypeVar("T")
API = f"{ZENDESK_BASE_URL}/api/v2"
PHONE = "+14155550100"
SETTINGS = {"subdomain": "sandbox", "email": "hub@sandbox.invalid", "api_token": "sandbox-token"}
MAPPING = CrmMapping(
    crm="zendesk",
    case=ObjectMapping(object="ticket", key_field="external_id"),
    activity=ObjectMapping(object="comment"),
)


def in_thread(work: Callable[[], T]) -> T:
    """``work`` on another thread: another claimant, as another worker would be."""
    box: list[T] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join()
    return box[0]


@pytest.fixture
def sandbox(engine: Engine) -> Sandbox:
    box = Sandbox(engine)
    box.ensure_schema()
    box.reset()
    return box


def zendesk(sandbox: Sandbox, directory: StoredRequesters | None) -> tuple[Any, Calls]:
    session = sandbox.session()
    crm = build_crm(AdapterConfig(settings=SETTINGS, mapping=MAPPING, session=session, requesters=directory))
    return crm, Calls(session)


def talk_caller(sandbox: Sandbox, phone: str = PHONE, name: str = "Caller") -> int:
    """An end user made as Talk makes a caller: a phone identity, no external_id, no email."""
    user = {"name": name, "identities": [{"type": "phone_number", "value": phone}]}
    answer = sandbox.session().post(f"{API}/users.json", json={"user": user}, auth=("a@b.c/token", "t"))
    assert answer.status_code == 201, answer.text
    return int(answer.json()["user"]["id"])


def phone_only(n: int, phone: str | None = None) -> CustomerProfile:
    return CustomerProfile(key=f"cus_{n}", name=f"Customer {n}", phone=phone or f"+1415555{n:04d}")


def new_case(n: int, who: CustomerProfile) -> BatchWrite:
    return BatchWrite(
        case=CaseWrite(key=f"ep_req_{n:04d}", fields={"subject": f"SMS · {n}"}, customer=who),
        activity=ActivityWrite(key=f"ev_req_{n:04d}", body=f"SMS · first contact {n}", customer=who),
    )


def requester_of(sandbox: Sandbox, ticket_id: str) -> int:
    ticket = next(t for t in sandbox.records("zendesk", "ticket") if str(t["id"]) == ticket_id)
    return int(ticket["requester_id"])


def test_a_caller_talk_made_is_adopted_recorded_and_never_searched_again(
    engine: Engine, sandbox: Sandbox, clock: FixedClock
) -> None:
    talk_user = talk_caller(sandbox)
    identities = sandbox.session().get(f"{API}/users/{talk_user}/identities.json", auth=("a@b.c/token", "t"))
    assert [(i["type"], i["value"]) for i in identities.json()["identities"]] == [("phone_number", PHONE)]
    crm, calls = zendesk(sandbox, StoredRequesters(engine, clock))
    write = new_case(1, phone_only(1, PHONE))

    result = crm.create_case(write.case, write.activity, retrying=False)

    assert calls.sent == [("GET", "/api/v2/users/search.json"), ("POST", "/api/v2/tickets.json")]
    assert requester_of(sandbox, result.case.id) == talk_user
    assert len(sandbox.records("zendesk", "user")) == 1 + 1  # Talk's caller and the API agent only
    with engine.connect() as connection:
        row = connection.execute(select(crm_requesters)).one()
    assert (row.crm, row.customer_key, row.user_id, row.how) == ("zendesk", "cus_1", talk_user, "adopted")

    # Another process (a new adapter, empty memory) over the same table: no search, no user call.
    again, calls_again = zendesk(sandbox, StoredRequesters(engine, clock))
    second = new_case(2, phone_only(1, PHONE))
    result = again.create_case(second.case, second.activity, retrying=False)
    assert calls_again.sent == [("POST", "/api/v2/tickets.json")]
    assert requester_of(sandbox, result.case.id) == talk_user


def test_a_batch_looks_every_new_phone_up_in_one_search_adopts_what_it_finds_and_makes_the_rest(
    engine: Engine, sandbox: Sandbox, clock: FixedClock
) -> None:
    known = {n: talk_caller(sandbox, f"+1415555{n:04d}", f"Caller {n}") for n in (1, 3)}
    crm, calls = zendesk(sandbox, StoredRequesters(engine, clock))
    writes = [new_case(n, phone_only(n)) for n in (1, 2, 3, 4)]

    results = crm.write_batch(writes)

    assert all(isinstance(r, LinkResult) for r in results)
    assert calls.sent[0] == ("GET", "/api/v2/users/search.json")
    assert calls.sent.count(("GET", "/api/v2/users/search.json")) == 1
    assert calls.sent.count(("POST", "/api/v2/users/create_or_update.json")) == 2  # customers 2 and 4
    requesters = [requester_of(sandbox, r.case.id) for r in results if isinstance(r, LinkResult)]
    assert requesters[0] == known[1] and requesters[2] == known[3]
    assert len(set(requesters)) == 4
    assert len(sandbox.records("zendesk", "user")) == 1 + 4
    recorded = StoredRequesters(engine, clock).known("zendesk", ["cus_1", "cus_2", "cus_3", "cus_4"])
    assert recorded == {"cus_1": known[1], "cus_2": requesters[1], "cus_3": known[3], "cus_4": requesters[3]}


def test_while_another_worker_resolves_the_customer_nothing_is_sent(
    engine: Engine, sandbox: Sandbox, clock: FixedClock
) -> None:
    directory = StoredRequesters(engine, clock)
    assert in_thread(lambda: directory.claim("zendesk", ["cus_1"]))["cus_1"].mine  # another worker holds it
    crm, calls = zendesk(sandbox, directory)
    write = new_case(1, phone_only(1))

    with pytest.raises(CrmWriteNotSent) as caught:
        crm.create_case(write.case, write.activity, retrying=False)

    assert caught.value.retry_after == 3.0
    assert calls.sent == []
    assert sandbox.records("zendesk", "ticket") == []


def test_the_claim_is_one_workers_until_recorded_or_expired(engine: Engine, clock: FixedClock) -> None:
    directory = StoredRequesters(engine, clock, ttl=timedelta(seconds=60))

    def claim(key: str = "cus_1", *, elsewhere: bool = False) -> RequesterClaim:
        work = lambda: directory.claim("zendesk", [key])[key]  # noqa: E731
        return in_thread(work) if elsewhere else work()

    first = claim()
    assert first.mine and first.user_id is None
    assert claim().mine  # the holder again (a retry inside the call)
    other = claim(elsewhere=True)
    assert not other.mine and other.user_id is None
    clock.advance(seconds=61)  # the holder died
    assert claim(elsewhere=True).mine
    assert not claim().mine  # taken over: the old holder lost it
    directory.record("zendesk", {"cus_1": 77}, how="created")
    known = claim(elsewhere=True)
    assert (known.mine, known.user_id) == (False, 77)
    both = directory.claim("zendesk", ["cus_1", "cus_2"])
    assert (both["cus_1"].user_id, both["cus_2"].mine) == (77, True)
    directory.release("zendesk", ["cus_2"])
    assert claim("cus_2", elsewhere=True).mine  # released: the next comer claims it
    assert directory.known("zendesk", ["cus_1", "cus_2"]) == {"cus_1": 77}
    assert directory.known("salesforce", ["cus_1"]) == {}


def test_two_workers_meeting_a_new_customer_at_once_make_one_user(
    engine: Engine, sandbox: Sandbox, clock: FixedClock
) -> None:
    """Eight threads (eight claimants) write the same new customer's first ticket at once: one
    looks the phone up and makes the user; the others are told to come back and then adopt it."""
    directory = StoredRequesters(engine, clock)
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def work(n: int) -> None:
        crm, _ = zendesk(sandbox, directory)
        write = new_case(n, phone_only(1))
        start.wait()
        for _ in range(1000):  # at most ~20 s on a loaded machine
            try:
                crm.create_case(write.case, write.activity, retrying=False)
                outcomes.append("linked")
                return
            except CrmWriteNotSent:
                threading.Event().wait(0.02)  # a real thread handing over: no clock to advance
        outcomes.append("gave up")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == ["linked"] * 8
    made = [u for u in sandbox.records("zendesk", "user") if u.get("external_id") == "cus_1"]
    assert len(made) == 1
    assert {int(t["requester_id"]) for t in sandbox.records("zendesk", "ticket")} == {int(made[0]["id"])}


def test_the_exact_lookup_and_only_a_same_phone_end_user_is_adopted() -> None:
    """Pinned: one search for the new phones (digits, role:end-user); a result whose phone differs
    (the search also matches prefixes) or who is an agent is never adopted."""
    acme = "https://acme.zendesk.com/api/v2"
    settings = {"subdomain": "acme", "email": "hub@acme.test", "api_token": "token"}
    crm = build_crm(AdapterConfig(settings=settings, mapping=MAPPING))
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mocked:
        mocked.get(
            f"{acme}/users/search.json",
            match=[matchers.query_param_matcher({"query": "role:end-user phone:14155550100"})],
            json={
                "users": [
                    {"id": 501, "role": "end-user", "phone": "+1 415 555 01001", "active": True},
                    {"id": 502, "role": "agent", "phone": "+14155550100", "active": True},
                    {"id": 503, "role": "end-user", "phone": "(415) 555-0100 ", "active": True},
                    {"id": 504, "role": "end-user", "phone": "+1 (415) 555-0100", "active": True},
                ],
                "next_page": None,
                "previous_page": None,
                "count": 4,
            },
        )
        found = crm.requester_for(phone_only(1, PHONE))
    assert found == {"requester_id": 504}  # 503's digits lack the country code: not the same phone
    with responses.RequestsMock():  # remembered: no call at all
        assert crm.requester_for(phone_only(1, PHONE)) == {"requester_id": 504}


def test_sandbox_search_ors_a_repeated_keyword_and_matches_phones_by_digits(sandbox: Sandbox) -> None:
    a = talk_caller(sandbox, "+14155550101", "A")
    b = talk_caller(sandbox, "+14155550102", "B")
    session = sandbox.session()

    def search(query: str) -> list[int]:
        answer = session.get(f"{API}/users/search.json", params={"query": query}, auth=("a@b.c/token", "t"))
        return sorted(int(u["id"]) for u in answer.json()["users"])

    assert search("role:end-user phone:14155550101 phone:14155550102 phone:19999999999") == sorted([a, b])
    assert search("phone:*4155550102") == [b]
    assert search("role:agent phone:14155550101") == []
