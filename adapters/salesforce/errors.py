"""Every Salesforce failure becomes a ``hub.domain.errors.CrmError``, decided by ONE table.

    what went wrong                                       raised as
    ───────────────────────────────────────────────────── ───────────────────────────────────────
    requests.Timeout, requests.ConnectionError            CrmRetryable
    429, 408, 409, 5xx                                    CrmRetryable (retry_after = Retry-After)
    400 UNABLE_TO_LOCK_ROW                                CrmRetryable (a row lock, not the record)
    401 INVALID_SESSION_ID (any 401), failed legacy login CrmAuthExpired (``crm`` re-mints once)
    4xx from the OAuth token endpoint (invalid_grant ...) CrmAuthExpired
    403 REQUEST_LIMIT_EXCEEDED                            CrmQuotaExhausted (the org's 24 h quota;
                                                          ``crm`` pauses every call, visibly)
    300, 400, 403, 404 and other 4xx                      CrmRecordRejected with Salesforce's own
                                                          errorCode and message
    an answer we cannot read (not JSON, no id)            CrmRetryable

The same table classifies each failed subrequest of a Composite answer (HTTP 200 overall, see
``from_composite``), so a bad picklist value inside a composite dead-letters the record exactly as
it would alone.

Where the status comes from: ``simple_salesforce.SalesforceError.status`` and its ``.content``
(the REST error array ``[{"message", "errorCode", "fields"}]``), or ``requests.HTTPError.response``
for the 429/5xx answers that ``adapters.http.BoundSession`` raises itself so their ``Retry-After``
header survives (simple-salesforce's exceptions keep only the status and body).

Messages carry Salesforce's own words and never a token or key: we build them from the error body,
not from the library's ``str(exc)`` (which holds the URL and headers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from adapters.http import ANY, Row, retry_after
from adapters.http import classify as classify_in
from hub.domain.errors import (
    CrmAuthExpired,
    CrmError,
    CrmQuotaExhausted,
    CrmRecordRejected,
    CrmRetryable,
)

CRM = "salesforce"
TIMEOUT = -1  # pseudo-statuses for failures that never got an HTTP answer
CONNECTION = -2
QUOTA_CODE = "REQUEST_LIMIT_EXCEEDED"
HALTED = "PROCESSING_HALTED"  # a composite subrequest rolled back because another one failed
# Errors of the OAuth 2.0 token endpoint (RFC 6749 §5.2, plus Salesforce's own).
OAUTH_ERRORS = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "invalid_client_id",
        "invalid_client_credentials",
        "invalid_request",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "inactive_user",
        "inactive_org",
        "invalid_app_access",
    }
)

# (status or range of statuses, Salesforce errorCode(s) or ANY) -> what the caller should do.
# First matching row wins, so specific codes come before the catch-all rows of their status.
TABLE: tuple[Row, ...] = (
    (TIMEOUT, ANY, CrmRetryable),
    (CONNECTION, ANY, CrmRetryable),
    (401, "INVALID_SESSION_ID", CrmAuthExpired),
    (401, ANY, CrmAuthExpired),
    (range(400, 500), OAUTH_ERRORS, CrmAuthExpired),
    (403, QUOTA_CODE, CrmQuotaExhausted),
    (400, "UNABLE_TO_LOCK_ROW", CrmRetryable),
    (408, ANY, CrmRetryable),
    (409, ANY, CrmRetryable),
    (429, ANY, CrmRetryable),
    (range(500, 600), ANY, CrmRetryable),
    (range(300, 500), ANY, CrmRecordRejected),
)


def classify(status: int, code: str | None) -> type[CrmError]:
    return classify_in(TABLE, status, code)


def describe_body(content: Any) -> tuple[str | None, str | None]:
    """(errorCode, message) from a Salesforce REST error body (a JSON array of errors)."""
    if isinstance(content, list) and content and all(isinstance(item, dict) for item in content):
        code = content[0].get("errorCode")
        messages = []
        for item in content:
            text = str(item.get("message") or item.get("errorCode") or "")
            if item.get("fields"):
                text += f" (fields: {', '.join(map(str, item['fields']))})"
            messages.append(text)
        return (str(code) if code else None), "; ".join(m for m in messages if m) or None
    if isinstance(content, list) and content:  # 300: the URLs of every record the external ID matched
        return None, f"the external ID matched {len(content)} records; nothing was written"
    if isinstance(content, dict) and "error" in content:  # OAuth endpoints
        return str(content["error"]), str(content.get("error_description") or content["error"])
    return None, None


def _error(status: int, code: str | None, message: str, headers: Mapping[str, str] | None = None) -> CrmError:
    error = classify(status, code)
    return error(
        message,
        crm=CRM,
        crm_code=code,
        status=status if status > 0 else None,
        retry_after=retry_after(headers),
    )


def from_answer(status: int, content: Any, headers: Mapping[str, str] | None = None) -> CrmError:
    """The CrmError for an HTTP error answer: its status, errorCode, message and Retry-After."""
    code, message = describe_body(content)
    return _error(status, code, message or f"HTTP {status}", headers)


def from_composite(entries: Sequence[Mapping[str, Any]], what: Mapping[str, str]) -> CrmError | None:
    """The CrmError for a Composite answer (HTTP 200) whose subrequests failed, or None if none did.

    Each failed subrequest is classified by the table on its own ``httpStatusCode`` and errorCode;
    the one that caused the failure wins over those merely rolled back (``PROCESSING_HALTED``).
    Its message names the record (``what`` maps referenceId to e.g. ``"Task"``).
    """
    failed = [e for e in entries if int(e.get("httpStatusCode") or 0) >= 300]
    if not failed:
        return None
    causes = [e for e in failed if describe_body(e.get("body"))[0] != HALTED] or failed
    cause = causes[0]
    status = int(cause.get("httpStatusCode") or 0)
    code, message = describe_body(cause.get("body"))
    name = what.get(str(cause.get("referenceId")), str(cause.get("referenceId")))
    return _error(status, code, f"{name}: {message or f'HTTP {status}'}", cause.get("httpHeaders"))


def from_record_errors(errors: Any, sobject: str) -> CrmError:
    """The CrmError for one failed record of an sObject Collections answer (its ``errors`` list of
    ``{statusCode, message, fields}``); the table decides as for a 400 with that code."""
    items = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    body = [
        {"errorCode": e.get("statusCode"), "message": e.get("message"), "fields": e.get("fields")}
        for e in items
    ]
    code, message = describe_body(body) if body else (None, None)
    if code is None:
        return CrmRetryable(f"{sobject}: Salesforce answered a record without an id or an error", crm=CRM)
    return _error(400, code, f"{sobject}: {message or code}")


def translate(exc: BaseException) -> CrmError:
    """The CrmError for a library or transport exception (the caller raises it ``from exc``)."""
    if isinstance(exc, CrmError):
        return exc
    if isinstance(exc, SalesforceAuthenticationFailed):
        code = str(exc.code) if exc.code is not None else None
        return _error(401, code, exc.auth_message or "login failed")
    if isinstance(exc, SalesforceError):
        return from_answer(exc.status, exc.content)
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        response = exc.response
        try:
            content: Any = response.json()
        except ValueError:
            content = None
        return from_answer(response.status_code, content, response.headers)
    if isinstance(exc, requests.Timeout):  # before ConnectionError: ConnectTimeout is both
        return _error(TIMEOUT, None, f"Salesforce did not answer in time ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        return _error(CONNECTION, None, f"could not reach Salesforce ({type(exc).__name__})")
    return CrmRetryable(f"unreadable answer from Salesforce ({type(exc).__name__})", crm=CRM)


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Run a block of Salesforce calls; whatever they raise leaves as a CrmError."""
    try:
        yield
    except CrmError:
        raise
    except (SalesforceError, requests.RequestException) as exc:
        raise translate(exc) from exc
