"""The Zendesk Support API subset, answered from the sandbox tables.

Shapes follow the recorded zenpy cassettes (ticket, audit, job_status, TooManyValues) and the
Support OAS; error bodies are the classic ``{"error", "description"[, "details"]}`` envelope.
Bulk and merge jobs run synchronously inside the request: the response says ``queued`` as the real
API does and ``GET job_statuses/{id}`` already answers ``completed`` (or ``failed``).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from . import store as db
from . import zendesk_users
from .common import ApiResponse, Now, zd_datetime
from .routing_targets import SEEDED_GROUPS, group_id_problem, groups_page
from .schema import (
    ZD_CUSTOM_FIELDS,
    ZD_FIELDS_BY_ID,
    ZD_PRIORITIES,
    ZD_STATUSES,
    ZD_TICKET_FIELDS,
    ZD_TYPES,
    ZD_UNSOLVED,
    ZdTicketField,
)

USER_ID_BASE = 10_000_000_000
COMMENT_ID_BASE = 20_000_000_000
AUDIT_ID_BASE = 30_000_000_000
ACCOUNT_ID = 18_000_001
BRAND_ID = 360000000201
TICKET_FORM_ID = 360000000301
CUSTOM_STATUS_IDS = {status: 360000000400 + i for i, status in enumerate(ZD_STATUSES, start=1)}
BULK_LIMIT = 100
MAX_STRING = 255  # external ids, emails and idempotency keys
IDEMPOTENCY_TTL = timedelta(hours=2)
API_CLIENT_EMAIL = "api-client@sandbox.zendesk.com"  # the caller behind a Bearer token

_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ZdError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body

    def response(self) -> ApiResponse:
        return ApiResponse(self.status, self.body)

    def detail_text(self) -> str:
        details = self.body.get("details")
        if isinstance(details, dict):
            texts = [item.get("description", "") for items in details.values() for item in items]
            return "; ".join(t for t in texts if t)
        return str(self.body.get("description", ""))


def _not_found() -> ZdError:
    return ZdError(404, {"error": "RecordNotFound", "description": "Not found"})


def _invalid(
    field: str, description: str, error: str | None = "InvalidValue", *, error_key: bool = False, **extra: Any
) -> ZdError:
    item: dict[str, Any] = {"description": description}
    if error is not None or error_key:
        item["error"] = error
    item.update(extra)
    return ZdError(
        422, {"error": "RecordInvalid", "description": "Record validation errors", "details": {field: [item]}}
    )


def _too_many(param: str = "") -> ZdError:
    # Verbatim from the recorded create_many answer, including the double space for the empty name.
    return ZdError(
        400,
        {
            "error": "TooManyValues",
            "description": f"Parameter {param} cannot specify more than {BULK_LIMIT} values",
            "max_count": BULK_LIMIT,
        },
    )


def _bad_request(description: str, error: str = "InvalidValue") -> ZdError:
    return ZdError(400, {"error": error, "description": description})


@dataclass
class Caller:
    """Who is calling: the agent behind the Basic (email/token) or Bearer credentials."""

    email: str


def _html_of(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n{2,}", text) if p != ""] or [""]
    inner = "".join(f'<p dir="auto">{html.escape(p).replace(chr(10), "<br>")}</p>' for p in paragraphs)
    return f'<div class="zd-comment" dir="auto">{inner}</div>'


def _text_of(markup: str) -> str:
    text = re.sub(r"(?i)<br\s*/?>", "\n", markup)
    text = re.sub(r"(?i)</p\s*>", "\n\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip()


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ZendeskApi:
    def __init__(self, engine: Engine, now: Now, base_url: str, strict_fields: Callable[[], bool]) -> None:
        self.engine = engine
        self.now = now
        self.base_url = base_url
        self.strict_fields = strict_fields
        self.displays: list[tuple[int, str, int]] = []  # screen pops: (agent_id, kind, id)
        self.groups = list(SEEDED_GROUPS)  # routing targets (adapters/sandbox/routing_targets.py)

    # -- entry point ---------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        segments: list[str],
        query: Mapping[str, list[str]],
        body: bytes | None,
        headers: Mapping[str, str],
        caller: Caller,
    ) -> ApiResponse:
        method = method.upper()
        segs = [s for s in segments if s != ""]
        if segs and segs[-1].endswith(".json"):
            segs[-1] = segs[-1][: -len(".json")]
        if len(segs) < 2 or segs[:2] != ["api", "v2"]:
            return ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"}).response()
        payload: Any = None
        if body is not None and body.strip():
            try:
                payload = json.loads(body)
            except ValueError:
                return _bad_request("The request body is not valid JSON", "InvalidJSON").response()
        rest = segs[2:]
        idem_key = next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)

        if idem_key is not None and len(idem_key) > MAX_STRING:
            return _bad_request(f"Idempotency-Key must be at most {MAX_STRING} characters").response()

        def work(conn: Connection) -> ApiResponse:
            try:
                if idem_key and method == "POST" and rest == ["tickets"]:
                    return self._idempotent_create(conn, caller, idem_key, payload)
                return self._route(conn, method, rest, query, payload, caller)
            except ZdError as exc:
                return exc.response()

        return db.run_transaction(self.engine, work)

    def _route(
        self,
        conn: Connection,
        method: str,
        rest: list[str],
        query: Mapping[str, list[str]],
        payload: Any,
        caller: Caller,
    ) -> ApiResponse:
        head = rest[0] if rest else ""
        if head == "tickets":
            return self._tickets(conn, method, rest[1:], query, payload, caller)
        if head == "job_statuses":
            return self._job_statuses(conn, method, rest[1:], query)
        if head == "ticket_fields" and method == "GET":
            if len(rest) == 1:
                fields = [f.render(self.base_url) for f in ZD_TICKET_FIELDS]
                return ApiResponse(
                    200,
                    {"ticket_fields": fields, "next_page": None, "previous_page": None, "count": len(fields)},
                )
            if len(rest) == 2:
                fid = _int_or_none(rest[1])
                if fid not in ZD_FIELDS_BY_ID:
                    raise _not_found()
                return ApiResponse(200, {"ticket_field": ZD_FIELDS_BY_ID[fid].render(self.base_url)})
        if head == "users":
            return self._users(conn, method, rest[1:], query, payload, caller)
        if head == "groups" and method == "GET" and len(rest) == 1:
            return groups_page(self.groups, self.base_url, query)
        if head == "channels":
            return self._screen_pop(conn, method, rest[1:])
        if head == "search":
            from .search import answer  # ticket search (adapters/sandbox/search.py)

            return answer(self, conn, method, rest[1:], query)
        raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # -- screen pop (Talk Partner Edition) -----------------------------------------------------

    def _screen_pop(self, conn: Connection, method: str, rest: list[str]) -> ApiResponse:
        """POST voice/agents/{agent_id}/tickets|users/{id}/display: 200 with an empty body when the
        agent (an agent or admin user) and the ticket or user exist, else 404. What was popped is
        kept in ``displays`` as (agent_id, "ticket"|"user", id), for tests and the demo."""
        if len(rest) != 6 or rest[:2] != ["voice", "agents"] or rest[3] not in ("tickets", "users"):
            raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})
        if rest[5] != "display" or method != "POST":
            raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})
        agent_id, record_id = _int_or_none(rest[2]), _int_or_none(rest[4])
        agent = (
            db.zd_user_get(conn, agent_id - USER_ID_BASE)
            if agent_id is not None and agent_id > USER_ID_BASE
            else None
        )
        if agent is None or agent.get("role") not in ("agent", "admin") or record_id is None:
            raise _not_found()
        if rest[3] == "tickets":
            found = db.zd_ticket_get(conn, record_id) is not None
        else:
            found = record_id > USER_ID_BASE and db.zd_user_get(conn, record_id - USER_ID_BASE) is not None
        if not found:
            raise _not_found()
        self.displays.append((agent_id, rest[3].removesuffix("s"), record_id))
        return ApiResponse(200, None)

    # -- tickets -------------------------------------------------------------------------------

    def _tickets(
        self,
        conn: Connection,
        method: str,
        rest: list[str],
        query: Mapping[str, list[str]],
        payload: Any,
        caller: Caller,
    ) -> ApiResponse:
        if not rest:
            if method == "GET":
                external_id = (query.get("external_id") or [None])[0]
                rows = db.zd_tickets_where(conn, external_id=external_id)
                return self._ticket_list(rows)
            if method == "POST":
                return self._create_response(conn, caller, payload)
            raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})
        if rest == ["create_many"] and method == "POST":
            return self._create_many(conn, caller, payload)
        if rest == ["update_many"] and method == "PUT":
            return self._update_many(conn, caller, query, payload)
        if rest == ["show_many"] and method == "GET":
            ids = [i for i in (_int_or_none(x) for x in ",".join(query.get("ids") or []).split(",")) if i]
            if len(ids) > BULK_LIMIT:
                raise _too_many("ids")
            return self._ticket_list(db.zd_tickets_where(conn, pks=ids) if ids else [])
        pk = _int_or_none(rest[0])
        if pk is None:
            raise _not_found()
        if len(rest) == 1:
            if method == "GET":
                data = db.zd_ticket_get(conn, pk)
                if data is None:
                    raise _not_found()
                return ApiResponse(200, {"ticket": self.render_ticket(pk, data)})
            if method == "PUT":
                if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
                    raise _bad_request("Parameter ticket is required", "ParameterMissing")
                data, audit = self.update_ticket(conn, caller, pk, payload["ticket"])
                return ApiResponse(200, {"ticket": self.render_ticket(pk, data), "audit": audit})
            raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})
        if len(rest) == 2 and method == "GET" and rest[1] in ("comments", "audits"):
            if db.zd_ticket_get(conn, pk) is None:
                raise _not_found()
            if rest[1] == "comments":
                items = [self.render_comment(cpk, data) for cpk, _t, data in db.zd_comments_for(conn, pk)]
            else:
                items = [data for _a, _t, data in db.zd_audits_for(conn, pk)]
            if (query.get("sort_order") or ["asc"])[0] == "desc":
                items.reverse()
            return ApiResponse(
                200, {rest[1]: items, "next_page": None, "previous_page": None, "count": len(items)}
            )
        if len(rest) == 2 and rest[1] == "merge" and method == "POST":
            return self._merge(conn, caller, pk, payload)
        raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _ticket_list(self, rows: list[tuple[int, dict[str, Any]]]) -> ApiResponse:
        tickets = [self.render_ticket(pk, data) for pk, data in rows]
        return ApiResponse(
            200, {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)}
        )

    def _create_response(self, conn: Connection, caller: Caller, payload: Any) -> ApiResponse:
        if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
            raise _bad_request("Parameter ticket is required", "ParameterMissing")
        pk, data, audit = self.create_ticket(conn, caller, payload["ticket"])
        return ApiResponse(
            201,
            {"ticket": self.render_ticket(pk, data), "audit": audit},
            {"Location": f"{self.base_url}/api/v2/tickets/{pk}.json"},
        )

    def _idempotent_create(self, conn: Connection, caller: Caller, key: str, payload: Any) -> ApiResponse:
        fingerprint = hashlib.sha256(
            json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        ).hexdigest()
        now = self.now().timestamp()
        oldest = now - IDEMPOTENCY_TTL.total_seconds()
        stored = db.zd_idempotency_get(conn, key)
        if stored is not None and stored[1] >= oldest:
            if stored[0] != fingerprint:
                raise _bad_request(
                    "Request parameters don't match the given idempotency key", "IdempotentRequestError"
                )
            response = stored[2]
            headers = dict(response.get("headers") or {})
            headers["x-idempotency-lookup"] = "hit"
            return ApiResponse(int(response["status"]), response["body"], headers)
        result = self._create_response(conn, caller, payload)
        if result.status == 201:
            db.zd_idempotency_put(
                conn,
                key,
                fingerprint,
                now,
                {"status": result.status, "body": result.body, "headers": result.headers},
                expired_before=oldest,
            )
        result.headers["x-idempotency-lookup"] = "miss"
        return result

    # -- ticket writes -------------------------------------------------------------------------

    def create_ticket(
        self, conn: Connection, caller: Caller, spec: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """Validate (no writes), then write the ticket, its first comment and its audit."""
        if not isinstance(spec, Mapping):
            raise _bad_request("Parameter ticket must be an object")
        comment = self._comment_spec(spec.get("comment"))
        if comment is None and isinstance(spec.get("description"), str) and spec["description"].strip():
            comment = {"body": spec["description"], "html_body": None, "public": True, "author_id": None}
        if comment is None:
            raise _invalid("description", "Description: cannot be blank", "BlankValue")
        requester_plan = self._requester_plan(conn, spec)
        submitter_pk = self._existing_user(conn, spec.get("submitter_id"), "submitter")
        assignee_pk = self._existing_user(conn, spec.get("assignee_id"), "assignee")
        status = spec.get("status") or ("open" if assignee_pk else "new")
        priority = spec.get("priority")
        ticket_type = spec.get("type")
        self._check_enums(status, priority, ticket_type)
        custom_updates = self._custom_updates(spec)
        tags = self._tags(spec.get("tags") or [])
        custom: dict[str, Any] = {str(fid): None for fid in ZD_CUSTOM_FIELDS}
        custom.update(custom_updates)
        tags = _sync_tags(tags, custom, {int(k) for k in custom_updates}, tags_explicit="tags" in spec)
        if status in ("solved", "closed") and assignee_pk is None:
            raise _assignee_required()
        external_id = spec.get("external_id")
        _check_external_id(external_id)
        group_problem = group_id_problem(self.groups, spec.get("group_id"))
        if group_problem is not None:  # modelled on RecordInvalid; the real text is not recorded
            raise _invalid("group", group_problem)
        # -- writes --------------------------------------------------------------------------
        caller_pk = self._caller_pk(conn, caller)
        requester_pk = requester_plan(conn) if requester_plan else caller_pk
        # "The submitter always becomes the author of the first comment on the ticket."
        author_pk = self._author_pk(conn, comment.get("author_id"), submitter_pk or caller_pk)
        stamp = zd_datetime(self.now())
        subject = spec.get("subject")
        data: dict[str, Any] = {
            "external_id": None if external_id is None else str(external_id),
            "subject": subject,
            "raw_subject": subject,
            "description": comment["body"],
            "priority": priority,
            "status": status,
            "type": ticket_type,
            "requester_id": USER_ID_BASE + requester_pk,
            "submitter_id": USER_ID_BASE + (submitter_pk or author_pk),
            "assignee_id": None if assignee_pk is None else USER_ID_BASE + assignee_pk,
            "organization_id": None,
            "group_id": _int_or_none(spec.get("group_id")),
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "problem_id": None,
            "has_incidents": False,
            "is_public": bool(comment["public"]),
            "due_at": spec.get("due_at"),
            "tags": tags,
            "custom": custom,
            "followup_ids": [],
            "created_at": stamp,
            "updated_at": stamp,
        }
        pk = db.zd_ticket_insert(conn, data, requester_pk)
        events: list[dict[str, Any]] = []
        for name in (
            "subject",
            "requester_id",
            "priority",
            "type",
            "status",
            "assignee_id",
            "group_id",
            "external_id",
        ):
            if name in ("subject", "requester_id", "priority", "type", "status") or data[name] is not None:
                value = data[name]
                events.append(
                    {"type": "Create", "value": None if value is None else str(value), "field_name": name}
                )
        if tags:
            events.append({"type": "Create", "value": list(tags), "field_name": "tags"})
        for fid, value in custom.items():
            if value is not None:
                events.append({"type": "Create", "value": value, "field_name": fid})
        audit = self._write_audit(conn, pk, caller_pk, comment, author_pk, events, stamp)
        return pk, data, audit

    def update_ticket(
        self, conn: Connection, caller: Caller, pk: int, spec: Mapping[str, Any], *, system: bool = False
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Validate (no writes), then apply one ticket update with its audit (and comment)."""
        existing = db.zd_ticket_get(conn, pk)
        if existing is None:
            raise _not_found()
        if not isinstance(spec, Mapping):
            raise _bad_request("Parameter ticket must be an object")
        if existing["status"] == "closed" and not system:
            raise _invalid("status", "closed prevents ticket update", None)
        if spec.get("safe_update") and spec.get("updated_stamp") != existing["updated_at"]:
            raise ZdError(
                409,
                {
                    "error": "UpdateConflict",
                    "description": "Safe Update prevented the update due to outdated ticket data. "
                    "Please fetch the latest ticket data and try again.",
                },
            )
        data = json.loads(json.dumps(existing))
        comment = self._comment_spec(spec.get("comment"))
        if "subject" in spec:
            data["subject"] = data["raw_subject"] = spec["subject"]
        for name in ("status", "priority", "type"):
            if name in spec:
                data[name] = spec[name]
        if "status" in spec and not spec["status"]:
            data["status"] = existing["status"]
        self._check_enums(data["status"], data["priority"], data["type"])
        if "assignee_id" in spec:
            assignee_pk = self._existing_user(conn, spec["assignee_id"], "assignee")
            data["assignee_id"] = None if assignee_pk is None else USER_ID_BASE + assignee_pk
        requester_plan = None
        if "requester_id" in spec or "requester" in spec:
            requester_plan = self._requester_plan(conn, spec)
        if "external_id" in spec:
            _check_external_id(spec["external_id"])
            data["external_id"] = None if spec["external_id"] is None else str(spec["external_id"])
        if "due_at" in spec:
            data["due_at"] = spec["due_at"]
        if "group_id" in spec:  # an agent (or a trigger) moving the ticket
            if (group_problem := group_id_problem(self.groups, spec["group_id"])) is not None:
                raise _invalid("group", group_problem)
            data["group_id"] = _int_or_none(spec["group_id"])
        tags_explicit = "tags" in spec
        tags = self._tags(spec["tags"] or []) if tags_explicit else list(data["tags"])
        for tag in self._tags(spec.get("additional_tags") or []):
            if tag not in tags:
                tags.append(tag)
        removed = set(self._tags(spec.get("remove_tags") or []))
        tags = [t for t in tags if t not in removed]
        custom_updates = self._custom_updates(spec)
        data["custom"].update(custom_updates)
        data["tags"] = _sync_tags(
            tags,
            data["custom"],
            {int(k) for k in custom_updates},
            tags_explicit=tags_explicit or bool(removed) or "additional_tags" in spec,
        )
        if data["status"] in ("solved", "closed") and data["assignee_id"] is None and not system:
            raise _assignee_required()
        # -- writes --------------------------------------------------------------------------
        caller_pk = self._caller_pk(conn, caller)
        requester_pk = existing_requester = int(existing["requester_id"]) - USER_ID_BASE
        if requester_plan is not None:
            requester_pk = requester_plan(conn)
            data["requester_id"] = USER_ID_BASE + requester_pk
        author_pk = self._author_pk(conn, (comment or {}).get("author_id"), caller_pk)
        stamp = zd_datetime(self.now())
        data["updated_at"] = stamp
        events: list[dict[str, Any]] = []
        for name in (
            "subject",
            "status",
            "priority",
            "type",
            "assignee_id",
            "group_id",
            "requester_id",
            "external_id",
            "due_at",
        ):
            if data.get(name) != existing.get(name):
                events.append(
                    {
                        "type": "Change",
                        "value": _str_or_none(data.get(name)),
                        "field_name": name,
                        "previous_value": _str_or_none(existing.get(name)),
                    }
                )
        if data["tags"] != existing["tags"]:
            events.append(
                {
                    "type": "Change",
                    "value": list(data["tags"]),
                    "field_name": "tags",
                    "previous_value": list(existing["tags"]),
                }
            )
        for fid, value in data["custom"].items():
            if value != existing["custom"].get(fid):
                events.append(
                    {
                        "type": "Change",
                        "value": value,
                        "field_name": fid,
                        "previous_value": existing["custom"].get(fid),
                    }
                )
        db.zd_ticket_update(
            conn, pk, data, requester_pk if requester_plan is not None else existing_requester
        )
        audit = self._write_audit(conn, pk, caller_pk, comment, author_pk, events, stamp)
        return data, audit

    def _write_audit(
        self,
        conn: Connection,
        ticket_pk: int,
        caller_pk: int,
        comment: Mapping[str, Any] | None,
        author_pk: int,
        events: list[dict[str, Any]],
        stamp: str,
    ) -> dict[str, Any]:
        audit_pk = db.zd_audit_insert(conn, ticket_pk, {})
        audit_id = AUDIT_ID_BASE + audit_pk
        all_events: list[dict[str, Any]] = []
        if comment is not None:
            comment_data = {
                "type": "Comment",
                "author_id": USER_ID_BASE + author_pk,
                "body": comment["body"],
                "html_body": comment["html_body"] or _html_of(comment["body"]),
                "plain_body": comment["body"],
                "public": bool(comment["public"]),
                "attachments": [],
                "audit_id": audit_id,
                "via": _VIA,
                "created_at": stamp,
                "metadata": self._metadata(),
            }
            comment_pk = db.zd_comment_insert(conn, ticket_pk, comment_data)
            event = {"id": COMMENT_ID_BASE + comment_pk}
            event.update(
                {k: v for k, v in comment_data.items() if k not in ("via", "created_at", "metadata")}
            )
            all_events.append(event)
        for offset, event in enumerate(events, start=1):
            all_events.append({"id": audit_id * 100 + offset, **event})
        audit = {
            "id": audit_id,
            "ticket_id": ticket_pk,
            "created_at": stamp,
            "author_id": USER_ID_BASE + caller_pk,
            "metadata": self._metadata(),
            "events": all_events,
            "via": _VIA,
        }
        db.zd_audit_set(conn, audit_pk, audit)
        return audit

    @staticmethod
    def _metadata() -> dict[str, Any]:
        return {
            "system": {
                "client": "CTI Hub sandbox",
                "ip_address": "127.0.0.1",
                "location": "Sandbox",
                "latitude": 0,
                "longitude": 0,
            },
            "custom": {},
        }

    # -- validation helpers --------------------------------------------------------------------

    @staticmethod
    def _comment_spec(spec: Any) -> dict[str, Any] | None:
        if spec is None:
            return None
        if isinstance(spec, str):
            spec = {"body": spec}
        if not isinstance(spec, Mapping):
            raise _invalid("comment", "Comment: is invalid")
        body = spec.get("body")
        html_body = spec.get("html_body")
        if isinstance(html_body, str) and html_body.strip():
            text = _text_of(html_body)
        elif isinstance(body, str) and body.strip():
            text, html_body = body, None
        else:
            return None
        return {
            "body": text,
            "html_body": html_body,
            "public": spec.get("public", True) is not False,
            "author_id": spec.get("author_id"),
        }

    @staticmethod
    def _check_enums(status: Any, priority: Any, ticket_type: Any) -> None:
        if status not in ZD_STATUSES:
            raise _invalid("status", f"Status: {status} is not a valid status")
        if priority is not None and priority not in ZD_PRIORITIES:
            raise _invalid("priority", f"Priority: {priority} is not a valid priority")
        if ticket_type is not None and ticket_type not in ZD_TYPES:
            raise _invalid("type", f"Type: {ticket_type} is not a valid type")

    @staticmethod
    def _tags(values: Any) -> list[str]:
        if isinstance(values, str):
            values = values.split()
        out: list[str] = []
        for value in values if isinstance(values, list) else []:
            for tag in str(value).lower().split():
                if tag and tag not in out:
                    out.append(tag)
        return out

    def _custom_updates(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """``{field id (str): value}`` from ``custom_fields`` / ``fields`` (list of {id, value} or a dict)."""
        raw = spec.get("custom_fields")
        if raw is None:
            raw = spec.get("fields")
        if raw is None:
            return {}
        items = (
            list(raw.items())
            if isinstance(raw, Mapping)
            else [(item.get("id"), item.get("value")) for item in raw if isinstance(item, Mapping)]
            if isinstance(raw, list)
            else []
        )
        strict = self.strict_fields()
        out: dict[str, Any] = {}
        for raw_id, value in items:
            fid = _int_or_none(raw_id)
            fld = ZD_CUSTOM_FIELDS.get(fid) if fid is not None else None
            if fld is None:
                if strict:
                    raise _invalid(
                        "base", f"Ticket field {raw_id}: does not exist", "InvalidValue", ticket_field_id=fid
                    )
                continue
            checked = _field_value(fld, value)
            if checked is _INVALID:
                if strict:
                    raise _invalid(
                        "base",
                        f"{fld.title}: {value} is not a valid option",
                        "InvalidValue",
                        ticket_field_id=fld.id,
                        ticket_field_type=_field_type_name(fld),
                    )
                continue
            out[str(fld.id)] = checked
        return out

    def _existing_user(self, conn: Connection, value: Any, field: str) -> int | None:
        if value is None:
            return None
        uid = _int_or_none(value)
        pk = uid - USER_ID_BASE if uid is not None else None
        if pk is None or pk <= 0 or db.zd_user_get(conn, pk) is None:
            raise _invalid(field, f"{field.capitalize()}: is invalid")
        return pk

    def _requester_plan(
        self, conn: Connection, spec: Mapping[str, Any]
    ) -> Callable[[Connection], int] | None:
        """Check the requester now; the returned function finds or creates it (a write)."""
        requester = spec.get("requester")
        if isinstance(requester, Mapping):
            email = requester.get("email")
            name = requester.get("name")
            if email is not None and (
                not isinstance(email, str) or not _EMAIL.match(email) or len(email) > MAX_STRING
            ):
                raise _invalid(
                    "requester", f"Requester: Email {email} is not properly formatted", "InvalidFormat"
                )
            if not email and not (isinstance(name, str) and name.strip()):
                raise _invalid(
                    "requester", "Requester: Name: is too short (minimum is 1 characters)", "InvalidValue"
                )

            external_id = requester.get("external_id")
            _check_external_id(external_id)

            def plan(conn: Connection) -> int:
                found = db.zd_user_find(
                    conn, email=email or None, external_id=None if external_id is None else str(external_id)
                )
                if found is not None:
                    return found
                return db.zd_user_insert(
                    conn,
                    self._new_user(
                        name=name if isinstance(name, str) and name.strip() else str(email).split("@")[0],
                        email=email,
                        phone=requester.get("phone"),
                        external_id=external_id,
                        role="end-user",
                    ),
                )

            return plan
        if spec.get("requester_id") is not None:
            pk = self._existing_user(conn, spec.get("requester_id"), "requester")
            assert pk is not None
            return lambda _conn: pk
        return None

    def _author_pk(self, conn: Connection, author_id: Any, fallback: int) -> int:
        uid = _int_or_none(author_id)
        if uid is not None and uid > USER_ID_BASE and db.zd_user_get(conn, uid - USER_ID_BASE) is not None:
            return uid - USER_ID_BASE
        return fallback

    def _caller_pk(self, conn: Connection, caller: Caller) -> int:
        found = db.zd_user_find(conn, email=caller.email)
        if found is not None:
            return found
        return db.zd_user_insert(
            conn,
            self._new_user(
                name=caller.email.split("@")[0],
                email=caller.email,
                phone=None,
                external_id=None,
                role="admin",
            ),
        )

    # -- bulk jobs -----------------------------------------------------------------------------

    def _job(
        self,
        conn: Connection,
        total: int,
        results: list[dict[str, Any]] | None,
        *,
        failed_message: str | None = None,
    ) -> ApiResponse:
        job_id = "V3-" + uuid.uuid4().hex
        url = f"{self.base_url}/api/v2/job_statuses/{job_id}.json"
        now = self.now()
        final = {
            "id": job_id,
            "url": url,
            "total": total,
            "progress": total if failed_message is None else 0,
            "status": "completed" if failed_message is None else "failed",
            "message": failed_message or "Completed at " + now.strftime("%Y-%m-%d %H:%M:%S +0000"),
            "results": results,
        }
        db.zd_job_insert(conn, job_id, final)
        queued = {
            "id": job_id,
            "url": url,
            "total": total,
            "progress": None,
            "status": "queued",
            "message": None,
            "results": None,
        }
        return ApiResponse(200, {"job_status": queued})

    def _create_many(self, conn: Connection, caller: Caller, payload: Any) -> ApiResponse:
        tickets = payload.get("tickets") if isinstance(payload, dict) else None
        if not isinstance(tickets, list):
            raise _bad_request("Parameter tickets is required", "ParameterMissing")
        if len(tickets) > BULK_LIMIT:
            raise _too_many()
        results = []
        for index, spec in enumerate(tickets):
            try:
                pk, _data, _audit = self.create_ticket(conn, caller, spec)
                results.append({"index": index, "id": pk, "account_id": ACCOUNT_ID})
            except ZdError as exc:
                results.append(
                    {
                        "index": index,
                        "action": "create",
                        "success": False,
                        "status": "Failed",
                        "error": exc.body.get("error"),
                        "details": exc.detail_text(),
                    }
                )
        return self._job(conn, len(tickets), results)

    def _update_many(
        self, conn: Connection, caller: Caller, query: Mapping[str, list[str]], payload: Any
    ) -> ApiResponse:
        if query.get("external_ids"):
            raise _bad_request("sandbox: update_many by external_ids is not supported", "InvalidParameter")
        jobs: list[tuple[Any, Any]] = []
        if query.get("ids"):
            ids = [x for x in ",".join(query["ids"]).split(",") if x.strip()]
            if len(ids) > BULK_LIMIT:
                raise _too_many("ids")
            spec = payload.get("ticket") if isinstance(payload, dict) else None
            if not isinstance(spec, dict):
                raise _bad_request("Parameter ticket is required", "ParameterMissing")
            jobs = [(x, spec) for x in ids]
        else:
            tickets = payload.get("tickets") if isinstance(payload, dict) else None
            if not isinstance(tickets, list):
                raise _bad_request("Parameter tickets is required", "ParameterMissing")
            if len(tickets) > BULK_LIMIT:
                raise _too_many()
            jobs = [(t.get("id") if isinstance(t, dict) else None, t) for t in tickets]
        results = []
        for raw_id, spec in jobs:
            pk = _int_or_none(raw_id)
            try:
                if pk is None:
                    raise _not_found()
                self.update_ticket(conn, caller, pk, {k: v for k, v in spec.items() if k != "id"})
                results.append({"action": "update", "id": pk, "status": "Updated", "success": True})
            except ZdError as exc:
                results.append(
                    {
                        "action": "update",
                        "id": pk if pk is not None else raw_id,
                        "success": False,
                        "status": "Failed",
                        "error": exc.body.get("error"),
                        "details": exc.detail_text(),
                    }
                )
        return self._job(conn, len(jobs), results)

    def _merge(self, conn: Connection, caller: Caller, target_pk: int, payload: Any) -> ApiResponse:
        target = db.zd_ticket_get(conn, target_pk)
        if target is None:
            raise _not_found()
        ids = payload.get("ids") if isinstance(payload, dict) else None
        if not isinstance(ids, list) or not ids:
            raise _bad_request("Parameter ids is required", "ParameterMissing")
        sources = [_int_or_none(x) for x in ids]
        problem = None
        if target["status"] not in ZD_UNSOLVED:
            problem = f"Ticket #{target_pk} is {target['status']} and cannot be the target of a merge"
        source_rows: list[tuple[int, dict[str, Any]]] = []
        for pk in sources:
            if problem:
                break
            row = db.zd_ticket_get(conn, pk) if pk is not None else None
            if row is None:
                problem = f"Ticket #{pk} could not be found"
            elif pk == target_pk:
                problem = f"Ticket #{pk} cannot be merged into itself"
            elif row["status"] == "closed":
                problem = f"Ticket #{pk} is closed and cannot be merged"
            else:
                source_rows.append((pk, row))  # type: ignore[arg-type]
        if problem:
            return self._job(conn, len(sources), None, failed_message=problem)
        target_subject = target.get("subject") or ""
        source_comment = payload.get("source_comment") or (
            f'This request was closed and merged into request #{target_pk} "{target_subject}".'
        )
        source_public = bool(payload.get("source_comment_is_public", False))
        target_public = bool(payload.get("target_comment_is_public", False))
        results = []
        for pk, _row in source_rows:
            self.update_ticket(
                conn,
                caller,
                pk,
                {
                    "status": "closed",
                    "additional_tags": ["closed_by_merge"],
                    "comment": {"body": source_comment, "public": source_public},
                },
                system=True,
            )
            results.append({"action": "merge", "id": pk, "status": "Merged", "success": True})
        target_comment = payload.get("target_comment") or "\n".join(
            f'Request #{pk} "{row.get("subject") or ""}" was closed and merged into this request.'
            for pk, row in source_rows
        )
        self.update_ticket(
            conn,
            caller,
            target_pk,
            {"comment": {"body": target_comment, "public": target_public}},
            system=True,
        )
        return self._job(conn, len(source_rows), results)

    def _job_statuses(
        self, conn: Connection, method: str, rest: list[str], query: Mapping[str, list[str]]
    ) -> ApiResponse:
        if method != "GET":
            raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})
        if not rest:
            jobs = db.zd_jobs_all(conn)
            return ApiResponse(
                200, {"job_statuses": jobs, "next_page": None, "previous_page": None, "count": len(jobs)}
            )
        if rest == ["show_many"]:
            ids = [x for x in ",".join(query.get("ids") or []).split(",") if x]
            jobs = [j for j in (db.zd_job_get(conn, x) for x in ids) if j is not None]
            return ApiResponse(200, {"job_statuses": jobs})
        if len(rest) == 1:
            job = db.zd_job_get(conn, rest[0])
            if job is None:
                raise _not_found()
            return ApiResponse(200, {"job_status": job})
        raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # -- users ---------------------------------------------------------------------------------

    def _new_user(self, *, name: str, email: Any, phone: Any, external_id: Any, role: str) -> dict[str, Any]:
        stamp = zd_datetime(self.now())
        return {
            "name": name,
            "email": email,
            "phone": phone,
            "external_id": None if external_id is None else str(external_id),
            "role": role,
            "created_at": stamp,
            "updated_at": stamp,
            "tags": [],
            "details": "",
            "notes": "",
            "verified": False,
            "suspended": False,
        }

    def _users(
        self,
        conn: Connection,
        method: str,
        rest: list[str],
        query: Mapping[str, list[str]],
        payload: Any,
        caller: Caller,
    ) -> ApiResponse:
        if rest == [] and method == "POST":
            spec = zendesk_users.with_identities(self._user_spec(payload))
            return self._create_user(conn, spec)
        if rest == ["create_or_update"] and method == "POST":
            return self._create_or_update_user(conn, self._user_spec(payload))
        if rest == ["create_or_update_many"] and method == "POST":
            return self._create_or_update_users(conn, payload)

        if method != "GET":
            raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})
        if rest == ["me"]:
            pk = self._caller_pk(conn, caller)
            return ApiResponse(200, {"user": self.render_user(pk, db.zd_user_get(conn, pk) or {})})
        if rest == ["search"]:
            return zendesk_users.search_users(self, conn, query)
        if rest == ["show_many"]:
            pks: list[int] = []
            for raw in ",".join(query.get("ids") or []).split(","):
                uid = _int_or_none(raw)
                if uid is not None:
                    pks.append(uid - USER_ID_BASE)
            for raw in ",".join(query.get("external_ids") or []).split(","):
                found = db.zd_user_find(conn, external_id=raw) if raw else None
                if found is not None:
                    pks.append(found)
            users = [self.render_user(pk, d) for pk in pks if (d := db.zd_user_get(conn, pk)) is not None]
            return ApiResponse(
                200, {"users": users, "next_page": None, "previous_page": None, "count": len(users)}
            )
        uid = _int_or_none(rest[0]) if rest else None
        pk = uid - USER_ID_BASE if uid is not None else None
        data = db.zd_user_get(conn, pk) if pk is not None and pk > 0 else None
        if data is None or pk is None:
            raise _not_found()
        if len(rest) == 1:
            return ApiResponse(200, {"user": self.render_user(pk, data)})
        if rest[1:] == ["tickets", "requested"]:
            return self._ticket_list(db.zd_tickets_where(conn, requester_pk=pk))
        if rest[1:] == ["identities"]:
            return zendesk_users.identities(self, pk, data)
        raise ZdError(404, {"error": "InvalidEndpoint", "description": "Not found"})

    def _create_or_update_user(self, conn: Connection, spec: dict[str, Any]) -> ApiResponse:
        """users/create_or_update: match by external_id, then email; else create."""
        found = None
        if spec.get("external_id"):
            found = db.zd_user_find(conn, external_id=str(spec["external_id"]))
        if found is None and spec.get("email"):
            found = db.zd_user_find(conn, email=str(spec["email"]))
        if found is None:
            # No uniqueness pre-check here: a racing creator makes our INSERT fail on the UNIQUE
            # constraint, the request is replayed, and the replay updates the winner's user.
            return self._create_user(conn, spec, check_unique=False)
        data = db.zd_user_get(conn, found) or {}
        self._check_user(conn, spec, creating=False, pk=found)
        for key in ("name", "email", "phone", "external_id", "role", "details", "notes", "tags"):
            if key in spec:
                data[key] = spec[key] if key != "external_id" or spec[key] is None else str(spec[key])
        data["updated_at"] = zd_datetime(self.now())
        db.zd_user_update(conn, found, data)
        return ApiResponse(200, {"user": self.render_user(found, data)})

    def _create_or_update_users(self, conn: Connection, payload: Any) -> ApiResponse:
        """users/create_or_update_many: up to 100, as a job whose results say Created or Updated."""
        users = payload.get("users") if isinstance(payload, dict) else None
        if not isinstance(users, list):
            raise _bad_request("Parameter users is required", "ParameterMissing")
        if len(users) > BULK_LIMIT:
            raise _too_many()
        results = []
        for index, spec in enumerate(users):
            try:
                if not isinstance(spec, dict):
                    raise _bad_request("Each user must be an object")
                answer = self._create_or_update_user(conn, spec)
                created = answer.status == 201
                results.append(
                    {
                        "id": answer.body["user"]["id"],
                        "index": index,
                        "action": "create" if created else "update",
                        "status": "Created" if created else "Updated",
                        "success": True,
                    }
                )
            except ZdError as exc:
                results.append(
                    {
                        "index": index,
                        "action": "create",
                        "success": False,
                        "status": "Failed",
                        "error": exc.body.get("error"),
                        "details": exc.detail_text(),
                    }
                )
        return self._job(conn, len(users), results)

    @staticmethod
    def _user_spec(payload: Any) -> dict[str, Any]:
        spec = payload.get("user") if isinstance(payload, dict) else None
        if not isinstance(spec, dict):
            raise _bad_request("Parameter user is required", "ParameterMissing")
        return spec

    def _check_user(
        self,
        conn: Connection,
        spec: Mapping[str, Any],
        *,
        creating: bool,
        pk: int | None,
        check_unique: bool = True,
    ) -> None:
        name = spec.get("name")
        if (creating or "name" in spec) and not (isinstance(name, str) and name.strip()):
            raise _invalid("name", "Name: is too short (minimum is 1 characters)", None)
        email = spec.get("email")
        if email is not None and (
            not isinstance(email, str) or not _EMAIL.match(email) or len(email) > MAX_STRING
        ):
            raise _invalid("email", f"Email: {email} is not properly formatted", "InvalidFormat")
        _check_external_id(spec.get("external_id"))
        if email and check_unique:
            owner = db.zd_user_find(conn, email=email)
            if owner is not None and owner != pk:
                raise _invalid(
                    "email", f"Email: {email} is already being used by another user", "DuplicateValue"
                )
        if spec.get("external_id") and check_unique:
            owner = db.zd_user_find(conn, external_id=str(spec["external_id"]))
            if owner is not None and owner != pk:
                raise _invalid("external_id", "External ID: has already been taken", "DuplicateValue")
        role = spec.get("role")
        if role is not None and role not in ("end-user", "agent", "admin"):
            raise _invalid("role", f"Role: {role} is not a valid role")

    def _create_user(
        self, conn: Connection, spec: Mapping[str, Any], *, check_unique: bool = True
    ) -> ApiResponse:
        self._check_user(conn, spec, creating=True, pk=None, check_unique=check_unique)
        data = self._new_user(
            name=str(spec["name"]).strip(),
            email=spec.get("email"),
            phone=spec.get("phone"),
            external_id=spec.get("external_id"),
            role=spec.get("role") or "end-user",
        )
        for key in ("details", "notes", "tags", "identities"):
            if key in spec:
                data[key] = spec[key]
        pk = db.zd_user_insert(conn, data)
        return ApiResponse(
            201,
            {"user": self.render_user(pk, data)},
            {"Location": f"{self.base_url}/api/v2/users/{USER_ID_BASE + pk}.json"},
        )

    # -- rendering -----------------------------------------------------------------------------

    def render_ticket(self, pk: int, data: Mapping[str, Any]) -> dict[str, Any]:
        custom = [
            {"id": int(fid), "value": value}
            for fid, value in sorted(data["custom"].items(), key=lambda kv: int(kv[0]))
        ]
        return {
            "url": f"{self.base_url}/api/v2/tickets/{pk}.json",
            "id": pk,
            "external_id": data.get("external_id"),
            "via": _VIA,
            "created_at": data["created_at"],
            "updated_at": data["updated_at"],
            "type": data.get("type"),
            "subject": data.get("subject"),
            "raw_subject": data.get("raw_subject"),
            "description": data.get("description"),
            "priority": data.get("priority"),
            "status": data["status"],
            "recipient": None,
            "requester_id": data["requester_id"],
            "submitter_id": data["submitter_id"],
            "assignee_id": data.get("assignee_id"),
            "organization_id": data.get("organization_id"),
            "group_id": data.get("group_id"),
            "collaborator_ids": list(data.get("collaborator_ids") or []),
            "follower_ids": list(data.get("follower_ids") or []),
            "email_cc_ids": list(data.get("email_cc_ids") or []),
            "forum_topic_id": None,
            "problem_id": data.get("problem_id"),
            "has_incidents": bool(data.get("has_incidents")),
            "is_public": bool(data.get("is_public", True)),
            "due_at": data.get("due_at"),
            "tags": list(data.get("tags") or []),
            "custom_fields": custom,
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "custom_status_id": CUSTOM_STATUS_IDS[data["status"]],
            "fields": [dict(item) for item in custom],
            "followup_ids": list(data.get("followup_ids") or []),
            "ticket_form_id": TICKET_FORM_ID,
            "brand_id": BRAND_ID,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }

    @staticmethod
    def render_comment(pk: int, data: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": COMMENT_ID_BASE + pk,
            "type": "Comment",
            "author_id": data["author_id"],
            "body": data["body"],
            "html_body": data["html_body"],
            "plain_body": data["plain_body"],
            "public": data["public"],
            "attachments": [],
            "audit_id": data["audit_id"],
            "via": data.get("via", _VIA),
            "created_at": data["created_at"],
            "metadata": data.get("metadata") or {"system": {}, "custom": {}},
        }

    def render_user(self, pk: int, data: Mapping[str, Any]) -> dict[str, Any]:
        uid = USER_ID_BASE + pk
        role = data.get("role") or "end-user"
        return {
            "id": uid,
            "url": f"{self.base_url}/api/v2/users/{uid}.json",
            "name": data.get("name"),
            "email": data.get("email"),
            "created_at": data.get("created_at"),
            "updated_at": data.get("updated_at"),
            "time_zone": "Eastern Time (US & Canada)",
            "iana_time_zone": "America/New_York",
            "phone": data.get("phone"),
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": None,
            "role": role,
            "verified": bool(data.get("verified")),
            "external_id": data.get("external_id"),
            "tags": list(data.get("tags") or []),
            "alias": "",
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": None,
            "two_factor_auth_enabled": None,
            "signature": None,
            "details": data.get("details") or "",
            "notes": data.get("notes") or "",
            "role_type": None,
            "custom_role_id": None,
            "moderator": role != "end-user",
            "ticket_restriction": None if role != "end-user" else "requested",
            "only_private_comments": False,
            "restricted_agent": role == "agent",
            "suspended": bool(data.get("suspended")),
            "default_group_id": None,
            "report_csv": role != "end-user",
            "user_fields": {},
        }


_INVALID = object()


def _field_type_name(fld: ZdTicketField) -> str:
    return {"tagger": "FieldTagger", "text": "FieldText"}.get(fld.type, "Field" + fld.type.capitalize())


def _field_value(fld: ZdTicketField, value: Any) -> Any:
    if value is None or value == "":
        return None
    if fld.type == "tagger":
        return value if isinstance(value, str) and value in fld.option_values() else _INVALID
    if isinstance(value, (dict, list)):
        return _INVALID
    return str(value)


def _sync_tags(
    tags: list[str], custom: dict[str, Any], changed: set[int], *, tags_explicit: bool
) -> list[str]:
    """Keep drop-down (tagger) values and tags in step, as Zendesk does."""
    tags = list(tags)
    for fld in ZD_CUSTOM_FIELDS.values():
        if fld.type != "tagger":
            continue
        key = str(fld.id)
        options = fld.option_values()
        value = custom.get(key)
        if fld.id in changed:
            tags = [t for t in tags if t not in options]
            if value:
                tags.append(value)
        elif tags_explicit:
            present = [t for t in tags if t in options]
            if value not in present:
                custom[key] = present[0] if present else None
    return tags


def _assignee_required() -> ZdError:
    # As answered by a real account (details.base entries carry "error": null and the field).
    return _invalid(
        "base",
        "Assignee: is required when solving a ticket",
        None,
        error_key=True,
        ticket_field_id=ZD_FIELDS_BY_ID[360000000107].id,
        ticket_field_type="FieldAssignee",
    )


def _check_external_id(value: Any) -> None:
    if value is not None and len(str(value)) > MAX_STRING:
        raise _invalid(
            "external_id", f"External ID: is too long (maximum is {MAX_STRING} characters)", "TooLong"
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
