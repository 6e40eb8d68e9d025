"""What the core needs from the outside world, as Protocols.

Adapters implement these; services receive them as arguments. Tests use fakes that implement the
same Protocols rather than mocks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub.domain.identity import Identifier
from hub.domain.signing_keys import SigningKey


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
class Routing:
    """Who owns a new case/ticket (``mappings/routing.yaml``), decided when the write is planned.

    ``kind`` is ``group`` (Zendesk ``group_id``) or ``queue`` (Salesforce ``OwnerId``); ``target``
    is as the admin wrote it (None: unassigned); ``id`` is the CRM's id it resolved to, and the
    adapter assigns only when it is set, and only when it creates the record (never on a record
    that exists already: an agent may have moved it). ``problem`` says why a target has no id.
    """

    kind: str
    target: str | None
    id: str | None
    rule: str  # "rules[2]" or "default" in routing.yaml
    line: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "id": self.id,
            "rule": self.rule,
            "path": f"routing.yaml:{self.line}" if self.line else None,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class CaseWrite:
    """Create (or find again) the case/ticket of one episode.

    ``key`` is the hub's idempotency key for it (the episode id): writing the same key twice must
    never produce a second record. ``fields`` are CRM-native names produced by the field mapping.
    ``routing`` assigns the new record to a group/queue (see ``Routing``); None: no routing.
    """

    key: str
    fields: Mapping[str, Any]
    customer: CustomerProfile
    routing: Routing | None = None

    @property
    def owner_id(self) -> str | None:
        """The group/queue id to assign on create, when routing resolved one."""
        return self.routing.id if self.routing is not None else None


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

    def update_case(self, case_id: str, fields: Mapping[str, Any], *, key: str) -> None:
        """Set mapped fields on an existing case/ticket, without an activity (the SLA due/status).

        Idempotent by nature (it sets values); ``key`` names the change for logs and tracing.
        """
        ...


@dataclass(frozen=True)
class BatchWrite:
    """One outcome's write inside a batch: create ``case`` with its first activity, or append the
    activity to ``case_id``, or (``joins``) append it to the case that the write at that index of the
    same batch creates. ``retrying`` as for the single calls.

    The linker sets ``joins`` only for a CRM whose ``joins_batch_cases`` is true, only on first
    attempts, and only to a creating write that is itself a first attempt."""

    activity: ActivityWrite
    case: CaseWrite | None = None
    case_id: str | None = None
    retrying: bool = False
    joins: int | None = None


class BatchingCRM(CRM, Protocol):
    """A CRM that writes many outcomes in a few round trips (Salesforce sObject Collections inside
    one Composite; Zendesk create_many/update_many jobs).

    ``write_batch`` answers one entry per write, in order: its ``LinkResult``, or the ``CrmError``
    that failed that record alone. A failure of the whole batch (quota, auth, the network) raises.
    """

    def write_batch(self, writes: Sequence[BatchWrite]) -> list[LinkResult | Exception]: ...


# A BatchingCRM with ``joins_batch_cases = True`` writes ``BatchWrite.joins``: the later events of an
# episode whose case the same batch creates ride with its creation, instead of a second batch call
# once the case exists (a "wave"; see ``hub.services.link.Linker.link_batch``).


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
    requesters: RequesterDirectory | None = None  # the hub's table of CRM users per customer


@dataclass(frozen=True)
class RequesterClaim:
    """What ``RequesterDirectory.claim`` found: the customer's user id when known already, or
    whether the caller now holds the claim to look the user up (or make it) and ``record`` it."""

    user_id: int | None
    mine: bool


class RequesterDirectory(Protocol):
    """The CRM users (Zendesk requesters) the hub adopted or made, per customer key, shared by every
    process and surviving restarts. ``claim`` is race-safe across processes: of two workers
    meeting a new customer at once, one holds the claim and looks the user up; the other is told
    to come back (nothing is sent for it meanwhile)."""

    def known(self, crm: str, customer_keys: Collection[str]) -> dict[str, int]:
        """The user ids recorded for these customers (those without one are absent)."""
        ...

    def claim(self, crm: str, customer_keys: Collection[str]) -> dict[str, RequesterClaim]:
        """Each customer's claim (one transaction for all of them)."""
        ...

    def record(self, crm: str, user_ids: Mapping[str, int], *, how: str) -> None:
        """Remember customers' users (``how``: adopted, created) and end their claims."""
        ...

    def release(self, crm: str, customer_keys: Collection[str]) -> None:
        """Give up the caller's claims without a user (the lookup or creation failed)."""
        ...


class WebhookSource(Protocol):
    """An inbound platform (entry point group ``cti_hub.webhooks``)."""

    name: str

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """Raise ``hub.domain.errors.AuthError`` unless the request is authentic and fresh."""
        ...


class OutcomeSource(WebhookSource, Protocol):
    """The ``/v1/outcomes`` source: verifies against several keys at once (rotation, source binding)."""

    def verify_keys(
        self, headers: Mapping[str, str], body: bytes, *, keys: Sequence[SigningKey], now: datetime
    ) -> tuple[SigningKey, ...]:
        """The keys whose signature the request carries; AuthError when none."""
        ...


# -- repairing parallel cases/tickets (``ctihub dedup``; entry point group ``cti_hub.repair``) ------

ATTACH, LINK_ONLY, MERGE = "attach", "link_only", "merge"
# The identifier kind naming the hub's own customer key: requesters the hub created in Zendesk carry
# it as their external_id.
HUB_CUSTOMER = "ext:cti_hub"


@dataclass(frozen=True)
class CrmPerson:
    """The CRM people (Salesforce Contacts, Zendesk users) carrying one identifier of a customer.

    More than one person for one identifier means it is shared (one phone on two contacts): it must
    never be used to decide that two cases belong to one customer.
    """

    kind: str  # the identifier's kind: phone, email, ext:<system>
    value: str
    person_ids: tuple[str, ...]


@dataclass(frozen=True)
class OpenCase:
    """An open (Zendesk: unsolved) case/ticket, whoever created it."""

    crm: str
    object: str
    id: str
    status: str
    created_at: datetime | None
    person_id: str | None = None  # Zendesk requester id, Salesforce ContactId
    hub_key: str | None = None  # the hub's key on it (episode id) when the hub created it
    intent: str | None = None  # the intent code on it (CTI Hub intent field), if any
    subject: str | None = None
    parent_id: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class RepairResult:
    """What one repair did in the CRM.

    ``done``: duplicates handled; ``failed``: duplicate id -> why not. ``reversible`` is False once
    anything was done that the CRM cannot undo (a Zendesk merge). ``undo`` holds what ``undo`` needs
    (previous statuses and parents), JSON-serializable; ``notes`` are ids worth keeping (job ids).
    """

    policy: str
    master_id: str
    done: tuple[str, ...] = ()
    failed: Mapping[str, str] = field(default_factory=dict)
    reversible: bool = True
    undo: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


class CaseRepair(Protocol):
    """Find and repair parallel cases/tickets in one CRM (Zendesk, Salesforce, or the sandbox).

    Reads may lag (Zendesk search indexes new tickets after minutes): fine for repair, never for
    creation-time dedup. Raises only ``hub.domain.errors.CrmError`` subclasses (``ConfigError`` for a
    missing option such as the closed status).
    """

    name: str

    def people(self, identifiers: Sequence[Identifier]) -> list[CrmPerson]:
        """For each strong identifier, the CRM people that carry it."""
        ...

    def open_cases(
        self, person_ids: Sequence[str], identifiers: Sequence[Identifier], intents: Collection[str]
    ) -> list[OpenCase]:
        """Open cases/tickets of these people (or, where the CRM keeps them on the case, with these
        identifiers) whose intent is one of ``intents``, oldest first."""
        ...

    def open_case(self, case_id: str) -> OpenCase | None:
        """One case/ticket if it exists and is open (the hub's own one, when search lags)."""
        ...

    def irreversible(self, policy: str) -> bool:
        """True when applying ``policy`` does something the CRM cannot undo (say so before)."""
        ...

    def apply(
        self, policy: str, master: OpenCase, duplicates: Sequence[OpenCase], *, note: str
    ) -> RepairResult:
        """Link (``link_only``) or merge (``merge``) the duplicates into the master; ``attach``
        changes nothing in the CRM. ``note`` says why, for the comments left in the CRM."""
        ...

    def undo(self, result: RepairResult, *, note: str) -> RepairResult:
        """Undo what can be undone of ``result``; what cannot is listed in ``failed``."""
        ...


# -- outreach (recovery SMS; entry point group ``cti_hub.outreach``) ---------------------------------


@dataclass(frozen=True)
class SmsMessage:
    """One text to send. ``key`` is the recovery attempt's key: a provider without idempotency keys
    (Twilio) cannot deduplicate by it, so the hub's claim does (see ``SmsSender``)."""

    key: str
    to: str  # E.164
    body: str
    not_before: datetime | None = None  # the attempt's claim time: ``find`` looks from here on


@dataclass(frozen=True)
class SmsReceipt:
    provider: str
    id: str  # the provider's message id (Twilio MessageSid)
    status: str  # the provider's status when it answered (queued, accepted, sent, ...)
    found: bool = False  # True when ``find`` found an earlier send instead of sending


@dataclass(frozen=True)
class OutreachConfig:
    """What an outreach factory receives: its settings (prefix removed, lowercased, e.g.
    ``account_sid``, ``auth_token``, ``from_number``), an optional ``requests.Session`` and timeouts."""

    settings: Mapping[str, str]
    session: Any = None
    connect_timeout: float = 5.0
    read_timeout: float = 15.0


class SmsSender(Protocol):
    """Sends texts (Twilio, the sandbox). Raises only ``hub.domain.errors.OutreachError`` subclasses.

    There is no idempotency key at the provider: ``send`` twice sends twice. The recovery engine
    sends an attempt only while it holds the attempt's claim, and after a claim that may have sent
    (a crash, a timeout) it calls ``find`` before sending again.
    """

    name: str

    def send(self, message: SmsMessage) -> SmsReceipt:
        """Send one text; the receipt names the provider's message id."""
        ...

    def find(self, message: SmsMessage) -> SmsReceipt | None:
        """The message sent earlier for this attempt (same recipient and body, not before
        ``message.not_before``), or None when there is none."""
        ...


# -- the CRM's own schema (``ctihub crm check``) ------------------------------------------------------


@dataclass(frozen=True)
class CrmMetadata:
    """What a CRM says about its own schema, as its API answers it.

    Salesforce: ``objects`` maps each mapped sObject to its describe JSON (None when the object does
    not exist or is not accessible). Zendesk: ``ticket_fields`` is the ``ticket_fields`` listing.
    """

    crm: str
    objects: Mapping[str, Mapping[str, Any] | None] = field(default_factory=dict)
    ticket_fields: Sequence[Mapping[str, Any]] = ()


class MetadataSource(Protocol):
    """A CRM adapter that can describe its own schema, so the mappings can be checked against it
    before they hurt (Salesforce describe, Zendesk ticket_fields; the sandbox answers both)."""

    name: str

    def metadata(self) -> CrmMetadata:
        """The schema of what the mapping writes. Raises only ``hub.domain.errors.CrmError``."""
        ...


# -- the CRM's groups/queues (routing) -------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingTarget:
    """A Zendesk group or a Salesforce queue, as the CRM lists it.

    ``name`` is the Zendesk group name or the queue's label (``Name``); ``developer_name`` the
    queue's API name. ``accepts_cases`` is False for a queue whose supported objects
    (``QueueSobject``) do not include Case: assigning a Case to it fails.
    """

    id: str
    name: str
    developer_name: str | None = None
    accepts_cases: bool = True


class RoutingSource(Protocol):
    """A CRM adapter that lists its groups/queues (Zendesk ``groups``; Salesforce ``Group`` of type
    Queue with ``QueueSobject``). Raises only ``hub.domain.errors.CrmError``."""

    name: str

    def routing_targets(self) -> list[RoutingTarget]:
        """Every group/queue, in as few calls as the API allows (pages of 100 / two queries)."""
        ...


# -- the CRM's own do-not-contact flags (recovery reads them before a callback/email attempt) --------


@dataclass(frozen=True)
class CrmOptOuts:
    """The CRM's do-not-contact flags for one customer, as read now.

    ``flags`` maps a consent channel (``voice``, ``email``) to whether any record of the customer has
    it set (Salesforce ``DoNotCall``, ``HasOptedOutOfEmail``); a channel the CRM has no flag for is
    absent. ``records`` are the ids read, kept as the ledger's evidence: a read that found no record
    says nothing (it lifts no block), and a cleared flag lifts only those records' blocks.
    ``source`` names the CRM for the consent ledger (``crm:salesforce``).
    """

    source: str
    flags: Mapping[str, bool]
    records: tuple[str, ...] = ()


class CrmConsentSource(Protocol):
    """A CRM adapter that can read its own do-not-contact flags (optional: Salesforce and its sandbox).

    Raises only ``hub.domain.errors.CrmError``: the caller must then not contact the customer.
    """

    name: str

    def opt_outs(self, profile: CustomerProfile) -> CrmOptOuts:
        """The flags of every CRM record matching the profile's phone, email or CRM contact id."""
        ...
