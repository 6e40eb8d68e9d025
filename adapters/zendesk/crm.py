"""``ZendeskCRM``: the hub's ``CRM`` port over the Zendesk Support API (zenpy).

    create_case      [retrying] GET  /api/v2/tickets.json?external_id=<episode key>
                                     reuse the oldest match that is not closed (not unique!)
                     [requester]POST /api/v2/users/create_or_update.json  (phone-only customers)
                                POST /api/v2/tickets.json  Idempotency-Key: <episode key>
    append_activity  [retrying] GET  /api/v2/tickets/<id>/comments.json?sort_order=desc
                                     nothing is written when a comment ends with this event's marker
                                PUT  /api/v2/tickets/<id>.json  {comment, custom_fields, additional_tags}
    get_case                    GET  /api/v2/tickets/<id>.json

Comments are private notes (``public: false``) and end with a marker line naming the event key,
``— CTI Hub · ev_…``, so a retry can see its comment was written (Zendesk comments are not
idempotent). Mapped field names: ``custom_fields.<field id>`` becomes a ``custom_fields`` entry,
``tags`` are set on a new ticket and added (``additional_tags``) on an update, ``comment.<name>``
goes into the comment; any other name is a ticket property.

zenpy makes the reads it does well (``tickets(id=)``, ``users.create_or_update``). We send the rest
through the same session ourselves: zenpy has no per-request header hook for ``Idempotency-Key``,
puts ``external_id`` into the query string without encoding it (``a&b`` splits), and its ticket
update hides the audit that carries the new comment's id.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import User

from hub.domain.errors import CrmAuthExpired, CrmRecordRejected, CrmRetryable
from hub.ports import ActivityWrite, CaseRecord, CaseWrite, CustomerProfile, LinkResult, RecordRef

from . import client
from .errors import CRM, from_response, translated

DEFAULT_CASE_OBJECT = "ticket"
DEFAULT_ACTIVITY_OBJECT = "comment"
USER_ID = "zendesk_user"  # CustomerProfile.external_ids key holding a Zendesk user id
CLOSED_STATUSES = frozenset({"solved", "closed"})
MARKER = "— CTI Hub · "
MAX_PAGES = 20  # of 100: a retry's own comment is among the newest, found on the first page


def marker(key: str) -> str:
    return f"{MARKER}{key}"


def comment_body(body: str, key: str) -> str:
    return f"{body.rstrip()}\n\n{marker(key)}"


def has_marker(comment: Mapping[str, Any], key: str) -> bool:
    wanted = marker(key)
    return any(str(comment.get(name) or "").rstrip().endswith(wanted) for name in ("body", "plain_body"))


class _TicketFields:
    """Mapped fields, sorted into ticket properties, custom fields, tags and the comment."""

    def __init__(self) -> None:
        self.ticket: dict[str, Any] = {}
        self.custom: dict[int, Any] = {}
        self.tags: list[str] = []
        self.comment: dict[str, Any] = {}

    def add(self, fields: Mapping[str, Any]) -> _TicketFields:
        for name, value in fields.items():
            if name.startswith("custom_fields."):
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

    def comment_for(self, activity: ActivityWrite) -> dict[str, Any]:
        comment = dict(self.comment)
        comment["body"] = comment_body(str(comment.get("body") or activity.body), activity.key)
        comment.pop("html_body", None)  # would replace the body, and the marker with it
        comment["public"] = False  # integration notes stay private (SLA clocks, customer emails)
        return comment


class ZendeskCRM:
    """One Zendesk account. Connects on the first call, not when built."""

    name = CRM

    def __init__(
        self,
        settings: client.ZendeskSettings,
        mapping: Any = None,
        *,
        session: Any = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self._transport = session
        self.case_object: str = getattr(getattr(mapping, "case", None), "object", None) or DEFAULT_CASE_OBJECT
        self.activity_object: str = (
            getattr(getattr(mapping, "activity", None), "object", None) or DEFAULT_ACTIVITY_OBJECT
        )
        self._lock = threading.Lock()
        self._connection: tuple[Zenpy, client.BoundSession] | None = None

    def __repr__(self) -> str:
        return f"ZendeskCRM({self.settings.base_url!r})"

    # -- the CRM port ------------------------------------------------------------------------------

    def get_case(self, case_id: str) -> CaseRecord | None:
        if not str(case_id).isdigit():
            return None  # ticket ids are numbers; anything else cannot exist
        try:
            with self._calls() as (zenpy, _):
                ticket = zenpy.tickets(id=int(case_id))
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
        with self._calls() as (zenpy, session):
            if retrying:
                existing = self._find_by_external_id(session, case.key)
                if existing is not None:
                    return self._append(session, existing, activity, retrying=True)
            fields = _TicketFields().add(case.fields).add(activity.fields)
            ticket = fields.ticket_body(tags_as="tags")
            ticket["external_id"] = case.key
            if "requester_id" not in ticket and "requester" not in ticket:
                ticket.update(self._requester(zenpy, case.customer))
            ticket["comment"] = fields.comment_for(activity)
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
                return self._append(session, existing, activity, retrying=True)
            answer = self._json(response)
            ticket_id = str(answer["ticket"]["id"])
            created = response.headers.get("x-idempotency-lookup", "").lower() != "hit"
            return LinkResult(
                case=RecordRef(CRM, self.case_object, ticket_id, created),
                activity=RecordRef(CRM, self.activity_object, self._comment_id(answer), created),
            )

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        if not str(case_id).isdigit():
            raise CrmRecordRejected(f"not a Zendesk ticket id: {case_id!r}", crm=CRM, crm_code="InvalidId")
        with self._calls() as (_, session):
            return self._append(session, int(case_id), activity, retrying=retrying)

    # -- inside --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _calls(self) -> Iterator[tuple[Zenpy, client.BoundSession]]:
        """The lazy client and its session; every failure in the block leaves as a CrmError."""
        try:
            with translated():
                yield self._client()
        except CrmAuthExpired:
            with self._lock:
                self._connection = None
            raise

    def _client(self) -> tuple[Zenpy, client.BoundSession]:
        with self._lock:
            if self._connection is None:
                self._connection = client.connect(self.settings, self._transport, self.timeout)
            return self._connection

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

    def _append(
        self, session: client.BoundSession, ticket_id: int, activity: ActivityWrite, *, retrying: bool
    ) -> LinkResult:
        case_ref = RecordRef(CRM, self.case_object, str(ticket_id), False)
        if retrying:
            found = self._find_marker(session, ticket_id, activity.key)
            if found is not None:
                return LinkResult(case=case_ref, activity=RecordRef(CRM, self.activity_object, found, False))
        fields = _TicketFields().add(activity.case_fields).add(activity.fields)
        ticket = fields.ticket_body(tags_as="additional_tags")
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

    @staticmethod
    def _requester(zenpy: Zenpy, customer: CustomerProfile) -> dict[str, Any]:
        """requester_id for a known user; name + email to let Zendesk find or make one; else
        create_or_update a user keyed by the hub's customer key (with the phone when we have it)."""
        user_id = customer.external_ids.get(USER_ID)
        if user_id:
            return {"requester_id": int(user_id) if str(user_id).isdigit() else user_id}
        if customer.email:
            return {"requester": {"name": customer.name or customer.email, "email": customer.email}}
        user = zenpy.users.create_or_update(
            User(
                name=customer.name or customer.phone or customer.key,
                phone=customer.phone,
                external_id=customer.key,
            )
        )
        return {"requester_id": int(user.id)}
