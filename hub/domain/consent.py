"""Consent rules: no outreach without a standing grant, and a revocation wins at once.

The ledger is append-only and holds two kinds of decisions per channel and address:

- **consent** (events, Twilio STOP/START, a provider's "unsubscribed" error): the customer's own
  word. The latest by the time it was made stands; on a tie a revocation wins; with no decision at
  all there is no consent.
- **CRM flags** (source ``crm:<crm>``, e.g. Salesforce ``DoNotCall``, ``HasOptedOutOfEmail``): the
  CRM's do-not-contact state as last seen, read from its outbound messages or before an attempt. A
  set flag (``granted=False``) blocks the channel for as long as it is the latest CRM decision; a
  cleared flag (``granted=True``) only lifts that block. It is never consent: the customer may
  have asked an agent to stop calling and later been cleaned up by an admin, which says nothing
  about whether they agreed to be contacted.

So the decision in force is the latest blocking one of the two (a set CRM flag, a revocation), and
otherwise the latest consent decision (a grant, or None).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

OUTREACH_CHANNELS = ("sms", "voice", "email")
CRM_SOURCE_PREFIX = "crm:"  # a CRM flag: see the module docstring


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


def latest(decisions: Iterable[ConsentDecision]) -> ConsentDecision | None:
    """Latest ``decided_at``; a revocation wins a tie."""
    found: ConsentDecision | None = None
    for decision in decisions:
        if found is None or (decision.decided_at, not decision.granted) > (
            found.decided_at,
            not found.granted,
        ):
            found = decision
    return found


def standing(decisions: Iterable[ConsentDecision]) -> ConsentDecision | None:
    """The decision in force: the latest block (a set CRM flag or a revocation) if any stands,
    otherwise the latest consent decision (None: never asked, which means no consent)."""
    decisions = list(decisions)
    consent = latest(d for d in decisions if not d.is_crm_flag)
    crm_flag = latest(d for d in decisions if d.is_crm_flag)
    blocks = [d for d in (consent, crm_flag) if d is not None and not d.granted]
    if blocks:
        return latest(blocks)
    return consent


def may_contact(decisions: Iterable[ConsentDecision]) -> bool:
    decision = standing(decisions)
    return decision is not None and decision.granted
