"""Fault injection: make chosen sandbox calls fail the way the real services do.

    sb.faults.add(method="POST", path_contains="/tickets", status=429, headers={"Retry-After": "7"})
    sb.faults.add(path_contains="/sobjects/Case", status=403)          # REQUEST_LIMIT_EXCEEDED body
    sb.faults.add(path_contains="/tickets", exception=requests.ReadTimeout, when="after")

``when="before"`` (default) answers the fault instead of doing the work; ``when="after"`` does the
work (it is committed) and then answers the fault, so a caller can be tested for "my write reached
the CRM but I never saw the answer". ``exception`` (a class or instance) is raised by the in-process
transport (``sb.session()``) instead of returning a response; it does not fire over real HTTP.
``times=None`` never runs out. When ``body`` is None the real service's body for that status is used.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

SALESFORCE_DEFAULT_BODIES: dict[int, Any] = {
    401: [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    403: [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    404: [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
    500: [
        {
            "errorCode": "UNKNOWN_EXCEPTION",
            "message": "An unexpected error occurred. Please include this ErrorId if you contact support: "
            "0000000000-00000 (0000000000)",
        }
    ],
    503: [{"errorCode": "SERVER_UNAVAILABLE", "message": "Server is temporarily unavailable"}],
}

ZENDESK_DEFAULT_BODIES: dict[int, Any] = {
    401: {"error": "Couldn't authenticate you"},
    404: {"error": "RecordNotFound", "description": "Not found"},
    409: {"error": "TicketUpdateConflict", "description": "The ticket was updated by another request"},
    429: {
        "error": "APIRateLimitExceeded",
        "description": "Number of allowed API requests per minute exceeded",
    },
    500: {"error": "InternalServerError", "description": "An internal error occurred"},
    503: {"error": "ServiceUnavailable", "description": "Service temporarily unavailable"},
}


@dataclass
class Fault:
    method: str | None = None
    path_contains: str | None = None
    crm: str | None = None  # "salesforce" | "zendesk" | None for both
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    times: int | None = 1
    exception: Any = None
    when: str = "before"
    hits: int = 0

    def matches(self, crm: str, method: str, path: str, when: str) -> bool:
        return (
            self.when == when
            and (self.times is None or self.hits < self.times)
            and (self.crm is None or self.crm == crm)
            and (self.method is None or self.method.upper() == method.upper())
            and (self.path_contains is None or self.path_contains in path)
        )

    def response_body(self, crm: str) -> Any:
        if self.body is not None:
            return self.body
        status = self.status or 500
        if crm == "salesforce":
            return SALESFORCE_DEFAULT_BODIES.get(
                status, [{"errorCode": "UNKNOWN_EXCEPTION", "message": f"sandbox fault {status}"}]
            )
        return ZENDESK_DEFAULT_BODIES.get(
            status, {"error": "SandboxFault", "description": f"sandbox fault {status}"}
        )

    def response_headers(self, crm: str) -> dict[str, str]:
        headers = dict(self.headers)
        if crm == "zendesk" and self.status == 429 and not any(k.lower() == "retry-after" for k in headers):
            headers["Retry-After"] = "60"
        return headers


class Faults:
    """Thread-safe list of armed faults; each request consumes at most one per phase."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        method: str | None = None,
        path_contains: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int | None = 1,
        *,
        crm: str | None = None,
        exception: Any = None,
        when: str = "before",
    ) -> Fault:
        if when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")
        if status is None and exception is None:
            raise ValueError("a fault needs a status or an exception")
        fault = Fault(
            method=method,
            path_contains=path_contains,
            crm=crm,
            status=status,
            headers=dict(headers or {}),
            body=body,
            times=times,
            exception=exception,
            when=when,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, crm: str, method: str, path: str, when: str, *, raising: bool = False) -> Fault | None:
        """The first armed fault matching this call, consumed (its ``hits`` incremented).

        ``raising`` selects exception faults (the transport's) rather than status faults (the app's).
        """
        with self._lock:
            for fault in self._faults:
                if (fault.exception is not None) == raising and fault.matches(crm, method, path, when):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def armed(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.times is None or f.hits < f.times]
