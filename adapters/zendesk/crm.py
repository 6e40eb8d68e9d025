"""``ZendeskCRM``: the hub's ``CRM`` port over the Zendesk Support API (zenpy).

    create_case      [retrying] GET  /api/v2/tickets.json?external_id=<episode key>
                                     reuse the oldest match that is not closed (not unique!)
                     [requester]POST /api/v2/users/create_or_update.json  (phone-only customers)
                                POST /api/v2/tickets.json  Idempotency-Key: <episode key>
    append_activity  [retrying] GET  /api/v2/tickets/<id>/comments.json?sort_order=desc
                                     nothing is written when a comment ends with this event's marker
                                PUT  /api/v2/tickets/<id>.json  {comment, custom_fields, additional_tags}
    update_case                 PUT  /api/v2/tickets/<id>.json  {custom_fields, additional_tags, ...}
    get_case                    GET  /api/v2/tickets/<id>.json
    display_ticket              POST /api/v2/channels/voice/agents/<agent>/tickets/<id>/display.json
    display_user                POST /api/v2/channels/voice/agents/<agent>/users/<id>/display.json
    ticket_fields               GET  /api/v2/ticket_fields.json           (``ctihub crm check``)
    routing_targets             GET  /api/v2/groups.json?per_page=100     (routing; pages followed)

A new ticket routed by ``routing.yaml`` carries ``group_id`` (``CaseWrite.routing``) in its create
only: a retry that finds the ticket appends to it, and an update never sets the group, so a ticket
an agent moved stays where they put it.

``display_ticket``/``display_user`` are the Talk Partner Edition screen pop (the agent's browser
opens the ticket or user); they are for the agent panel, which calls them through
``crm.without_retries()``: code serving a web request never waits inside a call.

Every port call runs under the adapter's ``RetryPolicy`` (``adapters.http``): a CrmRetryable failure
(timeout, connection reset, 5xx, 409, a 429 whose Retry-After is short) is tried again inside the
call, waiting exactly Retry-After when given, and each new try runs with ``retrying=True`` so it
looks before it writes (a PUT that reached Zendesk before the connection dropped is not repeated).
A longer Retry-After leaves at once, carried on the CrmRetryable, for the worker to honor.

Comments are private notes (``public: false``) and end with a marker line naming the event key,
``— CTI Hub · ev_…``, so a retry can see its comment was written (Zendesk comments are not
idempotent). Mapped field names: ``custom_fields.<field id>`` becomes a ``custom_fields`` entry,
``tags`` are set on a new ticket and added (``additional_tags``) on an update, ``comment.<name>``
goes into the comment, and so do the comment properties (``body``, ``public``, ``author_id`` ...)
of the activity mapping (its object is the comment); any other name is a ticket property.

zenpy makes the reads it does well (``tickets(id=)``, ``users.create_or_update``). We send the rest
through the same session ourselves: zenpy has no per-request header hook for ``Idempotency-Key``,
puts ``external_id`` into the query string without encoding it (``a&b`` splits), and its ticket
update hides the audit that carries the new comment's id.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import User

from adapters.http import RetryPolicy, RetryViews, split_batch, write_alone
from hub.domain.errors import (
    CrmAuthExpired,
    CrmError,
    CrmRecordRejected,
    CrmRetryable,
    CrmWriteNotSent,
)
from hub.ports import (
    ActivityWrite,
    BatchWrite,
    CaseRecord,
    CaseWrite,
    CrmMetadata,
    CustomerProfile,
    LinkResult,
    RecordRef,
    RequesterDirectory,
    RoutingTarget,
)

from . import client
from .batch import JobPolicy, JobsBatch
from .errors import CRM, from_response, translated
from .requesters import Requesters

DEFAULT_CASE_OBJECT = "ticket"
DEFAULT_ACTIVITY_OBJECT = "comment"
USER_ID = "zendesk_user"  # CustomerProfile.external_ids key holding a Zendesk user id
CLOSED_STATUSES = frozenset({"solved", "closed"})
MARKER = "— CTI Hub · "
REMEMBERED_REQUESTERS = 50_000
MAX_PAGES = 20  # of 100: a retry's own comment is among the newest, found on the first page
# Names of the activity mapping that are properties of the comment itself (TicketCommentObject).
COMMENT_FIELDS = frozenset({"body", "html_body", "public", "author_id", "uploads"})
T = TypeVar("T")
log = logging.getLogger(__name__)


def marker(key: str) -> str:
    return f"{MARKER}{key}"


def comment_body(body: str, key: str) -> str:
    return f"{body.rstrip()}\n\n{marker(key)}"


def has_marker(comment: Mapping[str, Any], key: str) -> bool:
    """Whether the comment carries the event's marker line (a batched note carries several)."""
    wanted = marker(key)
    return any(
        wanted in (line.strip() for line in str(comment.get(name) or "").splitlines())
        for name in ("body", "plain_body")
    )


class _TicketFields:
    """Mapped fields, sorted into ticket properties, custom fields, tags and the comment."""

    def __init__(self) -> None:
        self.ticket: dict[str, Any] = {}
        self.custom: dict[int, Any] = {}
        self.tags: list[str] = []
        self.comment: dict[str, Any] = {}

    def add(
        self, fields: Mapping[str, Any], *, comment_fields: frozenset[str] = frozenset()
    ) -> _TicketFields:
        """Sort ``fields`` in; names in ``comment_fields`` (the activity mapping's) go to the comment."""
        for name, value in fields.items():
            if name in comment_fields:
                self.comment[name] = value
            elif name.startswith("custom_fields."):
                self.custom[self._field_id(name.removeprefix("custom_fields."))] = value
            elif name == "custom_fields" and isinstance(value, list):
                for item in value:
                    self.custom[self._field_id(str(item.get("id", "")))] = item.get("value")
            elif name in ("tags", "additional_tags"):
                items = [value] if isinstance(value, str) else list(value or ())
                self.tags += [str(tag) for tag in items if str(tag) not in self.tags]
            elif name.startswith("comment."):
                self.comment[name.removeprefix("comment.")] = value
            else:
                self.ticket[name] = value
        return self

    @staticmethod
    def _field_id(text: str) -> int:
        if not text.isdigit():
            raise CrmRecordRejected(
                f"mapped field 'custom_fields.{text}' does not name a numeric ticket field id",
                crm=CRM,
                crm_code="BadFieldMapping",
            )
        return int(text)

    def ticket_body(self, *, tags_as: str) -> dict[str, Any]:
        body = dict(self.ticket)
        if self.custom:
            body["custom_fields"] = [{"id": i, "value": v} for i, v in self.custom.items()]
        if self.tags:
            body[tags_as] = list(self.tags)
        return body

    def update_body(self) -> dict[str, Any]:
        """An update's ticket properties: tags are added, never replacing the agent's."""
        return self.ticket_body(tags_as="additional_tags")

    def comment_for(self, activity: ActivityWrite) -> dict[str, Any]:
        comment = dict(self.comment)
        comment["body"] = comment_body(str(comment.get("body") or activity.body), activity.key)
        comment.pop("html_body", None)  # would replace the body, and the marker with it
        comment["public"] = False  # integration notes stay private (SLA clocks, customer emails)
        return comment


def _ticket_id(case_id: str) -> int:
    if not str(case_id).isdigit():
        raise CrmRecordRejected(f"not a Zendesk ticket id: {case_id!r}", crm=CRM, crm_code="InvalidId")
    return int(case_id)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _AccountState:
    """What every view of one account shares (``without_retries()`` copies share it)."""

    transport: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    connection: tuple[Zenpy, client.BoundSession] | None = None
    rate_limited_until: float | None = None
    bulk_users: bool = True  # False once the account answered 403: bulk user imports are off
    # Zendesk user ids of phone-only customers, by the hub's customer key (users we made).
    requesters: OrderedDict[str, int] = field(default_factory=OrderedDict)
    auth_failure: str | None = None


class ZendeskCRM(RetryViews):
    """One Zendesk account. Connects on the first call, not when built."""

    name = CRM

    def __init__(
        self,
        settings: client.ZendeskSettings,
        mapping: Any = None,
        *,
        session: Any = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        requesters: RequesterDirectory | None = None,
    ) -> None:
        self.settings = settings
        self.directory = requesters  # the hub's table of requesters (``requesters``), when given
        self.timeout = timeout
        self.case_object: str = getattr(getattr(mapping, "case", None), "object", None) or DEFAULT_CASE_OBJECT
        self.activity_object: str = (
            getattr(getattr(mapping, "activity", None), "object", None) or DEFAULT_ACTIVITY_OBJECT
        )
        self.retry = retry or RetryPolicy(attempts=settings.retry_attempts, max_wait=settings.retry_max_wait)
        self.clock = clock
        self._account = _AccountState(transport=session)
        self.job_policy = JobPolicy()

    def __repr__(self) -> str:
        return f"ZendeskCRM({self.settings.base_url!r}, auth={self.settings.auth})"

    # -- the CRM port ------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseRecord | None:
        if not str(case_id).isdigit():
            return None  # ticket ids are numbers; anything else cannot exist
        try:
            ticket = self._call(lambda zenpy, _s, _r: zenpy.tickets(id=int(case_id)), retrying=False)
        except CrmRecordRejected as exc:
            if exc.status == 404:
                return None
            raise
        return CaseRecord(
            crm=CRM,
            object=self.case_object,
            id=str(ticket.id),
            is_open=ticket.status not in CLOSED_STATUSES,
            url=f"{self.settings.base_url}/agent/tickets/{ticket.id}",
        )

    def create_case(self, case: CaseWrite, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        return self._call(
            lambda zenpy, session, again: self.create_ticket(zenpy, session, case, activity, retrying=again),
            retrying=retrying,
        )

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        ticket_id = _ticket_id(case_id)
        return self._call(
            lambda _z, session, again: self.append_comment(session, ticket_id, activity, retrying=again),
            retrying=retrying,
        )

    def update_case(self, case_id: str, fields: Mapping[str, Any], *, key: str) -> None:
        """PUT the mapped fields alone, sorted as for an appended activity; nothing sent without any."""
        ticket_id = _ticket_id(case_id)
        ticket = _TicketFields().add(fields).update_body()
        if not ticket:
            return
        log.debug("updating ticket %s (%s): %s", ticket_id, key, sorted(ticket))
        body = {"ticket": ticket}
        self._call(
            lambda _z, session, _r: self._send(session, "PUT", f"/tickets/{ticket_id}.json", json=body),
            retrying=False,
        )

    def write_batch(self, writes: Sequence[BatchWrite]) -> list[LinkResult | Exception]:
        """``hub.ports.BatchingCRM``: bulk jobs for first attempts (see ``batch``); a write that may
        have landed already (``retrying``) takes the single path, which looks before it writes."""
        # The bulk call as a whole is never repeated (a second create_many would make the tickets
        # twice): inside it, each submit Zendesk answered with a transient error and each poll is
        # tried again under this view's policy. A write being retried goes alone under the same
        # policy, each new try looking before it writes.
        once = self.without_retries()
        return split_batch(
            writes,
            alone=lambda write: write_alone(self, write),
            together=lambda fresh: once._call(
                lambda zenpy, session, _r: JobsBatch(
                    once, session, zenpy, fresh, policy=self.job_policy, retry=self.retry
                ).run(),
                retrying=False,
            ),
        )

    # -- screen pop (Talk Partner Edition) ----------------------------------------------------------

    def display_ticket(self, agent_id: str | int, ticket_id: str | int) -> None:
        """Open the ticket in the agent's browser. 404 (CrmRecordRejected) when either id is wrong."""
        self._display(agent_id, "tickets", ticket_id)

    def display_user(self, agent_id: str | int, user_id: str | int) -> None:
        """Open the user's profile in the agent's browser. 404 when either id is wrong."""
        self._display(agent_id, "users", user_id)

    def _display(self, agent_id: str | int, kind: str, record_id: str | int) -> None:
        for name, value in (("agent", agent_id), (kind.removesuffix("s"), record_id)):
            if not str(value).isdigit():
                raise CrmRecordRejected(f"not a Zendesk {name} id: {value!r}", crm=CRM, crm_code="InvalidId")
        path = f"/channels/voice/agents/{int(agent_id)}/{kind}/{int(record_id)}/display.json"
        self._call(lambda _z, session, _r: self._send(session, "POST", path), retrying=False)

    # -- metadata and state ---------------------------------------------------------------------------

    def ticket_fields(self) -> list[dict[str, Any]]:
        """Every ticket field (system and custom, with their options), as the API lists them."""
        return self._call(
            lambda _z, session, _r: list(self._pages(session, "/ticket_fields.json", {}, "ticket_fields")),
            retrying=False,
        )

    def metadata(self) -> CrmMetadata:
        """``hub.ports.MetadataSource``: the ticket fields ``ctihub crm check`` works on."""
        return CrmMetadata(crm=CRM, ticket_fields=self.ticket_fields())

    def routing_targets(self) -> list[RoutingTarget]:
        """``hub.ports.RoutingSource``: the account's groups (not deleted), 100 per page."""
        groups = self._call(
            lambda _z, session, _r: list(
                self._pages(session, "/groups.json", {"per_page": "100", "exclude_deleted": "true"}, "groups")
            ),
            retrying=False,
        )
        return [
            RoutingTarget(id=str(group["id"]), name=str(group.get("name") or ""))
            for group in groups
            if group.get("id") is not None and not group.get("deleted")
        ]

    def status(self) -> dict[str, Any]:
        """What operations should see, without calling Zendesk: ``state`` is ``ok``,
        ``rate_limited`` (with ``until``, from the last Retry-After) or ``auth_failed``."""
        account = self._account
        with account.lock:
            limited, failure = account.rate_limited_until, account.auth_failure
            connection = account.connection
        rate = connection[1].rate_limit if connection is not None else None
        state, until, reason = "ok", None, None
        if failure is not None:
            state, reason = "auth_failed", failure
        elif limited is not None and self.clock() < limited:
            state, until, reason = "rate_limited", limited, "Retry-After"
        return {
            "crm": CRM,
            "state": state,
            "until": _iso(until),
            "reason": reason,
            "auth": self.settings.auth,
            "rate_limit": {"limit": rate[0], "remaining": rate[1]} if rate else None,
            "retries_in_call": self.retry.attempts - 1,
        }

    # -- inside --------------------------------------------------------------------------------------

    def _call(self, work: Callable[[Zenpy, client.BoundSession, bool], T], *, retrying: bool) -> T:
        """``work(zenpy, session, retrying)`` under the retry policy; each new try is ``retrying``."""

        def attempt(number: int) -> T:
            # Refused before sending: free on the first try; on a later one an earlier try may have
            # landed, so the refusal must be charged (a free release would forget ``retrying``).
            self.refuse_until_allowed(CrmWriteNotSent if number == 1 else CrmRetryable)
            try:
                with self._calls() as (zenpy, session):
                    return work(zenpy, session, retrying or number > 1)
            except CrmError as exc:
                self.note_failure(exc)
                raise

        result = self.retry.call(attempt)
        with self._account.lock:
            self._account.auth_failure = None
        return result

    def refuse_until_allowed(self, refusal: type[CrmRetryable] = CrmWriteNotSent) -> None:
        """No call before the last Retry-After has passed (the rate limit is the account's). A call
        refused is ``refusal``: by default ``CrmWriteNotSent`` (back to the worker, free); a step
        inside a bulk call passes ``CrmRetryable``, which its retry policy waits out when short."""
        now = self.clock()
        with self._account.lock:
            until = self._account.rate_limited_until
        if until is not None and now < until:  # nothing sent: no attempt charged
            raise refusal(
                f"Zendesk asked for no calls until {_iso(until)} (Retry-After)",
                crm=CRM,
                status=429,
                retry_after=until - now,
            )

    def note_failure(self, exc: CrmError) -> None:
        """Keep what a failure says about the account: an auth failure, a Retry-After."""
        account = self._account
        with account.lock:
            if isinstance(exc, CrmAuthExpired):
                account.auth_failure = exc.describe()
            elif isinstance(exc, CrmRetryable) and exc.retry_after is not None:
                account.rate_limited_until = self.clock() + exc.retry_after

    @contextlib.contextmanager
    def _calls(self) -> Iterator[tuple[Zenpy, client.BoundSession]]:
        """The lazy client and its session; every failure in the block leaves as a CrmError."""
        try:
            with translated():
                yield self._client()
        except CrmAuthExpired:
            with self._account.lock:
                self._account.connection = None
            raise

    def _client(self) -> tuple[Zenpy, client.BoundSession]:
        account = self._account
        with account.lock:
            if account.connection is None:
                account.connection = client.connect(self.settings, account.transport, self.timeout)
            return account.connection

    def create_ticket(
        self,
        zenpy: Zenpy,
        session: client.BoundSession,
        case: CaseWrite,
        activity: ActivityWrite,
        *,
        retrying: bool,
    ) -> LinkResult:
        if retrying:
            existing = self._find_by_external_id(session, case.key)
            if existing is not None:
                return self.append_comment(session, existing, activity, retrying=True)
        ticket = self.new_ticket_body(case, activity)
        if "requester_id" not in ticket and "requester" not in ticket:
            ticket.update(self.requester_for(case.customer, zenpy, session))
        try:
            response = self._send(
                session,
                "POST",
                "/tickets.json",
                json={"ticket": ticket},
                headers={"Idempotency-Key": case.key},
            )
        except CrmRecordRejected as exc:
            # The key was used within 2 h with another body (another event of the same
            # episode after a lost answer): the ticket exists, so append to it instead.
            if exc.crm_code != "IdempotentRequestError":
                raise
            existing = self._find_by_external_id(session, case.key)
            if existing is None:
                raise
            return self.append_comment(session, existing, activity, retrying=True)
        answer = self._json(response)
        ticket_id = str(answer["ticket"]["id"])
        created = response.headers.get("x-idempotency-lookup", "").lower() != "hit"
        return LinkResult(
            case=RecordRef(CRM, self.case_object, ticket_id, created),
            activity=RecordRef(CRM, self.activity_object, self._comment_id(answer), created),
        )

    def _url(self, path: str) -> str:
        return f"{self.settings.api_url}{path}"

    def _send(
        self, session: client.BoundSession, method: str, path_or_url: str, **kwargs: Any
    ) -> requests.Response:
        url = path_or_url if path_or_url.startswith("https://") else self._url(path_or_url)
        response = session.request(method, url, **kwargs)
        if response.status_code >= 300:
            raise from_response(response)
        return response

    @staticmethod
    def _json(response: requests.Response) -> dict[str, Any]:
        answer = response.json()
        if not isinstance(answer, dict):
            raise CrmRetryable(
                "Zendesk answered with an unexpected body", crm=CRM, status=response.status_code
            )
        return answer

    def _pages(
        self, session: client.BoundSession, path: str, params: dict[str, str], items: str
    ) -> Iterator[dict[str, Any]]:
        """Items of an offset-paginated list, following ``next_page`` on our own host only."""
        url: str | None = self._url(path)
        for _ in range(MAX_PAGES):
            if url is None:
                return
            answer = self._json(self._send(session, "GET", url, params=params))
            yield from (item for item in answer.get(items) or () if isinstance(item, dict))
            next_page = answer.get("next_page")
            url = (
                next_page
                if isinstance(next_page, str) and next_page.startswith(self.settings.api_url + "/")
                else None
            )
            params = {}  # next_page carries the query

    def _find_by_external_id(self, session: client.BoundSession, key: str) -> int | None:
        """The oldest ticket with this external_id that is not closed (several may share it)."""
        candidates = [
            ticket
            for ticket in self._pages(session, "/tickets.json", {"external_id": key}, "tickets")
            if ticket.get("status") != "closed" and ticket.get("external_id", key) == key
        ]
        if not candidates:
            return None
        oldest = min(candidates, key=lambda t: (str(t.get("created_at") or ""), int(t["id"])))
        return int(oldest["id"])

    def _find_marker(self, session: client.BoundSession, ticket_id: int, key: str) -> str | None:
        comments = self._pages(
            session, f"/tickets/{ticket_id}/comments.json", {"sort_order": "desc"}, "comments"
        )
        return next((str(c["id"]) for c in comments if has_marker(c, key)), None)

    def append_comment(
        self, session: client.BoundSession, ticket_id: int, activity: ActivityWrite, *, retrying: bool
    ) -> LinkResult:
        case_ref = RecordRef(CRM, self.case_object, str(ticket_id), False)
        if retrying:
            found = self._find_marker(session, ticket_id, activity.key)
            if found is not None:
                return LinkResult(case=case_ref, activity=RecordRef(CRM, self.activity_object, found, False))
        fields = _TicketFields().add(activity.case_fields).add(activity.fields, comment_fields=COMMENT_FIELDS)
        ticket = fields.update_body()
        ticket["comment"] = fields.comment_for(activity)
        answer = self._json(self._send(session, "PUT", f"/tickets/{ticket_id}.json", json={"ticket": ticket}))
        return LinkResult(
            case=case_ref, activity=RecordRef(CRM, self.activity_object, self._comment_id(answer), True)
        )

    @staticmethod
    def _comment_id(answer: Mapping[str, Any]) -> str:
        """The new comment's id from the audit of a create or update (the audit's own id as a fallback)."""
        audit = answer.get("audit") or {}
        for event in audit.get("events") or ():
            if isinstance(event, dict) and event.get("type") == "Comment" and event.get("id"):
                return str(event["id"])
        if audit.get("id"):
            return str(audit["id"])
        raise CrmRetryable("Zendesk answered without the audit of the write", crm=CRM)

    # -- the bodies a write sends (shared by the single calls and the batches) ----------------------

    def new_ticket_body(self, case: CaseWrite, activity: ActivityWrite) -> dict[str, Any]:
        """A new ticket with its first comment inline; the requester when known without a call."""
        fields = _TicketFields().add(case.fields).add(activity.fields, comment_fields=COMMENT_FIELDS)
        ticket = fields.ticket_body(tags_as="tags")
        ticket["external_id"] = case.key
        if case.owner_id is not None and "group_id" not in ticket:  # routing.yaml, on create only
            ticket["group_id"] = int(case.owner_id) if case.owner_id.isdigit() else case.owner_id
        if "requester_id" not in ticket and "requester" not in ticket:
            known = self._known_requester(case.customer) or self.remembered_requester(case.customer.key)
            ticket.update(known or {})
        ticket["comment"] = fields.comment_for(activity)
        return ticket

    def update_ticket_body(self, *activities: ActivityWrite) -> dict[str, Any]:
        """An update adding the activities' private note and their mapped ticket fields (later
        values win, tags added). Several activities (a batch's outcomes for one ticket) share the
        note, each section ending with its own marker line."""
        fields = _TicketFields()
        sections = []
        for activity in activities:
            fields.add(activity.case_fields).add(activity.fields, comment_fields=COMMENT_FIELDS)
            own = _TicketFields().add(activity.fields, comment_fields=COMMENT_FIELDS)
            sections.append(comment_body(str(own.comment.get("body") or activity.body), activity.key))
        ticket = fields.update_body()
        ticket["comment"] = {**fields.comment_for(activities[-1]), "body": "\n\n".join(sections)}
        return ticket

    @property
    def bulk_users(self) -> bool:
        return self._account.bulk_users

    @bulk_users.setter
    def bulk_users(self, allowed: bool) -> None:
        self._account.bulk_users = allowed

    def requester_known(self, case: CaseWrite) -> bool:
        """Whether a new ticket names its requester without creating a user first."""
        return any(name in case.fields for name in ("requester_id", "requester")) or bool(
            self._known_requester(case.customer) or self.remembered_requester(case.customer.key)
        )

    @staticmethod
    def _known_requester(customer: CustomerProfile) -> dict[str, Any] | None:
        """requester_id for a known user; name + email to let Zendesk find or make one."""
        user_id = customer.external_ids.get(USER_ID)
        if user_id:
            return {"requester_id": int(user_id) if str(user_id).isdigit() else user_id}
        if customer.email:
            return {"requester": {"name": customer.name or customer.email, "email": customer.email}}
        return None

    @staticmethod
    def requester_user(customer: CustomerProfile) -> dict[str, Any]:
        """The user a phone-only customer becomes, keyed by the hub's customer key."""
        user = {"name": customer.name or customer.phone or customer.key, "external_id": customer.key}
        if customer.phone:
            user["phone"] = customer.phone
        return user

    def requester_for(
        self,
        customer: CustomerProfile,
        zenpy: Zenpy | None = None,
        session: client.BoundSession | None = None,
    ) -> dict[str, Any]:
        """The requester of a new ticket: known (id or email), recorded before (in memory or the
        hub's table), an end user found by phone (adopted and recorded), else create_or_update a
        user keyed by the hub's customer key (with the phone when we have it). Raises
        ``CrmWriteNotSent`` while another worker resolves the same customer (see ``requesters``)."""
        known = self._known_requester(customer) or self.remembered_requester(customer.key)
        if known is not None:
            return known
        if zenpy is None or session is None:
            zenpy, session = self._client()
        helper = self.requesters()
        resolution = helper.resolve(
            {customer.key: customer}, lambda path, params: self.get_json(session, path, params)
        )
        if customer.key in resolution.busy:
            raise resolution.busy[customer.key]
        if customer.key in resolution.ids:
            return {"requester_id": resolution.ids[customer.key]}
        return self.make_requester(customer, zenpy)

    def make_requester(self, customer: CustomerProfile, zenpy: Zenpy) -> dict[str, Any]:
        """create_or_update the customer's user (keyed by the hub's customer key) and record it;
        the caller holds the customer's claim (``requesters().resolve``), released on failure."""
        helper = self.requesters()
        try:
            with translated():
                user = zenpy.users.create_or_update(User(**self.requester_user(customer)))
        except Exception:
            helper.release([customer.key])
            raise
        helper.made({customer.key: int(user.id)})
        return {"requester_id": int(user.id)}

    def requesters(self) -> Requesters:
        """The hub's requester table (when given) around this account's in-memory cache."""
        return Requesters(self.directory, self.remember_requester, self._recall)

    def _recall(self, customer_key: str) -> int | None:
        known = self.remembered_requester(customer_key)
        return int(known["requester_id"]) if known is not None else None

    def remembered_requester(self, customer_key: str) -> dict[str, Any] | None:
        with self._account.lock:
            user_id = self._account.requesters.get(customer_key)
            if user_id is not None:
                self._account.requesters.move_to_end(customer_key)
        return {"requester_id": user_id} if user_id is not None else None

    def remember_requester(self, customer_key: str, user_id: int) -> None:
        """Keep a made user's id, so the customer's next ticket costs no user call (bounded, LRU)."""
        with self._account.lock:
            self._account.requesters[customer_key] = user_id
            self._account.requesters.move_to_end(customer_key)
            while len(self._account.requesters) > REMEMBERED_REQUESTERS:
                self._account.requesters.popitem(last=False)

    def send_json(self, session: client.BoundSession, method: str, path: str, body: Any) -> dict[str, Any]:
        return self._json(self._send(session, method, path, json=body))

    def get_json(self, session: client.BoundSession, path: str, params: dict[str, str]) -> dict[str, Any]:
        return self._json(self._send(session, "GET", path, params=params))
