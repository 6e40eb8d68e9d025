"""``write_batch`` of both real adapters against the sandbox: a burst of new cases and appends costs a
few calls, every record gets its own result, a rejected record fails alone, and a repeated batch
(through the single path, ``retrying``) writes nothing twice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine

from adapters.sandbox import SALESFORCE_INSTANCE_URL, Sandbox
from hub.domain.errors import CrmRecordRejected
from hub.domain.mapping import CrmMapping, ObjectMapping
from hub.ports import ActivityWrite, AdapterConfig, BatchWrite, CaseWrite, CustomerProfile, LinkResult


@pytest.fixture
def sandbox(tmp_path: Any) -> Iterator[Sandbox]:
    engine = create_engine(f"sqlite:///{tmp_path / 'sandbox.db'}")
    box = Sandbox(engine)
    box.ensure_schema()
    yield box
    engine.dispose()


class Calls:
    """Every request the adapter sends through the sandbox session: (method, path)."""

    def __init__(self, session: Any) -> None:
        self.sent: list[tuple[str, str]] = []
        session.hooks["response"].append(self._hook)

    def _hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        from urllib.parse import urlsplit

        self.sent.append((str(response.request.method), urlsplit(response.request.url).path))


def salesforce(sandbox: Sandbox) -> tuple[Any, Calls]:
    from adapters.salesforce import build_crm

    session = sandbox.session()
    crm = build_crm(
        AdapterConfig(
            settings={"instance_url": SALESFORCE_INSTANCE_URL, "access_token": "sandbox-token"},
            mapping=CrmMapping(
                crm="salesforce",
                case=ObjectMapping(object="Case", key_field="CTI_Hub_Key__c"),
                activity=ObjectMapping(object="Task", key_field="CTI_Hub_Event_Key__c"),
            ),
            session=session,
        )
    )
    return crm, Calls(session)


def zendesk(sandbox: Sandbox) -> tuple[Any, Calls]:
    from adapters.zendesk import build_crm

    session = sandbox.session()
    crm = build_crm(
        AdapterConfig(
            settings={"subdomain": "sandbox", "email": "hub@sandbox.invalid", "api_token": "sandbox-token"},
            mapping=CrmMapping(
                crm="zendesk",
                case=ObjectMapping(object="ticket", key_field="external_id"),
                activity=ObjectMapping(object="comment"),
            ),
            session=session,
        )
    )
    return crm, Calls(session)


def who(n: int, *, email: bool) -> CustomerProfile:
    if email:
        return CustomerProfile(key=f"cus_{n}", name=f"Customer {n}", email=f"c{n}@example.com")
    return CustomerProfile(key=f"cus_{n}", name=f"Customer {n}", phone=f"+1415555{n:04d}")


def new_case(crm: str, n: int, *, email: bool = True, **fields: Any) -> BatchWrite:
    subject = {"Subject" if crm == "salesforce" else "subject": f"Chat · case {n}"}
    customer = who(n, email=email)
    return BatchWrite(
        case=CaseWrite(key=f"ep_batch_{n:04d}", fields={**subject, **fields}, customer=customer),
        activity=ActivityWrite(key=f"ev_batch_{n:04d}", body=f"Chat · first contact {n}", customer=customer),
    )


def append(crm: str, case_id: str, n: int, **case_fields: Any) -> BatchWrite:
    return BatchWrite(
        case_id=case_id,
        activity=ActivityWrite(key=f"ev_more_{n:04d}", body=f"SMS · follow-up {n}", case_fields=case_fields),
    )


@pytest.mark.parametrize("crm_name", ["salesforce", "zendesk"])
def test_a_burst_of_new_cases_and_appends_costs_a_few_calls(sandbox: Sandbox, crm_name: str) -> None:
    crm, calls = (salesforce if crm_name == "salesforce" else zendesk)(sandbox)
    seeds = [new_case(crm_name, n) for n in range(5)]
    seeds = [crm.create_case(w.case, w.activity, retrying=False) for w in seeds]
    calls.sent.clear()
    status = {"Status": "Working"} if crm_name == "salesforce" else {"status": "open"}
    writes = [new_case(crm_name, n, email=n % 2 == 0) for n in range(100, 140)]
    writes += [append(crm_name, seeds[n % 5].case.id, n, **status) for n in range(10)]  # 2 per case

    results = crm.write_batch(writes)

    assert [r for r in results if not isinstance(r, LinkResult)] == []
    assert [r.case.created for r in results] == [True] * 40 + [False] * 10
    assert len({r.case.id for r in results[:40]}) == 40
    assert [r.case.id for r in results[40:]] == [seeds[n % 5].case.id for n in range(10)]
    if crm_name == "salesforce":  # the cases, updates and appended tasks; then the new cases' tasks
        assert calls.sent == [("POST", "/services/data/v59.0/composite")] * 2
    else:  # the 20 phone-only customers looked up by phone (one search), none found; phase 0: their
        # users, the email customers' tickets and one update per seed ticket (its two outcomes in one
        # note); phase 1: the phone-only customers' tickets
        assert calls.sent == [
            ("GET", "/api/v2/users/search.json"),
            ("POST", "/api/v2/users/create_or_update_many.json"),
            ("POST", "/api/v2/tickets/create_many.json"),
            ("PUT", "/api/v2/tickets/update_many.json"),
            ("GET", "/api/v2/job_statuses/show_many.json"),
            ("POST", "/api/v2/tickets/create_many.json"),
            ("GET", "/api/v2/job_statuses/show_many.json"),
        ]
    case_object, activity_object = ("Case", "Task") if crm_name == "salesforce" else ("ticket", "comment")
    assert len(sandbox.records(crm_name, case_object)) == 45
    activities = sandbox.records(crm_name, activity_object)
    if crm_name == "salesforce":
        assert len(activities) == 5 + 50
    else:  # a note per new ticket, one per seed ticket holding both of its outcomes, in order
        assert len(activities) == 5 + 40 + 5
        notes = [a["body"] for a in activities if "ev_more_" in a["body"]]
        keys = [re.findall(r"ev_more_\d{4}", note) for note in notes]
        assert sorted(keys) == [[f"ev_more_{n:04d}", f"ev_more_{n + 5:04d}"] for n in range(5)]


@pytest.mark.parametrize("crm_name", ["salesforce", "zendesk"])
def test_a_rejected_record_fails_alone_with_the_crms_reason(sandbox: Sandbox, crm_name: str) -> None:
    crm, _ = (salesforce if crm_name == "salesforce" else zendesk)(sandbox)
    bad = {"Origin": "Carrier pigeon"} if crm_name == "salesforce" else {"priority": "super"}
    writes = [new_case(crm_name, 1), new_case(crm_name, 2, **bad), new_case(crm_name, 3)]

    results = crm.write_batch(writes)

    assert isinstance(results[0], LinkResult) and isinstance(results[2], LinkResult)
    assert isinstance(results[1], CrmRecordRejected)
    assert results[1].crm_code in ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "RecordInvalid")
    assert len(sandbox.records(crm_name, "Case" if crm_name == "salesforce" else "ticket")) == 2


@pytest.mark.parametrize("crm_name", ["salesforce", "zendesk"])
def test_a_batch_repeated_with_retrying_writes_nothing_twice(sandbox: Sandbox, crm_name: str) -> None:
    crm, _ = (salesforce if crm_name == "salesforce" else zendesk)(sandbox)
    writes = [new_case(crm_name, n, email=n % 2 == 0) for n in range(1, 6)]
    first = crm.write_batch(writes)

    again = crm.write_batch([BatchWrite(w.activity, w.case, w.case_id, retrying=True) for w in writes])

    assert [r.case.id for r in again] == [r.case.id for r in first]
    object_name, activity_name = ("Case", "Task") if crm_name == "salesforce" else ("ticket", "comment")
    assert len(sandbox.records(crm_name, object_name)) == 5
    assert len(sandbox.records(crm_name, activity_name)) == 5
