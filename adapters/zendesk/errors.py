"""Every Zendesk failure becomes a ``hub.domain.errors.CrmError``, decided by ONE table.

    what went wrong                                       raised as
    ───────────────────────────────────────────────────── ───────────────────────────────────────
    requests.Timeout, requests.ConnectionError            CrmRetryable
    429 (any body), 408, 5xx                              CrmRetryable (retry_after = Retry-After)
    409 (same Idempotency-Key in flight, update collision) CrmRetryable
    401 (token revoked or OAuth token expired)            CrmAuthExpired
    400, 403, 404, 422 and other 4xx                      CrmRecordRejected with Zendesk's own
                                                          ``error`` and ``description``/``details``
    an answer we cannot read (ZenpyException, not JSON)   CrmRetryable

Where the status comes from: ``zenpy.lib.exception.APIException.response`` (and its subclass
``RecordNotFoundException``), ``requests.HTTPError.response`` (zenpy's ``raise_for_status`` for a
non-JSON error, and ``adapters.http.BoundSession`` for every 429), or the answer to a call we sent
ourselves. Zendesk has no daily quota, so nothing here is CrmQuotaExhausted.

Messages carry Zendesk's own words and never a token.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from zenpy.lib.exception import APIException, ZenpyException

from adapters.http import ANY, Row, retry_after
from adapters.http import classify as classify_in
from hub.domain.errors import (
    CrmAuthExpired,
    CrmError,
    CrmRecordRejected,
    CrmRetryable,
)

CRM = "zendesk"
TIMEOUT = -1  # pseudo-statuses for failures that never got an HTTP answer
CONNECTION = -2

# (status or range of statuses, Zendesk ``error`` code(s) or ANY) -> what the caller should do.
# First matching row wins, so specific codes come before the catch-all rows of their status.
TABLE: tuple[Row, ...] = (
    (TIMEOUT, ANY, CrmRetryable),
    (CONNECTION, ANY, CrmRetryable),
    (401, ANY, CrmAuthExpired),
    (408, ANY, CrmRetryable),
    (409, ANY, CrmRetryable),
    (429, ANY, CrmRetryable),
    (range(500, 600), ANY, CrmRetryable),
    (range(300, 500), ANY, CrmRecordRejected),
)


# Job result errors that mean "another write got there first", not "this record is wrong".
JOB_CONFLICTS = frozenset({"TicketUpdateConflict", "Conflict", "UpdateConflict"})


def classify(status: int, code: str | None) -> type[CrmError]:
    return classify_in(TABLE, status, code)


def describe_body(body: Any) -> tuple[str | None, str | None]:
    """(code, message) from a Zendesk error body.

    Classic endpoints: ``{"error": "RecordInvalid", "description": "...", "details": {field:
    [{"description": ...}]}}``; some: ``{"error": {"title", "message"}}``; newer ones:
    ``{"errors": [{"code", "title", "detail"}]}``.
    """
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("title") or error.get("code")
        return (str(code) if code else None), str(error.get("message") or code or "") or None
    if isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
        parts = [str(first.get(k)) for k in ("title", "detail") if first.get(k)]
        return (str(first["code"]) if first.get("code") else None), ": ".join(parts) or None
    code = str(error) if error else None
    message = str(body.get("description") or "")
    details = body.get("details")
    if isinstance(details, dict):
        texts = []
        for field_name, problems in details.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                text = problem.get("description") if isinstance(problem, dict) else problem
                texts.append(str(text or field_name))
        message = ": ".join(part for part in (message, "; ".join(texts)) if part)
    return code, message or None


def _error(status: int, code: str | None, message: str, headers: Mapping[str, str] | None = None) -> CrmError:
    error = classify(status, code)
    return error(
        message,
        crm=CRM,
        crm_code=code,
        status=status if status > 0 else None,
        retry_after=retry_after(headers),
    )


def from_response(response: requests.Response) -> CrmError:
    """The CrmError for an HTTP error answer: its status, error code, message and Retry-After."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code, message = describe_body(body)
    status = response.status_code
    return _error(status, code, message or f"HTTP {status} {response.reason or ''}".strip(), response.headers)


def from_job_result(entry: Mapping[str, Any]) -> CrmError:
    """The CrmError for one failed record of a job's ``results`` (``{id|index, error, details}``).

    There is no HTTP status: the error names a conflict (retry), or the record (fail it)."""
    code = str(entry.get("error") or "") or None
    message = str(entry.get("details") or entry.get("error") or "the job failed this record")
    status = 409 if code in JOB_CONFLICTS else 422
    return _error(status, code, message)


def translate(exc: BaseException) -> CrmError:
    """The CrmError for a library or transport exception (the caller raises it ``from exc``)."""
    if isinstance(exc, CrmError):
        return exc
    response = getattr(exc, "response", None)
    if isinstance(exc, APIException | requests.HTTPError) and response is not None:
        return from_response(response)
    if isinstance(exc, requests.Timeout):  # before ConnectionError: ConnectTimeout is both
        return _error(TIMEOUT, None, f"Zendesk did not answer in time ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        return _error(CONNECTION, None, f"could not reach Zendesk ({type(exc).__name__})")
    return CrmRetryable(f"unreadable answer from Zendesk ({type(exc).__name__})", crm=CRM)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Run a block of Zendesk calls; whatever they raise leaves as a CrmError."""
    try:
        yield
    except CrmError:
        raise
    except (APIException, ZenpyException, requests.RequestException) as exc:
        raise translate(exc) from exc
