"""Consent rules: no outreach without a standing grant, and a revocation wins at once.

The ledger is append-only. The standing decision for a channel and address is the latest one by the
time it was made; on a tie a revocation wins; with no decision at all there is no consent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

OUTREACH_CHANNELS = ("sms", "voice", "email")


@dataclass(frozen=True)
class ConsentDecision:
    channel: str  # sms | voice | email
    address: str  # E.164 phone for sms/voice, case-folded email for email
    granted: bool
    decided_at: datetime
    source: str  # e.g. "event:web-chat", "twilio:STOP", "salesforce:DoNotCall"
    evidence: str | None = None


def standing(decisions: Iterable[ConsentDecision]) -> ConsentDecision | None:
    """The decision in force: latest ``decided_at``; a revocation wins a tie."""
    latest: ConsentDecision | None = None
    for decision in decisions:
        if latest is None or (decision.decided_at, not decision.granted) > (
            latest.decided_at,
            not latest.granted,
        ):
            latest = decision
    return latest


def may_contact(decisions: Iterable[ConsentDecision]) -> bool:
    decision = standing(decisions)
    return decision is not None and decision.granted
