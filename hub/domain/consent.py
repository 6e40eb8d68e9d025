"""Consent rules: no outreach without a standing grant, and a revocation wins at once.

The ledger is append-only and holds two kinds of decisions per channel and address:

- **consent** (events, Twilio STOP/START, a provider's "unsubscribed" error): the customer's own
  word. The latest by the time it was made stands; on a tie a revocation wins; with no decision at
  all there is no consent.
- **CRM flags** (source ``crm:<crm>``, e.g. Salesforce ``DoNotCall``, ``HasOptedOutOfEmail``): the
  CRM's do-not-contact state of its records, read from its outbound messages or before an attempt.
  Each decision names the CRM records it is about (``crm_evidence``; Salesforce record ids), and
  each record's state is its own latest decision: a set flag (``granted=False``) blocks the channel
  for as long as it is the latest decision about one of those records; a cleared flag
  (``granted=True``) lifts the block of the records it names, and only theirs. So a Lead's
  ``DoNotCall`` is not lifted by a read that found a Contact (or nothing at all), and one record
  cleared leaves another's flag in force. A decision without record ids (recorded before they were
  kept) is about an unknown record: only a decision just as anonymous lifts it. A cleared flag is
  never consent: the customer may have asked an agent to stop calling and later been cleaned up by
  an admin, which says nothing about whether they agreed to be contacted.

- **erasure** (source ``erasure``, written by ``ctihub customer forget``): the only trace kept of a
  forgotten person, a revocation recorded under ``erased_address`` (a hash of the normalized address,
  not the address). It blocks for good: nothing recorded later lifts it (docs/retention.md).

So the decision in force is the erasure if there is one, else the latest blocking one (a
revocation, a CRM record whose flag is set), and otherwise the latest consent decision (a grant,
or None).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

OUTREACH_CHANNELS = ("sms", "voice", "email")
CRM_SOURCE_PREFIX = "crm:"  # a CRM flag: see the module docstring
ERASURE_SOURCE = "erasure"  # a forgotten person's do-not-contact record: see the module docstring
ERASED_PREFIX = "erased:sha256:"


def erased_address(address: str) -> str:
    """The ledger address of a forgotten person's do-not-contact record: a SHA-256 of the normalized
    address, so the block can be matched without keeping the address itself."""
    return ERASED_PREFIX + hashlib.sha256(address.encode("utf-8")).hexdigest()


# Salesforce's flags: the ledger source both the adapter's read and the outbound messages write, and
# the Contact field of each channel's flag (Leads carry the same names, Person Accounts ``Person...``).
SALESFORCE_FLAG_SOURCE = CRM_SOURCE_PREFIX + "salesforce"
SALESFORCE_FLAG_FIELDS: Mapping[str, str] = MappingProxyType(
    {"voice": "DoNotCall", "email": "HasOptedOutOfEmail"}
)
_RECORDS = re.compile(r" \[records: ([^\[\]]*)\]\Z")


def crm_evidence(text: str, records: Iterable[str]) -> str:
    """The evidence of a CRM flag decision: ``text`` and the records it is about (``crm_records``)."""
    return f"{text} [records: {', '.join(sorted(set(records)))}]"


def crm_records(evidence: str | None) -> tuple[str, ...]:
    """The CRM record ids ``crm_evidence`` put in ``evidence``; () when it names none."""
    found = _RECORDS.search(evidence or "")
    if found is None:
        return ()
    return tuple(part for part in (p.strip() for p in found.group(1).split(",")) if part)


@dataclass(frozen=True)
class ConsentDecision:
    channel: str  # sms | voice | email
    address: str  # E.164 phone for sms/voice, case-folded email for email
    granted: bool
    decided_at: datetime
    source: str  # e.g. "event:web-chat", "twilio:STOP", "crm:salesforce" (a CRM flag)
    evidence: str | None = None

    @property
    def is_crm_flag(self) -> bool:
        return self.source.startswith(CRM_SOURCE_PREFIX)

    @property
    def crm_records(self) -> tuple[str, ...]:
        """The CRM records a CRM flag decision is about (read from its evidence)."""
        return crm_records(self.evidence) if self.is_crm_flag else ()


def _order(decision: ConsentDecision) -> tuple[datetime, bool]:
    return decision.decided_at, not decision.granted


def latest(decisions: Iterable[ConsentDecision]) -> ConsentDecision | None:
    """Latest ``decided_at``; a revocation wins a tie."""
    found: ConsentDecision | None = None
    for decision in decisions:
        if found is None or _order(decision) > _order(found):
            found = decision
    return found


def crm_flag_states(decisions: Iterable[ConsentDecision]) -> dict[tuple[str, str], ConsentDecision]:
    """Each CRM record's latest flag decision, by (source, record id); record id "" when unknown."""
    states: dict[tuple[str, str], ConsentDecision] = {}
    for decision in decisions:
        if not decision.is_crm_flag:
            continue
        for record in decision.crm_records or ("",):
            key = (decision.source, record)
            current = states.get(key)
            if current is None or _order(decision) > _order(current):
                states[key] = decision
    return states


def crm_blocks(decisions: Iterable[ConsentDecision]) -> list[ConsentDecision]:
    """The CRM flag decisions in force that block: a record whose latest decision is a set flag."""
    blocks = [d for d in crm_flag_states(decisions).values() if not d.granted]
    return list({id(d): d for d in blocks}.values())


def standing(decisions: Iterable[ConsentDecision]) -> ConsentDecision | None:
    """The decision in force: the latest block (a CRM record's set flag or a revocation) if any
    stands, otherwise the latest consent decision (None: never asked, which means no consent)."""
    decisions = list(decisions)
    erasure = latest(d for d in decisions if d.source == ERASURE_SOURCE and not d.granted)
    if erasure is not None:
        return erasure
    consent = latest(d for d in decisions if not d.is_crm_flag)
    blocks = crm_blocks(decisions)
    if consent is not None and not consent.granted:
        blocks.append(consent)
    if blocks:
        return latest(blocks)
    return consent


def may_contact(decisions: Iterable[ConsentDecision]) -> bool:
    decision = standing(decisions)
    return decision is not None and decision.granted
