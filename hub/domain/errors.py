"""The exceptions the hub raises on purpose, translated at every boundary.

    HubError
    ├── ValidationFailed        input broke the contract; ``problems`` lists each (path, message)
    ├── ConfigError             admin files or settings are wrong; ``problems`` name file:line
    ├── AuthError               bad or missing signature or token
    │   └── Forbidden           authentic, but not allowed (an org, a source not granted)
    └── ExternalCallError       a call to an outside system failed; ``action`` says what to do,
        │                       ``describe()`` is the line a dead-letter keeps
        ├── OutreachError       an outreach provider (Twilio) failed: the tree at ``OutreachError``
        └── CrmError            a CRM call failed
            ├── CrmRetryable    transient (429, 5xx, timeout): retry, not before ``retry_after``
            │   ├── CrmWritePending  handed over, may still land: retry late, keep the case claim
            │   └── CrmWriteNotSent  never sent (another record's failure stopped the batch, or
            │                        another worker is making the same record): no attempt charged
            ├── CrmAuthExpired  the session expired: re-authenticate, then retry
            ├── CrmQuotaExhausted  the org's API quota is spent: pause until ``retry_after``
            └── CrmRecordRejected  permanent for this record: dead-letter it with the CRM's reason

No client-library exception (simple-salesforce, zenpy, requests) escapes ``adapters/``:
each adapter raises one of these ``from`` the original.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where (a JSON path or file:line) and what."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class HubError(Exception):
    """Root of the hub's own errors. ``code`` is stable and machine-readable."""

    code = "hub_error"

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems or [])


class ValidationFailed(HubError):
    code = "validation_failed"


class ConfigError(HubError):
    code = "config_error"


class AuthError(HubError):
    code = "unauthorized"


class Forbidden(AuthError):
    """Authentic, but not allowed to do this (HTTP 403): an organization or a source not granted."""

    code = "forbidden"


class CrmAction(enum.Enum):
    """What the caller of a CRM adapter should do about a failure."""

    RETRY = "retry"
    REAUTHENTICATE = "reauthenticate"
    FAIL_RECORD = "fail_record"
    PAUSE_FOR_QUOTA = "pause_for_quota"


class ExternalCallError(HubError):
    """A call to an outside system failed: which system, its HTTP status and its own error code."""

    code = "external_error"
    action = CrmAction.RETRY

    def __init__(
        self,
        message: str,
        *,
        system: str,
        system_code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.system = system
        self.system_code = system_code
        self.status = status
        self.retry_after = retry_after

    def origin(self) -> str:
        """The system, its status and its own error code, without the message (which may echo
        what was sent, a phone number or an email)."""
        status = [str(self.status)] if self.status is not None else []
        return " ".join([self.system, *status, *([self.system_code] if self.system_code else [])])

    def describe(self) -> str:
        """One line for a dead-letter: the origin and the system's own message."""
        return f"{self.origin()}: {self.message}"


class CrmError(ExternalCallError):
    code = "crm_error"

    def __init__(
        self,
        message: str,
        *,
        crm: str,
        crm_code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, system=crm, system_code=crm_code, status=status, retry_after=retry_after)

    @property
    def crm(self) -> str:
        return self.system

    @property
    def crm_code(self) -> str | None:
        return self.system_code


class CrmRetryable(CrmError):
    code = "crm_unavailable"
    action = CrmAction.RETRY


class CrmWritePending(CrmRetryable):
    """The write was handed to the CRM and may still land (a bulk job still running, or its fate
    unknown): retry no sooner than ``retry_after``, looking before writing, and keep the episode's
    case claim meanwhile so no other event creates a second case."""

    code = "crm_write_pending"


class CrmWriteNotSent(CrmRetryable):
    """Nothing of this write reached the CRM: a failure that was not the record's own stopped its
    batch before it was sent (``cause`` says which), or another worker is making a record it needs.
    The worker releases the event without charging it an attempt."""

    code = "crm_write_not_sent"

    @classmethod
    def stopped_by(cls, cause: CrmError) -> CrmWriteNotSent:
        return cls(
            f"not sent: the batch stopped at another record's failure ({cause.describe()})",
            crm=cause.crm,
            crm_code=cause.crm_code,
            status=cause.status,
            retry_after=cause.retry_after,
        )


def each_record_failure(exc: CrmError) -> CrmError:
    """What a failure of a whole batch means for each of its records: the same, except that a
    rejection of the whole request says nothing about any one record, which is retried alone."""
    if isinstance(exc, CrmRecordRejected):
        return CrmRetryable(
            f"the whole batch was refused ({exc.describe()}); each write is retried alone",
            crm=exc.crm,
            crm_code=exc.crm_code,
            status=exc.status,
        )
    return exc


class CrmAuthExpired(CrmError):
    code = "crm_auth_expired"
    action = CrmAction.REAUTHENTICATE


class CrmQuotaExhausted(CrmError):
    code = "crm_quota_exhausted"
    action = CrmAction.PAUSE_FOR_QUOTA


class CrmRecordRejected(CrmError):
    code = "crm_record_rejected"
    action = CrmAction.FAIL_RECORD


# -- outreach (recovery SMS): ``hub.ports.SmsSender`` raises only these ------------------------------
#
#     ExternalCallError
#     └── OutreachError          a send failed; ``action`` says what the recovery engine should do
#         ├── OutreachRetryable  nothing was sent (connection refused, 429): try again later
#         ├── OutreachUncertain  the request may have reached the provider (read timeout, 5xx):
#         │                      look for the message before sending again, never resend blindly
#         ├── OutreachRejected   permanent for this message (invalid number, unsubscribed recipient);
#         │                      ``opted_out`` is True when the provider says the recipient opted out
#         └── OutreachAuthFailed the credentials are wrong: nothing is sent until they are fixed


class OutreachError(ExternalCallError):
    code = "outreach_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        provider_code: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, system=provider, system_code=provider_code, status=status, retry_after=retry_after
        )

    @property
    def provider(self) -> str:
        return self.system

    @property
    def provider_code(self) -> str | None:
        return self.system_code


class OutreachRetryable(OutreachError):
    code = "outreach_unavailable"
    action = CrmAction.RETRY


class OutreachUncertain(OutreachError):
    code = "outreach_uncertain"
    action = CrmAction.RETRY


class OutreachRejected(OutreachError):
    code = "outreach_rejected"
    action = CrmAction.FAIL_RECORD

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        provider_code: str | None = None,
        status: int | None = None,
        opted_out: bool = False,
    ) -> None:
        super().__init__(message, provider=provider, provider_code=provider_code, status=status)
        self.opted_out = opted_out


class OutreachAuthFailed(OutreachError):
    code = "outreach_auth_failed"
    action = CrmAction.REAUTHENTICATE
