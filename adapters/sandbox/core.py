"""``Sandbox``: the two fake CRMs over one engine, plus the request log, faults and latency."""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from sqlalchemy import Engine

from . import store as db
from .common import ApiResponse, utc_now
from .faults import Faults
from .identity import SandboxIdentity
from .salesforce import API_LIMIT, SalesforceApi
from .zendesk import API_CLIENT_EMAIL, Caller, ZendeskApi

if TYPE_CHECKING:
    import flask
    import requests

SALESFORCE_INSTANCE_URL = "https://sandbox.my.salesforce.com"
ZENDESK_BASE_URL = "https://sandbox.zendesk.com"
ZENDESK_SUBDOMAIN = "sandbox"

CRMS = ("salesforce", "zendesk")


@dataclass
class Served:
    """One answered request, ready for WSGI (or to raise ``exception`` in the transport)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class Sandbox:
    """In-process fake of the Salesforce REST and Zendesk Support API subsets the hub uses.

    ``Sandbox(engine)`` does no I/O; ``ensure_schema()`` creates the ``sandbox_*`` tables. Records
    live in that database, so they survive restarts and are shared by every process using it.
    ``clock`` (anything with ``now()`` returning an aware datetime) stamps records; ``sleep`` is
    what ``latency_seconds`` waits with, so benchmarks can simulate a slow CRM without tests waiting.
    ``strict_zendesk_fields`` (default True) answers 422 for unknown custom field ids and drop-down
    values outside the field's options; set it False for Zendesk's documented permissive behaviour
    (such values are silently dropped).
    """

    def __init__(self, engine: Engine, *, clock: Any = None) -> None:
        self.engine = engine
        self.clock = clock
        self.faults = Faults()
        self.latency_seconds: float = 0.0
        self.sleep: Callable[[float], None] = time.sleep
        self.strict_zendesk_fields = True
        self._lock = threading.Lock()
        self._log: list[tuple[str, str]] = []
        self._sf_calls = 0
        self._app: flask.Flask | None = None
        self.identity = SandboxIdentity()  # sign-in: users, signing key, OAuth codes and tokens
        self.salesforce = SalesforceApi(engine, self._now, self._sf_usage)
        self.zendesk = ZendeskApi(engine, self._now, ZENDESK_BASE_URL, lambda: self.strict_zendesk_fields)

    # -- lifecycle -----------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Create the sandbox's tables (own MetaData, names prefixed ``sandbox_``); idempotent."""
        db.ensure_schema(self.engine)

    def reset(self) -> None:
        """Delete every sandbox record (the request log, faults and settings are kept)."""
        db.run_transaction(self.engine, db.reset)

    # -- serving -------------------------------------------------------------------------------

    def blueprint(self) -> flask.Blueprint:
        """Routes ``/salesforce/...`` and ``/zendesk/...``; register with ``url_prefix="/sandbox"``."""
        from .app import make_blueprint

        return make_blueprint(self)

    def wsgi_app(self) -> flask.Flask:
        """A small Flask app serving only the blueprint under ``/sandbox`` (what ``session()`` uses)."""
        with self._lock:
            if self._app is None:
                from .app import make_app

                self._app = make_app(self)
            return self._app

    def session(self) -> requests.Session:
        """A ``requests.Session`` whose transport answers the sandbox hosts in-process.

        ``SALESFORCE_INSTANCE_URL`` and ``ZENDESK_BASE_URL`` go to the WSGI app; any other host
        raises ``requests.ConnectionError``. Give each client its own session (zenpy sets ``auth``
        on the session it is handed).
        """
        import requests

        from .transport import SandboxAdapter

        session = requests.Session()
        adapter = SandboxAdapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def serve(
        self,
        crm: str,
        method: str,
        segments: list[str],
        query_string: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Served:
        """Answer one request to ``crm``; ``segments`` are the decoded path segments after the host."""
        path = "/" + "/".join(segments)
        with self._lock:
            self._log.append((method.upper(), path))
        if self.latency_seconds > 0:
            self.sleep(self.latency_seconds)
        fault = self.faults.take(crm, method, path, "before")
        if fault is not None:
            return self._encode(
                crm, ApiResponse(fault.status or 500, fault.response_body(crm), fault.response_headers(crm))
            )
        query = parse_qs(query_string, keep_blank_values=True)
        if crm == "salesforce":
            if not _bearer(headers):
                return self._encode(
                    crm,
                    ApiResponse(
                        401,
                        [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                        {"WWW-Authenticate": "Token"},
                    ),
                )
            with self._lock:
                self._sf_calls += 1
            response = self.salesforce.handle(method, segments, query, body)
        else:
            caller = _zendesk_caller(headers)
            if caller is None:
                return self._encode(
                    crm,
                    ApiResponse(
                        401,
                        {"error": "Couldn't authenticate you"},
                        {"WWW-Authenticate": 'Basic realm="Web Password"'},
                    ),
                )
            response = self.zendesk.handle(method, segments, query, body, headers, caller)
        fault = self.faults.take(crm, method, path, "after")
        if fault is not None:
            response = ApiResponse(fault.status or 500, fault.response_body(crm), fault.response_headers(crm))
        return self._encode(crm, response)

    def _encode(self, crm: str, response: ApiResponse) -> Served:
        headers: dict[str, str] = {}
        if crm == "salesforce":
            with self._lock:
                used = self._sf_calls
            headers["Sforce-Limit-Info"] = f"api-usage={used}/{API_LIMIT}"
            content_type = "application/json;charset=UTF-8"
        else:
            headers.update({"X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699"})
            content_type = "application/json; charset=utf-8"
        headers.update(response.headers)
        if response.body is None or response.status == 204:
            return Served(response.status, headers, b"")
        headers["Content-Type"] = content_type
        return Served(response.status, headers, json.dumps(response.body).encode())

    # -- inspection ----------------------------------------------------------------------------

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request served, in order (paths as the real API sees them)."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    def request_counts(self) -> Counter[str]:
        """How many requests of each kind were served (``request_kind``: method and path without
        ids), e.g. ``{"POST composite": 3, "GET query": 1}``; what a benchmark counts as API calls."""
        with self._lock:
            return Counter(request_kind(method, path) for method, path in self._log)

    def records(self, crm: str, object: str) -> list[dict[str, Any]]:
        """Stored records as the API renders them: ("salesforce", "Case"|"Task"|...), ("zendesk",
        "ticket"|"comment"|"user"|"audit"|"job_status"). Zendesk comments carry ``ticket_id``."""
        if crm not in CRMS:
            raise ValueError(f"unknown crm {crm!r}; expected one of {CRMS}")

        def read(conn: Any) -> list[dict[str, Any]]:
            if crm == "salesforce":
                from .schema import sf_object

                obj = sf_object(object)
                if obj is None:
                    raise ValueError(f"unknown Salesforce object {object!r}")
                return [
                    self.salesforce.render(obj, pk, data, "59.0", attributes=False)
                    for pk, data in db.sf_all(conn, obj.name)
                ]
            kind = object.lower()
            if kind in ("ticket", "tickets"):
                return [self.zendesk.render_ticket(pk, data) for pk, data in db.zd_tickets_where(conn)]
            if kind in ("comment", "comments"):
                return [
                    {**self.zendesk.render_comment(pk, data), "ticket_id": ticket_pk}
                    for pk, ticket_pk, data in db.zd_comments_for(conn, None)
                ]
            if kind in ("user", "users"):
                return [self.zendesk.render_user(pk, data) for pk, data in db.zd_users_all(conn)]
            if kind in ("audit", "audits"):
                return [data for _pk, _t, data in db.zd_audits_for(conn, None)]
            if kind in ("job_status", "job_statuses", "job"):
                return db.zd_jobs_all(conn)
            raise ValueError(f"unknown Zendesk object {object!r}")

        return db.run_transaction(self.engine, read)

    # -- internals -----------------------------------------------------------------------------

    def now(self) -> Any:
        return self.clock.now() if self.clock is not None else utc_now()

    def _now(self) -> Any:
        return self.now()

    def _sf_usage(self) -> int:
        with self._lock:
            return self._sf_calls


def request_kind(method: str, path: str) -> str:
    """``"<METHOD> <path>"`` with the API prefix, ``.json``, record ids and key values left out:
    ``PATCH sobjects/Case/CTI_Hub_Key__c/{key}``, ``PUT tickets/{id}``, ``GET job_statuses/{id}``."""
    parts = [part for part in path.split("/") if part]
    if parts[:2] == ["services", "data"]:  # Salesforce: /services/data/vNN.0/...
        parts = parts[3:]
        if parts[:1] == ["sobjects"] and len(parts) >= 3 and parts[2] != "describe":
            # sobjects/<object>/<id>, or sobjects/<object>/<external id field>/<value>
            kind = [*parts[:3], "{key}"] if len(parts) >= 4 else [*parts[:2], "{id}"]
            return f"{method.upper()} {'/'.join(kind)}"
    elif parts[:2] == ["api", "v2"]:  # Zendesk: /api/v2/....json
        parts = parts[2:]
        if parts:
            parts[-1] = parts[-1].removesuffix(".json")
        if parts[:1] == ["job_statuses"] and len(parts) > 1 and parts[1] != "show_many":
            parts[1] = "0"  # job ids are "V3-<hex>"
    kind = ["{id}" if any(c.isdigit() for c in part) else part for part in parts]
    return f"{method.upper()} {'/'.join(kind)}"


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), "") or ""


def _bearer(headers: Mapping[str, str]) -> bool:
    scheme, _, token = _header(headers, "Authorization").strip().partition(" ")
    return scheme.lower() in ("bearer", "oauth") and bool(token.strip())


def _zendesk_caller(headers: Mapping[str, str]) -> Caller | None:
    scheme, _, credentials = _header(headers, "Authorization").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer" and credentials:
        return Caller(API_CLIENT_EMAIL)
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, secret = decoded.partition(":")
    if not sep or not user or not secret:
        return None
    email = user[: -len("/token")] if user.endswith("/token") else user
    return Caller(email.strip().lower()) if email.strip() else None
