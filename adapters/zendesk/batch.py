"""Many outcomes in a few calls: Zendesk's bulk jobs (``ZendeskCRM.write_batch``).

    phase 0  POST /api/v2/users/create_or_update_many.json  phone-only requesters (3 or more), keyed
                                                            by the hub's customer key
             POST /api/v2/tickets/create_many.json          tickets whose requester is known
             PUT  /api/v2/tickets/update_many.json          one update per ticket: the batch's
                                                            outcomes for it share a private note
             GET  /api/v2/job_statuses/show_many.json?ids=  every job of the phase, until done
    phase 1  POST /api/v2/tickets/create_many.json          the tickets that waited for requesters
             GET  /api/v2/job_statuses/show_many.json?ids=
    phase n  PUT  /api/v2/tickets/update_many.json          a ticket's outcomes beyond ``PER_NOTE``

Jobs hold at most 100 records. Each job's ``results`` say, record by record, what happened: a failed
entry fails its outcome alone (``errors.from_job_result``); a rejected note merged from several
outcomes fails them as retryable, and a retry goes alone. A failed job fails its records as
retryable.

Transient failures are retried inside the call (``retry``, the adapter's ``RetryPolicy``: a few
tries, Retry-After waited exactly, never undercut): a poll always (a GET changes nothing); a submit
only when Zendesk answered it (a 429 or 5xx answer made no job), never when its fate is unknown (a
timeout or a reset after the request left: a job may exist, and a second one would write twice).
A job still running at the batch's deadline, or a submit or poll whose fate stays unknown, may still
land: its writes fail with ``CrmWritePending`` (retried after ``pending_retry``, 60 s, while the
hub holds the episode's case claim), and the retry reconciles by looking the records up before
writing (the single path: the ticket by external_id, the comment by its marker), so nothing is
written twice and nothing is dead-lettered blind. Writes a failure stopped before they were
submitted are answered ``CrmWriteNotSent`` (no attempt charged). A batch of fewer than three writes
goes one by one, each under the same retry policy: a job costs its submit and a poll.

A note holding several outcomes has one section per outcome, each ending with its own marker line,
so a retry finds each of them (``crm.has_marker``). Zendesk does not answer a comment's id in a job's
results: a batched activity is recorded by its marker key (``ev_…``), which finds it in the ticket.

Bulk user imports are off by default on a Zendesk account (403): the adapter then creates those
requesters one by one (``users/create_or_update``) and remembers not to try again. Every requester
it makes is remembered by customer key, so a customer's next ticket costs no user call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from hub.domain.errors import (
    CrmError,
    CrmRecordRejected,
    CrmRetryable,
    CrmWriteNotSent,
    CrmWritePending,
    each_record_failure,
)
from hub.ports import BatchWrite, CustomerProfile, LinkResult, RecordRef

from .errors import CRM, from_job_result, translated

if TYPE_CHECKING:
    from zenpy import Zenpy

    from adapters.http import RetryPolicy

    from . import client
    from .crm import ZendeskCRM

T = TypeVar("T")
REFUSED = "NotBeforeRetryAfter"  # crm_code of a request the batch held back for the Retry-After
BULK_LIMIT = 100
PER_NOTE = 10  # outcomes of one batch for one ticket share a private note (each with its marker)
BULK_FROM = 3  # fewer writes of a kind go one by one: a job costs its submit and a poll
Requester = dict[str, Any] | CrmError  # ticket properties naming the requester, or why there is none
# (job id or "" for none, the writes of each of its records, "create" | "update")
Job = tuple[str, list[list[int]], str]
DONE = frozenset({"completed", "failed", "killed"})


@dataclass(frozen=True)
class JobPolicy:
    """How to follow a job: first pause, longest pause, the deadline (seconds), and the clock."""

    first_pause: float = 0.5
    longest_pause: float = 5.0
    # For the whole batch. The worker's lease (120 s) covers a link batch's waves (at most 3).
    deadline: float = 30.0
    pending_retry: float = 60.0  # a write whose job may still land: reconciled (looked up) no sooner
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def _answered(error: BaseException) -> bool:
    """Whether Zendesk answered the failed request (so it made nothing and may be sent again)."""
    return getattr(error, "status", None) is not None


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class JobsBatch:
    """One batch of writes: their tickets, the jobs that carry them, and each write's result."""

    def __init__(
        self,
        crm: ZendeskCRM,
        session: client.BoundSession,
        zenpy: Zenpy,
        writes: Sequence[BatchWrite],
        *,
        policy: JobPolicy,
        retry: RetryPolicy | None = None,
    ) -> None:
        from adapters.http import RetryPolicy

        self.retry = retry or RetryPolicy.none()
        self.crm = crm
        self.session = session
        self.zenpy = zenpy
        self.writes = writes
        self.policy = policy
        self.results: list[LinkResult | Exception | None] = [None] * len(writes)
        self.deadline = policy.monotonic() + policy.deadline
        self.submitted: set[int] = set()  # writes handed to a job: they may land whatever happens next

    def run(self) -> list[LinkResult | Exception]:
        creates = [i for i, w in enumerate(self.writes) if w.case is not None]
        appends = []
        for index in (i for i, w in enumerate(self.writes) if w.case is None):
            if str(self.writes[index].case_id).isdigit():
                appends.append(index)
            else:
                self.results[index] = CrmRecordRejected(
                    f"not a Zendesk ticket id: {self.writes[index].case_id!r}", crm=CRM, crm_code="InvalidId"
                )
        if len(creates) + len(appends) < BULK_FROM:  # a job costs its submit and a poll: no gain
            for index in creates:
                self._one(index, self._create_one)
            for index in appends:
                self._one(index, self._append_one)
        else:
            try:
                self._in_phases(creates, self._rounds(appends))
            except CrmError as exc:  # what a job carries may still land; the rest never left
                never_sent = (
                    each_record_failure(exc)
                    if isinstance(exc, CrmRecordRejected)
                    else CrmWriteNotSent.stopped_by(exc)
                )
                for index in (i for i, r in enumerate(self.results) if r is None):
                    self.results[index] = (
                        self._pending(f"its job's fate is unknown ({exc.describe()})")
                        if index in self.submitted
                        else never_sent
                    )
        return [r if r is not None else CrmRetryable("left out of the batch", crm=CRM) for r in self.results]

    def _pending(self, why: str) -> CrmWritePending:
        return CrmWritePending(
            f"handed to Zendesk, {why}; retried after {self.policy.pending_retry:.0f} s, looking first",
            crm=CRM,
            retry_after=self.policy.pending_retry,
        )

    def _in_phases(self, creates: list[int], rounds: list[list[list[int]]]) -> None:
        """Jobs submitted together share their polls. Phase 0: the requesters' job, the tickets whose
        requester is known, the first round of updates; phase 1: the tickets that waited for their
        requesters, the second round; phase n: round n."""
        requesters: dict[str, Requester] = {}
        users_jobs = self._users_jobs(creates, requesters)
        waiting = [i for i in creates if users_jobs and self._needs_requester(i, requesters)]
        ready = [i for i in creates if i not in waiting]
        phase = 0
        while ready or phase < len(rounds) or (users_jobs and phase == 0):
            jobs = [self._create_job(chunk, requesters) for chunk in _chunks(ready, BULK_LIMIT)]
            if phase < len(rounds):
                jobs += [self._update_job(chunk) for chunk in _chunks(rounds[phase], BULK_LIMIT)]
            extra = [job_id for job_id, _ in users_jobs] if phase == 0 else []
            finished = self._wait([job_id for job_id, _, _ in jobs if job_id] + extra)
            if phase == 0:
                for job_id, customers in users_jobs:
                    self._read_users(finished.get(job_id), customers, requesters)
            for job_id, groups, action in jobs:
                self._settle_job(job_id, finished.get(job_id), groups, action)
            ready = waiting if phase == 0 else []
            phase += 1

    def _one(self, index: int, write: Callable[[BatchWrite, bool], LinkResult]) -> None:
        """A write too small to bulk: one call (tried again under ``retry``, each new try looking
        before it writes), its own result."""
        try:
            self.results[index] = self.retry.call(
                lambda number: self._guarded(
                    lambda: write(self.writes[index], number > 1),
                    refusal=CrmWriteNotSent if number == 1 else CrmRetryable,  # free unless sent before
                )
            )
        except CrmError as exc:  # this record's failure
            self.results[index] = exc

    def _guarded(self, send: Callable[[], T], refusal: type[CrmRetryable] = CrmRetryable) -> T:
        """One request of the batch under the account's rate limit: none before the last
        Retry-After (a ``CrmRetryable`` refusal is waited out by ``retry`` when short), and each
        failure's Retry-After kept."""
        self.crm.refuse_until_allowed(refusal)
        try:
            with translated():  # a timeout or reset becomes a CrmRetryable without a status
                return send()
        except CrmError as exc:
            self.crm.note_failure(exc)
            raise

    def _create_one(self, write: BatchWrite, retrying: bool) -> LinkResult:
        assert write.case is not None
        return self.crm.create_ticket(self.zenpy, self.session, write.case, write.activity, retrying=retrying)

    def _append_one(self, write: BatchWrite, retrying: bool) -> LinkResult:
        return self.crm.append_comment(
            self.session, int(str(write.case_id)), write.activity, retrying=retrying
        )

    def _create_job(self, indexes: Sequence[int], requesters: Mapping[str, Requester]) -> Job:
        placed = []
        for index in indexes:
            requester = self._requester(index, requesters)
            if isinstance(requester, CrmError):
                self.results[index] = requester
            else:
                placed.append((index, requester))
        if not placed:
            return "", [], "create"
        body = {"tickets": [self._new_ticket(index, requester) for index, requester in placed]}
        groups = [[i] for i, _ in placed]
        return self._job("POST", "/tickets/create_many.json", body, groups, "create")

    def _update_job(self, groups: Sequence[list[int]]) -> Job:
        body = {"tickets": [self._update(group) for group in groups]}
        return self._job("PUT", "/tickets/update_many.json", body, list(groups), "update")

    def _job(self, method: str, path: str, body: dict[str, Any], groups: list[list[int]], action: str) -> Job:
        """Submit one job. Its failure is its records' alone (the phase's other jobs are still
        followed): answered, each record failed with it; fate unknown, each pending."""
        try:
            return self._submit(method, path, body, groups), groups, action
        except CrmError as exc:
            for index in (i for group in groups for i in group):
                if index in self.submitted:
                    self.results[index] = self._pending(f"its job's fate is unknown ({exc.describe()})")
                elif exc.crm_code == REFUSED:  # never sent: the account's Retry-After had not passed
                    self.results[index] = CrmWriteNotSent.stopped_by(exc)
                else:
                    self.results[index] = each_record_failure(exc)
            return "", [], action

    # -- tickets -----------------------------------------------------------------------------------

    def _new_ticket(self, index: int, requester: Requester) -> dict[str, Any]:
        write = self.writes[index]
        assert write.case is not None
        return {**self.crm.new_ticket_body(write.case, write.activity), **requester}

    def _requester(self, index: int, requesters: Mapping[str, Requester]) -> Requester:
        case = self.writes[index].case
        assert case is not None
        if self.crm.requester_known(case):
            return {}
        return requesters.get(case.customer.key) or CrmRetryable("no requester for the ticket", crm=CRM)

    def _update(self, group: list[int]) -> dict[str, Any]:
        """One ticket's update: the group's activities in one private note, in order."""
        case_id = int(str(self.writes[group[0]].case_id))
        return {"id": case_id, **self.crm.update_ticket_body(*(self.writes[i].activity for i in group))}

    def _rounds(self, appends: list[int]) -> list[list[list[int]]]:
        """Appends grouped per ticket, in order, at most ``PER_NOTE`` to a note; round k holds each
        ticket's k-th group, so a job updates a ticket once and notes stay in order."""
        groups: dict[str, list[list[int]]] = {}
        for index in appends:
            ticket_groups = groups.setdefault(str(self.writes[index].case_id), [[]])
            if len(ticket_groups[-1]) == PER_NOTE:
                ticket_groups.append([])
            ticket_groups[-1].append(index)
        depth = max((len(g) for g in groups.values()), default=0)
        return [[g[k] for g in groups.values() if k < len(g)] for k in range(depth)]

    # -- requesters --------------------------------------------------------------------------------

    def _needs_requester(self, index: int, requesters: Mapping[str, Requester]) -> bool:
        case = self.writes[index].case
        assert case is not None
        return not self.crm.requester_known(case) and case.customer.key not in requesters

    def _users_jobs(
        self, creates: list[int], requesters: dict[str, Requester]
    ) -> list[tuple[str, list[CustomerProfile]]]:
        """The requesters Zendesk cannot match by email (phone-only customers it has not seen from
        us): ``create_or_update_many`` jobs when there are several and bulk imports are on, else
        made one by one into ``requesters`` now."""
        helper = self.crm.requesters()
        customers = {self.writes[i].case.customer.key: self.writes[i].case.customer for i in creates}  # type: ignore[union-attr]
        helper.preload(customers)
        wanted: dict[str, CustomerProfile] = {}
        for index in creates:
            case = self.writes[index].case
            assert case is not None
            if not self.crm.requester_known(case):
                wanted.setdefault(case.customer.key, case.customer)
        if not wanted:
            return []
        resolution = helper.resolve(
            wanted, lambda path, params: self.retry.call(lambda _n: self._get(path, params))
        )
        requesters.update({key: {"requester_id": user_id} for key, user_id in resolution.ids.items()})
        requesters.update(resolution.busy)
        wanted = {c.key: c for c in resolution.to_make}
        if not wanted:
            return []
        if self.crm.bulk_users and len(wanted) >= BULK_FROM:
            jobs: list[tuple[str, list[CustomerProfile]]] = []
            try:
                for chunk in _chunks(list(wanted.values()), BULK_LIMIT):
                    body = {"users": [self.crm.requester_user(c) for c in chunk]}
                    jobs.append(
                        (self._submit("POST", "/users/create_or_update_many.json", body), list(chunk))
                    )
                return jobs
            except CrmRecordRejected as exc:
                if exc.status != 403 or jobs:
                    raise
                self.crm.bulk_users = False  # bulk user imports are off on this account
        for key, customer in wanted.items():
            try:
                requesters[key] = self.retry.call(
                    lambda _n, c=customer: self.crm.make_requester(c, self.zenpy)
                )
            except CrmRecordRejected as exc:
                requesters[key] = exc
        return []

    def _read_users(
        self,
        job: Mapping[str, Any] | None,
        customers: list[CustomerProfile],
        requesters: dict[str, Requester],
    ) -> None:
        """Each customer's user id from the job: by each result's ``index`` when every result has
        one; otherwise (results of updated users may lack it) by asking for the users by external
        id, never by position: a wrong match would show one customer's ticket to another."""
        if job is None or job.get("status") != "completed":
            failure = CrmRetryable("Zendesk's requester job did not complete", crm=CRM)
            requesters.update({c.key: failure for c in customers})
            self.crm.requesters().release(c.key for c in customers)
            return
        entries = [e for e in job.get("results") or () if isinstance(e, dict)]
        if not entries or not all(isinstance(e.get("index"), int) for e in entries):
            self._users_by_external_id(customers, requesters)
            return
        made: dict[str, int] = {}
        for entry in entries:
            if not 0 <= entry["index"] < len(customers):
                continue
            key = customers[entry["index"]].key
            if entry.get("error") or entry.get("success") is False or not entry.get("id"):
                requesters[key] = from_job_result(entry)
            else:
                requesters[key] = {"requester_id": int(entry["id"])}
                made[key] = int(entry["id"])
        helper = self.crm.requesters()
        helper.made(made)
        helper.release(c.key for c in customers if c.key not in made)

    def _users_by_external_id(
        self, customers: list[CustomerProfile], requesters: dict[str, Requester]
    ) -> None:
        keys = ",".join(c.key for c in customers)
        answer = self.crm.get_json(self.session, "/users/show_many.json", {"external_ids": keys})
        found = {
            str(u.get("external_id")): int(u["id"])
            for u in answer.get("users") or ()
            if isinstance(u, dict) and u.get("id") and u.get("external_id")
        }
        helper = self.crm.requesters()
        helper.made({c.key: found[c.key] for c in customers if c.key in found})
        helper.release(c.key for c in customers if c.key not in found)
        for customer in customers:
            if customer.key in found:
                requesters[customer.key] = {"requester_id": found[customer.key]}
            else:
                requesters[customer.key] = CrmRetryable("Zendesk's requester job left this user out", crm=CRM)

    # -- jobs --------------------------------------------------------------------------------------

    def _submit(self, method: str, path: str, body: dict[str, Any], groups: Sequence[list[int]] = ()) -> str:
        """Start a job; from here its writes (``groups``) may land whatever happens next."""
        carried = {i for group in groups for i in group}

        def submit(_number: int) -> dict[str, Any]:
            try:
                self.crm.refuse_until_allowed(CrmRetryable)
            except CrmRetryable as exc:  # nothing sent: as a 429 answer, so the submit may wait it out
                raise CrmRetryable(
                    exc.message, crm=CRM, crm_code=REFUSED, status=429, retry_after=exc.retry_after
                ) from None
            self.submitted.update(carried)
            try:
                return self._guarded(lambda: self.crm.send_json(self.session, method, path, body))
            except CrmError as exc:
                if exc.status is not None:  # Zendesk answered: no job was made
                    self.submitted -= carried
                raise

        answer = self.retry.call(submit, only=_answered)
        job = answer.get("job_status") if isinstance(answer, dict) else None
        if not isinstance(job, dict) or not job.get("id"):
            raise CrmRetryable(f"Zendesk answered {path} without a job_status", crm=CRM)
        return str(job["id"])

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._guarded(lambda: self.crm.get_json(self.session, path, params))

    def _wait(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Poll every job in one call (show_many) until all are done or the deadline passes."""
        pending = list(job_ids)
        done: dict[str, dict[str, Any]] = {}
        pause, deadline = self.policy.first_pause, self.deadline
        while pending:
            ids = {"ids": ",".join(pending)}
            answer = self.retry.call(lambda _n, ids=ids: self._get("/job_statuses/show_many.json", ids))
            for job in answer.get("job_statuses") or ():
                if isinstance(job, dict) and job.get("id") in pending and job.get("status") in DONE:
                    done[str(job["id"])] = job
            pending = [j for j in pending if j not in done]
            if not pending or self.policy.monotonic() + pause > deadline:
                break
            self.policy.sleep(pause)  # the worker's thread, never a web request
            pause = min(self.policy.longest_pause, pause * 2)
        return done

    def _settle_job(
        self, job_id: str, job: Mapping[str, Any] | None, groups: list[list[int]], action: str
    ) -> None:
        if not job_id:
            return
        if job is None:  # still queued or running at the deadline: it may yet land
            for index in (i for group in groups for i in group):
                self.results[index] = self._pending(f"job {job_id} still running at the deadline")
            return
        if job.get("status") != "completed":
            reason = f"ended {job.get('status')}" + (f": {job.get('message')}" if job.get("message") else "")
            for index in (i for group in groups for i in group):
                self.results[index] = CrmRetryable(f"Zendesk job {job_id} {reason}", crm=CRM)
            return
        self._read(job, groups, action)

    def _read(self, job: Mapping[str, Any], groups: list[list[int]], action: str) -> None:
        entries = [e for e in job.get("results") or () if isinstance(e, dict)]
        for position, group in enumerate(groups):
            entry = self._entry(entries, position, group[0], action)
            for index in group:
                if entry is None:
                    self.results[index] = CrmRetryable("Zendesk's job results left this record out", crm=CRM)
                elif entry.get("error") or entry.get("success") is False:
                    failure = from_job_result(entry)
                    if len(group) > 1 and not isinstance(failure, CrmRetryable):  # whose value was it?
                        failure = CrmRetryable(
                            f"{failure.describe()} (a note merged from {len(group)} outcomes; each is "
                            "retried alone)",
                            crm=CRM,
                            crm_code=failure.crm_code,
                        )
                    self.results[index] = failure
                else:
                    self.results[index] = self._linked(
                        index, str(entry.get("id")), created=action == "create"
                    )

    def _entry(
        self, entries: list[dict[str, Any]], position: int, index: int, action: str
    ) -> dict[str, Any] | None:
        """A create's result by its ``index``; an update's by position, checked against its id."""
        if action == "create":
            return next((e for e in entries if e.get("index") == position), None)
        ticket = str(self.writes[index].case_id)
        if position < len(entries) and str(entries[position].get("id")) == ticket:
            return entries[position]
        return next((e for e in entries if str(e.get("id")) == ticket), None)

    def _linked(self, index: int, ticket_id: str, *, created: bool) -> LinkResult:
        crm, activity = self.crm, self.writes[index].activity
        return LinkResult(
            case=RecordRef(CRM, crm.case_object, ticket_id, created),
            activity=RecordRef(CRM, crm.activity_object, activity.key, True),
        )
