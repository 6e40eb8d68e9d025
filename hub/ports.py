"""What the core needs from the outside world, as Protocols.

Adapters implement these; services receive them as arguments. Tests use fakes that implement the
same Protocols rather than mocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


@dataclass(frozen=True)
class CustomerProfile:
    """What the hub knows of a customer, for the CRM's requester/contact fields."""

    key: str
    name: str | None = None
    phone: str | None = None  # E.164 when it could be normalized
    email: str | None = None
    external_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseWrite:
    """Create (or find again) the case/ticket of one episode.

    ``key`` is the hub's idempotency key for it (the episode id): writing the same key twice must
    never produce a second record. ``fields`` are CRM-native names produced by the field mapping.
    """

    key: str
    fields: Mapping[str, Any]
    customer: CustomerProfile


@dataclass(frozen=True)
class ActivityWrite:
    """Append one outcome to a case/ticket.

    ``key`` is the event's idempotency key (``source:event_id``). ``fields`` are CRM-native
    activity fields from the mapping (Salesforce Task fields; Zendesk comment/ticket fields), and
    ``body`` is the readable text: summary, transcript excerpt and disposition.
    ``case_fields`` are mapped fields to update on the case/ticket itself in the same write.
    """

    key: str
    body: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    case_fields: Mapping[str, Any] = field(default_factory=dict)
    customer: CustomerProfile | None = None


@dataclass(frozen=True)
class CaseRecord:
    crm: str
    object: str  # "Case" or "ticket"
    id: str
    is_open: bool = True
    url: str | None = None


@dataclass(frozen=True)
class RecordRef:
    """One record the hub wrote or found: what the /v1 status lists under ``links``."""

    crm: str
    object: str
    id: str
    created: bool

    def as_dict(self) -> dict[str, Any]:
        return {"crm": self.crm, "object": self.object, "id": self.id, "created": self.created}


@dataclass(frozen=True)
class LinkResult:
    case: RecordRef
    activity: RecordRef


class CRM(Protocol):
    """A Salesforce org, a Zendesk account, or the sandbox speaking either's API.

    Every write is idempotent by its key. ``retrying`` is True when an earlier attempt for the same
    key may have reached the CRM before failing, so the adapter must look before it writes where the
    API itself is not idempotent (Zendesk comments).
    Raises only ``hub.domain.errors.CrmError`` subclasses.
    """

    name: str

    def get_case(self, case_id: str) -> CaseRecord | None:
        """The case/ticket with this id, or None when it does not exist."""
        ...

    def create_case(self, case: CaseWrite, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        """Create the case/ticket with its first activity (or return the one made by an earlier try)."""
        ...

    def append_activity(self, case_id: str, activity: ActivityWrite, *, retrying: bool) -> LinkResult:
        """Append an activity to an existing case/ticket and update its mapped fields."""
        ...


@dataclass(frozen=True)
class AdapterConfig:
    """Everything a CRM adapter factory (entry point group ``cti_hub.adapters``) receives.

    ``settings`` are that CRM's settings with the ``CTIHUB_<CRM>_`` prefix removed and lowercased
    (e.g. ``instance_url``, ``access_token``, ``subdomain``, ``email``, ``api_token``); secrets in
    it were read by the composition root from the environment or a secret file and must never be
    logged. ``session`` is a ``requests.Session`` to send through (the sandbox's in-process
    transport in the demo and tests), or None for a fresh one.
    """

    settings: Mapping[str, str]
    mapping: Any  # hub.domain.mapping.CrmMapping
    session: Any = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


class WebhookSource(Protocol):
    """An inbound platform (entry point group ``cti_hub.webhooks``)."""

    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """Raise ``hub.domain.errors.AuthError`` unless the request is authentic and fresh."""
        ...
