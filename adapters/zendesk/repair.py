"""``ZendeskRepair``: the hub's ``CaseRepair`` port on the Zendesk Support API (``ctihub dedup``).

    people       GET  /api/v2/users/search.json?query=email:<email> | phone:<phone> | external_id=<key>
    open_cases   GET  /api/v2/search.json?query=type:ticket status<solved requester:<user id>
                      custom_field_<intent field>:<intent>   (sort_by=created_at, sort_order=asc)
    open_case    GET  /api/v2/tickets/<id>.json
    apply        link_only: PUT /api/v2/tickets/<id>.json  private note + tag ``ctihub_duplicate``
                 merge:     POST /api/v2/tickets/<master>/merge.json  (private comments)
                            GET  /api/v2/job_statuses/<id>.json until completed or failed
    undo         link_only: PUT remove_tags + a private note; a merge cannot be undone

Search lags new tickets by minutes (crm-facts §3.6): fine for repair, never used at creation. The
merge is asynchronous, not idempotent, closes the sources and needs an unsolved target (§3.1):
``apply`` re-reads every ticket first, skips sources already closed, refuses a solved target, and
follows the job to its end with a bounded number of polls and an injectable ``sleep``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from hub.domain.crm_ids import zendesk_search_value
from hub.domain.errors import ConfigError, CrmError, CrmRetryable
from hub.domain.identity import EMAIL, EXTERNAL_PREFIX, PHONE, Identifier
from hub.ports import HUB_CUSTOMER, LINK_ONLY, MERGE, CrmPerson, OpenCase, RepairResult

from . import client
from .crm import USER_ID
from .errors import CRM, from_response, translated

UNSOLVED = ("new", "open", "pending", "hold")
DUPLICATE_TAG = "ctihub_duplicate"
MAX_PAGES = 10  # of 100 search results: search answers at most 1,000
DONE_JOB = frozenset({"completed", "failed", "killed"})


def intent_field_id(mapping: Any, settings: Any = None) -> int | None:
    """The ticket field the hub writes the intent code to (from the field mapping), if any."""
    configured = (settings or {}).get("dedup_intent_field")
    if configured and str(configured).isdigit():
        return int(configured)
    for rule in getattr(getattr(mapping, "case", None), "rules", ()):
        target = str(getattr(rule, "target", ""))
        if getattr(rule, "source", None) == "intent.code" and target.startswith("custom_fields."):
            field = target.removeprefix("custom_fields.")
            if field.isdigit():
                return int(field)
    return None


class ZendeskRepair:
    """Finds and repairs parallel tickets in one Zendesk account. Connects on the first call."""

    name = CRM

    def __init__(
        self,
        settings: client.ZendeskSettings,
        *,
        intent_field: int | None,
        session: Any = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 1.0,
        max_polls: int = 30,
    ) -> None:
        self.settings = settings
        self.intent_field = intent_field
        self.timeout = timeout
        self.sleep = sleep
        self.poll_seconds = poll_seconds
        self.max_polls = max_polls
        self._transport = session
        self._session: client.BoundSession | None = None

    # -- finding ---------------------------------------------------------------------------------

    def people(self, identifiers: Sequence[Identifier]) -> list[CrmPerson]:
        found = []
        with translated():
            for identifier in identifiers:
                if not identifier.strong and identifier.kind != HUB_CUSTOMER:
                    continue
                if identifier.kind == f"{EXTERNAL_PREFIX}{USER_ID}":
                    ids: set[str] = {identifier.value}
                elif identifier.kind == HUB_CUSTOMER:
                    ids = self._users({"external_id": identifier.value})
                elif identifier.kind == EMAIL:
                    quoted = zendesk_search_value(identifier.value)
                    ids = self._users({"query": f"email:{quoted}"}) if quoted else set()
                elif identifier.kind == PHONE:
                    ids = set()
                    for value in dict.fromkeys((identifier.value, identifier.raw.strip())):
                        if quoted := zendesk_search_value(value):  # never a raw value in a query
                            ids |= self._users({"query": f"phone:{quoted}"})
                else:
                    continue
                found.append(CrmPerson(identifier.kind, identifier.value, tuple(sorted(ids))))
        return found

    def open_cases(
        self, person_ids: Sequence[str], identifiers: Sequence[Identifier], intents: Collection[str]
    ) -> list[OpenCase]:
        field = self._intent_field()
        tickets: dict[str, OpenCase] = {}
        with translated():
            for person in sorted(set(person_ids)):
                for intent in sorted(intents):
                    query = f'type:ticket status<solved requester:{person} custom_field_{field}:"{intent}"'
                    for ticket in self._search(query):
                        if ticket.get("status") in UNSOLVED:
                            tickets[str(ticket["id"])] = self._open_case(ticket)
        return sorted(tickets.values(), key=_age)

    def open_case(self, case_id: str) -> OpenCase | None:
        if not str(case_id).isdigit():
            return None
        with translated():
            ticket = self._ticket(str(case_id)) or {}
        return self._open_case(ticket) if ticket.get("status") in UNSOLVED else None

    # -- repairing -------------------------------------------------------------------------------

    def irreversible(self, policy: str) -> bool:
        return policy == MERGE

    def apply(
        self, policy: str, master: OpenCase, duplicates: Sequence[OpenCase], *, note: str
    ) -> RepairResult:
        if policy == LINK_ONLY:
            return self._link(master, duplicates, note)
        if policy == MERGE:
            return self._merge(master, duplicates, note)
        return RepairResult(policy, master.id, done=tuple(d.id for d in duplicates))

    def undo(self, result: RepairResult, *, note: str) -> RepairResult:
        if result.policy == MERGE:
            return RepairResult(
                result.policy,
                result.master_id,
                failed={d: "a Zendesk merge cannot be undone" for d in result.done},
                reversible=False,
            )
        if result.policy != LINK_ONLY:
            return RepairResult(result.policy, result.master_id, done=result.done)
        done, failed = [], {}
        for ticket_id in result.undo.get("tagged", ()):
            try:
                self._update(
                    ticket_id,
                    {"remove_tags": [DUPLICATE_TAG], "comment": {"body": note, "public": False}},
                )
                done.append(ticket_id)
            except CrmError as exc:
                failed[ticket_id] = exc.describe()
        return RepairResult(LINK_ONLY, result.master_id, done=tuple(done), failed=failed)

    def _link(self, master: OpenCase, duplicates: Sequence[OpenCase], note: str) -> RepairResult:
        done, failed = [], {}
        for duplicate in duplicates:
            body = f"{note}\n\nPossible duplicate of #{master.id}: work continues there."
            try:
                self._update(
                    duplicate.id,
                    {"additional_tags": [DUPLICATE_TAG], "comment": {"body": body, "public": False}},
                )
                done.append(duplicate.id)
            except CrmError as exc:
                failed[duplicate.id] = exc.describe()
        if done:
            listing = ", ".join(f"#{d}" for d in done)
            try:
                self._update(
                    master.id,
                    {"comment": {"body": f"{note}\n\nLinked duplicates: {listing}.", "public": False}},
                )
            except CrmError as exc:
                failed[master.id] = exc.describe()
        return RepairResult(LINK_ONLY, master.id, done=tuple(done), failed=failed, undo={"tagged": done})

    def _merge(self, master: OpenCase, duplicates: Sequence[OpenCase], note: str) -> RepairResult:
        with translated():
            target = self._ticket(master.id)
            if target is None or target.get("status") not in UNSOLVED:
                status = "missing" if target is None else target.get("status")
                return RepairResult(
                    MERGE, master.id, failed={d.id: f"target #{master.id} is {status}" for d in duplicates}
                )
            sources, done, failed = [], [], {}
            for duplicate in duplicates:
                ticket = self._ticket(duplicate.id)
                if ticket is None:
                    failed[duplicate.id] = "not found"
                elif ticket.get("status") == "closed":
                    # Merged already (a retried plan after a lost answer) or closed meanwhile.
                    if "closed_by_merge" in (ticket.get("tags") or []):
                        done.append(duplicate.id)
                    else:
                        failed[duplicate.id] = "closed meanwhile"
                else:
                    sources.append(duplicate.id)
            if not sources:
                return RepairResult(MERGE, master.id, done=tuple(done), failed=failed, reversible=not done)
            response = self._session_().request(
                "POST",
                self._url(f"/tickets/{master.id}/merge.json"),
                json={
                    "ids": [int(s) for s in sources],
                    "target_comment": f"{note}\n\nMerged here: {', '.join('#' + s for s in sources)}.",
                    "source_comment": f"{note}\n\nMerged into #{master.id}.",
                    "target_comment_is_public": False,
                    "source_comment_is_public": False,
                },
            )
            if response.status_code >= 300:
                raise from_response(response)
            job = self._json(response).get("job_status") or {}
            job = self._follow(job)
        status = job.get("status")
        results = {str(r.get("id")): r for r in job.get("results") or () if isinstance(r, dict)}
        for source in sources:
            result = results.get(source)
            if status == "completed" and (result is None or result.get("success", True)):
                done.append(source)
            elif status in DONE_JOB:
                failed[source] = str((result or {}).get("details") or job.get("message") or status)
            else:
                failed[source] = f"merge job {job.get('id')} still {status} after {self.max_polls} polls"
        return RepairResult(
            MERGE,
            master.id,
            done=tuple(done),
            failed=failed,
            reversible=False,
            notes=(f"job {job.get('id')}: {status}",),
        )

    def _follow(self, job: dict[str, Any]) -> dict[str, Any]:
        """Poll the job until it completed, failed or was killed (at most ``max_polls`` polls,
        ``sleep(poll_seconds)`` between them)."""
        job_id = job.get("id")
        for poll in range(self.max_polls):
            if job.get("status") in DONE_JOB or not job_id:
                return job
            if poll:
                self.sleep(self.poll_seconds)
            response = self._session_().request("GET", self._url(f"/job_statuses/{job_id}.json"))
            if response.status_code == 404:
                continue  # the single-job URL can 404 under load (zenpy's docs): ask again
            if response.status_code >= 300:
                raise from_response(response)
            job = {**job, **(self._json(response).get("job_status") or {}), "id": job_id}
        return job

    # -- inside ----------------------------------------------------------------------------------

    def _intent_field(self) -> int:
        if self.intent_field is None:
            raise ConfigError(
                "Zendesk repair needs the intent ticket field: map intent.code to custom_fields.<id> "
                "in fields.zendesk.yaml or set CTIHUB_ZENDESK_DEDUP_INTENT_FIELD"
            )
        return self.intent_field

    def _session_(self) -> client.BoundSession:
        if self._session is None:
            _zenpy, self._session = client.connect(self.settings, self._transport, self.timeout)
        return self._session

    def _url(self, path: str) -> str:
        return f"{self.settings.api_url}{path}"

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        answer = response.json()
        if not isinstance(answer, dict):
            raise CrmRetryable(
                "Zendesk answered with an unexpected body", crm=CRM, status=response.status_code
            )
        return answer

    def _get(self, path_or_url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        url = path_or_url if path_or_url.startswith("https://") else self._url(path_or_url)
        response = self._session_().request("GET", url, params=params)
        if response.status_code >= 300:
            raise from_response(response)
        return self._json(response)

    def _users(self, params: dict[str, str]) -> set[str]:
        users = self._get("/users/search.json", params).get("users") or []
        return {str(u["id"]) for u in users if isinstance(u, dict) and u.get("id")}

    def _search(self, query: str) -> Iterator[dict[str, Any]]:
        url: str | None = "/search.json"
        params: dict[str, str] | None = {"query": query, "sort_by": "created_at", "sort_order": "asc"}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            answer = self._get(url, params)
            yield from (r for r in answer.get("results") or () if isinstance(r, dict))
            following = answer.get("next_page")
            url = (
                following
                if isinstance(following, str) and following.startswith(self.settings.api_url)
                else None
            )
            params = None

    def _ticket(self, ticket_id: str) -> dict[str, Any] | None:
        response = self._session_().request("GET", self._url(f"/tickets/{ticket_id}.json"))
        if response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise from_response(response)
        return self._json(response).get("ticket")

    def _update(self, ticket_id: str, ticket: dict[str, Any]) -> None:
        with translated():
            response = self._session_().request(
                "PUT", self._url(f"/tickets/{ticket_id}.json"), json={"ticket": ticket}
            )
            if response.status_code >= 300:
                raise from_response(response)

    def _open_case(self, ticket: dict[str, Any]) -> OpenCase:
        intent = None
        for field in ticket.get("custom_fields") or ():
            if isinstance(field, dict) and field.get("id") == self.intent_field:
                intent = field.get("value")
        return OpenCase(
            crm=CRM,
            object="ticket",
            id=str(ticket["id"]),
            status=str(ticket.get("status")),
            created_at=_when(ticket.get("created_at")),
            person_id=str(ticket["requester_id"]) if ticket.get("requester_id") else None,
            hub_key=ticket.get("external_id"),
            intent=intent,
            subject=ticket.get("subject"),
            url=f"{self.settings.base_url}/agent/tickets/{ticket['id']}",
        )


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _age(case: OpenCase) -> tuple[str, int]:
    return (case.created_at.isoformat() if case.created_at else "", int(case.id))
