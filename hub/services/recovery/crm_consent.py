"""The CRM's own do-not-contact flags, read just before a callback/email attempt is claimed.

A CRM that can say so (``hub.ports.CrmConsentSource``: Salesforce ``DoNotCall`` and
``HasOptedOutOfEmail``, the sandbox org too) is asked, outside any transaction, for every claimed
attempt of a channel it has flags for (``voice``, ``email``); what it said goes into the consent
ledger (source ``crm:<crm>``) in the transaction that then evaluates the guards, which read the ledger
as they always do. A set flag blocks the channel; a cleared one only lifts the block of the records
it was read on (it is never consent: see ``hub.domain.consent``). Each row names the records read
(``crm_evidence``), and is written only when the read changes the state of one of them, so the
ledger records changes, not reads. A read that matched no record says nothing about any record
(the customer may be a Lead, a Person Account, or a Contact whose phone is stored in another form):
it records nothing, and a block that came from an outbound message stands.

A read that fails (the CRM down, the quota spent, a field the integration user cannot see) means the
ledger may be stale: the attempt is not made, but rescheduled with backoff (``crm_unavailable``,
visible in its guards, its trail and the CRM note). SMS has no CRM flag here: Twilio's STOP and
error 21610 are its opt-outs.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from hub.domain.consent import (
    SALESFORCE_FLAG_FIELDS,
    SALESFORCE_FLAG_SOURCE,
    ConsentDecision,
    crm_evidence,
    crm_flag_states,
)
from hub.domain.errors import CrmError
from hub.domain.recovery import CrmFlagsRead
from hub.domain.retry import retry_delay
from hub.ports import CrmConsentSource, CrmOptOuts, CustomerProfile
from hub.store import consent as consent_store
from hub.store import recovery as store

from .crm_values import CrmValues
from .keys import utc_text

log = logging.getLogger(__name__)

CRM_UNAVAILABLE = "crm_unavailable"  # the guard's reason when the read failed
CHANNELS = ("voice", "email")  # the consent channels whose CRM flags are read
FLAG_FIELDS = {SALESFORCE_FLAG_SOURCE: SALESFORCE_FLAG_FIELDS}  # each CRM's flag names, for the evidence
BACKOFF_BASE_SECONDS = 60.0
BACKOFF_CAP_SECONDS = 3600.0


def consent_source(crm: object) -> CrmConsentSource | None:
    """The CRM itself when its adapter can read do-not-contact flags, else None (Zendesk: no standard
    field; nothing is read and the ledger alone decides)."""
    return crm if crm is not None and callable(getattr(crm, "opt_outs", None)) else None  # type: ignore[return-value]


def _profile_key(profile: CustomerProfile) -> tuple[object, ...]:
    return (profile.key, profile.phone, profile.email, tuple(sorted(profile.external_ids.items())))


def _failure(exc: CrmError) -> str:
    """The failure without the CRM's message: Salesforce repeats the query (the customer's phone or
    email) in it, and this text reaches logs and the case."""
    return f"{exc.origin()} ({exc.code})"


@dataclass
class CrmFlags:
    """Reads the flags for a claimed batch, then records them; one read per customer profile."""

    source: CrmConsentSource
    rng: random.Random

    @staticmethod
    def wanted(attempts: Sequence[store.Attempt]) -> bool:
        return any(a.channel in CHANNELS and a.address for a in attempts)

    def read(
        self, attempts: Sequence[store.Attempt], plans: Mapping[int, store.Plan]
    ) -> dict[int, CrmOptOuts | CrmError]:
        """Outside any transaction: for each attempt that needs it, what the CRM said (or its error)."""
        answers: dict[tuple[object, ...], CrmOptOuts | CrmError] = {}
        found: dict[int, CrmOptOuts | CrmError] = {}
        for attempt in attempts:
            if attempt.channel not in CHANNELS or not attempt.address:
                continue
            profile = CrmValues.profile(plans[attempt.plan_id])
            key = _profile_key(profile)
            if key not in answers:
                try:
                    answers[key] = self.source.opt_outs(profile)
                except CrmError as exc:
                    log.warning(
                        "recovery: the CRM's do-not-contact flags could not be read (%s); the attempt waits",
                        _failure(exc),
                    )
                    answers[key] = exc
            found[attempt.id] = answers[key]
        return found

    def record(
        self,
        connection: Connection,
        attempts: Sequence[store.Attempt],
        reads: Mapping[int, CrmOptOuts | CrmError],
        now: datetime,
    ) -> dict[int, CrmFlagsRead]:
        """In the claim's transaction: each changed flag into the ledger; the guards' fact per attempt."""
        wanted = [a for a in attempts if a.id in reads and a.address]
        known = store.crm_flag_decisions(connection, ((a.channel, a.address or "") for a in wanted))
        facts: dict[int, CrmFlagsRead] = {}
        for attempt in wanted:
            read = reads[attempt.id]
            if isinstance(read, CrmError):
                delay = retry_delay(
                    attempt.reschedules + 1,
                    retry_after=read.retry_after,
                    base=BACKOFF_BASE_SECONDS,
                    cap=BACKOFF_CAP_SECONDS,
                    rng=self.rng,
                )
                retry_at = now + timedelta(seconds=delay)
                detail = f"the CRM's do-not-contact flags could not be read: {_failure(read)}"
                facts[attempt.id] = CrmFlagsRead(False, f"{detail}; again at {utc_text(retry_at)}", retry_at)
                continue
            facts[attempt.id] = self._note_flag(connection, attempt, read, known, now)
        return facts

    def _note_flag(
        self,
        connection: Connection,
        attempt: store.Attempt,
        read: CrmOptOuts,
        known: dict[tuple[str, str], list[ConsentDecision]],
        now: datetime,
    ) -> CrmFlagsRead:
        channel, address = attempt.channel, attempt.address or ""
        name = FLAG_FIELDS.get(read.source, {}).get(channel, f"{channel} flag")
        flag = read.flags.get(channel)
        said = f"{read.source} read {utc_text(now)}"
        if flag is None:
            return CrmFlagsRead(True, f"{said}: no {channel} flag ({len(read.records)} record(s))")
        if not read.records:
            return CrmFlagsRead(True, f"{said}: no record matched; nothing recorded, the ledger decides")
        detail = f"{said}: {name} {'set' if flag else 'not set'} ({len(read.records)} record(s))"
        decisions = known.setdefault((channel, address), [])
        blocked = {
            record
            for (source, record), state in crm_flag_states(decisions).items()
            if source == read.source and not state.granted
        }
        others = sorted(blocked - set(read.records))  # a read never lifts the block of a record not read
        standing = ""
        if others and not flag:
            shown = ", ".join(record or "a record not named" for record in others)
            standing = f"; still set on {shown} (an earlier decision, not lifted by this read)"
        if all((record in blocked) == flag for record in read.records):
            return CrmFlagsRead(True, detail + standing)  # nothing changed since the ledger's last word
        decision = ConsentDecision(
            channel,
            address,
            not flag,
            now,
            read.source,
            crm_evidence(
                f"{name}={'true' if flag else 'false'}, read before recovery attempt {attempt.key}",
                read.records,
            ),
        )
        consent_store.record_consent(connection, decision, now=now, customer_key=attempt.customer_key)
        decisions.append(decision)
        return CrmFlagsRead(True, f"{detail}; recorded in the consent ledger{standing}")
