"""Every Salesforce failure becomes a ``hub.domain.errors.CrmError``, decided by ONE table.

    what went wrong                                       raised as
    ───────────────────────────────────────────────────── ───────────────────────────────────────
    requests.Timeout, requests.ConnectionError            CrmRetryable
    429, 408, 409, 5xx                                    CrmRetryable (retry_after = Retry-After)
    400 UNABLE_TO_LOCK_ROW                                CrmRetryable (a row lock, not the record)
    401 INVALID_SESSION_ID (any 401), failed legacy login CrmAuthExpired
    403 REQUEST_LIMIT_EXCEEDED                            CrmQuotaExhausted (the org's 24 h quota)
    300, 400, 403, 404 and other 4xx                      CrmRecordRejected with Salesforce's own
                                                          errorCode and message
    an answer we cannot read (not JSON, no id)            CrmRetryable

Where the status comes from: ``simple_salesforce.SalesforceError.status`` and its ``.content``
(the REST error array ``[{"message", "errorCode", "fields"}]``), or ``requests.HTTPError.response``
for the 429/5xx answers that ``client.BoundSession`` raises itself so their ``Retry-After`` header
survives (simple-salesforce's exceptions keep only the status and body).

Messages carry Salesforce's own words and never a token: we build them from the error body, not from
the library's ``str(exc)``.
"""

from __future__ import annotations

import contextlib
import email.utils
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from hub.domain.errors import (
    CrmAuthExpired,
    CrmError,
    CrmQuotaExhausted,
    CrmRecordRejected,
    CrmRetryable,
)

CRM = "salesforce"
ANY = None  # any errorCode
TIMEOUT = -1  # pseudo-statuses for failures that never got an HTTP answer
CONNECTION = -2

# (status or range of statuses, Salesforce errorCode or ANY) -> what the caller should do.
# First matching row wins, so specific codes come before the catch-all rows of their status.
TABLE: tuple[tuple[int | range, str | None, type[CrmError]], ...] = (
    (TIMEOUT, ANY, CrmRetryable),
    (CONNECTION, ANY, CrmRetryable),
    (401, "INVALID_SESSION_ID", CrmAuthExpired),
    (401, ANY, CrmAuthExpired),
    (403, "REQUEST_LIMIT_EXCEEDED", CrmQuotaExhausted),
    (400, "UNABLE_TO_LOCK_ROW", CrmRetryable),
    (408, ANY, CrmRetryable),
    (409, ANY, CrmRetryable),
    (429, ANY, CrmRetryable),
    (range(500, 600), ANY, CrmRetryable),
    (range(300, 500), ANY, CrmRecordRejected),
)


def classify(status: int, code: str | None) -> type[CrmError]:
    for statuses, row_code, error in TABLE:
        status_matches = status in statuses if isinstance(statuses, range) else status == statuses
        if status_matches and (row_code is ANY or row_code == code):
            return error
    return CrmRetryable  # 1xx/2xx never get here; anything stranger is worth another try


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


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
