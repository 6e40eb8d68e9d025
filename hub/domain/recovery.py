"""Outbound recovery: policies, caps and the guards every attempt passes before it is made.

A customer's digital interaction failed (self-service failed, chat abandoned, SMS unanswered). A
**policy** (per originating channel, intent and outcome) lists the attempts to make, each an action
and a delay after the failure:

    sms        a text with a link (outreach port)                      consent channel "sms"
    callback   a task asking an agent to call, due at the attempt time  consent channel "voice"
    email      a task asking an agent to email from the CRM             consent channel "email"

A callback task is outreach: the call it asks for is the contact, so it needs voice consent and a
contact window like a text does. Every attempt is checked twice, when it is planned and again when
it is claimed (inside the claim's transaction), by ``evaluate``:

    cancel       the episode closed, the customer came back on their own, it was resolved, or the
                 plan's time to live ran out: no further attempt of this plan
    block        no address, no consent, consent revoked or a CRM do-not-contact flag set, the
                 episode's attempt cap (no further attempt), no common window or an unknown zone, a
                 customer's rolling cap, no sender
    reschedule   outside the contact window: moved to the next allowed instant, never dropped, never
                 made early; or the CRM's do-not-contact flags could not be read just before the
                 claim (``crm_unavailable``): tried again later, never made without that read
    send         everything passed

Every check is recorded with its result, so the audit trail and the CRM activity say which guards an
attempt passed or failed. Caps count touches (attempts made), per customer across every channel and
episode, over rolling windows; stricter jurisdictions add their own (``DEFAULT_CUSTOMER_CAPS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.domain.consent import ConsentDecision
from hub.domain.contact_window import (
    ANYWHERE,
    DEFAULT_RULES,
    PURPOSES,
    SERVICE,
    ContactLocation,
    WindowRule,
    allowed_until,
    blocking_rule,
    next_allowed,
)

SMS, CALLBACK, EMAIL = "sms", "callback", "email"
ACTIONS = (SMS, CALLBACK, EMAIL)
CHANNEL_OF: Mapping[str, str] = {SMS: "sms", CALLBACK: "voice", EMAIL: "email"}
ACTION_LABELS: Mapping[str, str] = {SMS: "SMS with a link", CALLBACK: "Agent callback", EMAIL: "Email"}
# Outcomes that may start a recovery; "resolved" ends one.
RECOVERY_OUTCOMES = ("failed", "abandoned", "no_response")
ANY = "*"
# Channels whose contact is a "call" under the TCPA (a text is a call): always inside the window.
# Email has no calling hours; its window is applied only when the customer's zone is known.
WINDOWED_CHANNELS = frozenset({"sms", "voice"})

SEND, RESCHEDULE, BLOCK, CANCEL = "send", "reschedule", "block", "cancel"

# The disposition code (mappings/dispositions.yaml) written to the case/ticket for each result.
SENT_DISPOSITIONS: Mapping[str, str] = {
    SMS: "RECOVERY_SMS_SENT",
    CALLBACK: "RECOVERY_CALLBACK_SCHEDULED",
    EMAIL: "RECOVERY_EMAIL_SCHEDULED",
}
RESULT_DISPOSITIONS: Mapping[str, str] = {
    "rescheduled": "RECOVERY_RESCHEDULED",
    "blocked": "RECOVERY_BLOCKED",
    "cancelled": "RECOVERY_CANCELLED",
    "failed": "RECOVERY_FAILED",
    "task_cancelled": "RECOVERY_CANCELLED",  # a task already made is no longer needed
}
DISPOSITION_CODES = tuple(dict.fromkeys((*SENT_DISPOSITIONS.values(), *RESULT_DISPOSITIONS.values())))


@dataclass(frozen=True)
class Step:
    action: str
    delay: timedelta  # after the failure that started the plan

    @property
    def channel(self) -> str:
        return CHANNEL_OF[self.action]


@dataclass(frozen=True)
class Policy:
    name: str
    outcomes: tuple[str, ...]
    steps: tuple[Step, ...]
    channels: tuple[str, ...] = (ANY,)  # the failed interaction's channel
    intents: tuple[str, ...] = (ANY,)
    purpose: str = SERVICE  # service | marketing (marketing is where the stricter rules aim)
    enabled: bool = True
    ttl: timedelta = timedelta(hours=72)  # no attempt later than this after the failure

    def matches(self, *, channel: str, intent: str, outcome: str) -> bool:
        return (
            outcome in self.outcomes
            and (ANY in self.channels or channel in self.channels)
            and (ANY in self.intents or intent in self.intents)
        )

    def as_dict(self) -> dict[str, Any]:
        """The snapshot stored with a plan, so an edited policy never changes a plan in flight."""
        return {
            "name": self.name,
            "purpose": self.purpose,
            "ttl_minutes": self.ttl / timedelta(minutes=1),
            "steps": [
                {"action": s.action, "delay_minutes": s.delay / timedelta(minutes=1)} for s in self.steps
            ],
        }

    @staticmethod
    def steps_from(snapshot: Mapping[str, Any]) -> tuple[Step, ...]:
        return tuple(
            Step(step["action"], timedelta(minutes=float(step["delay_minutes"])))
            for step in snapshot["steps"]
        )


@dataclass(frozen=True)
class CapRule:
    """At most ``limit`` touches per customer in any rolling ``window``, where ``jurisdiction`` applies."""

    limit: int
    window: timedelta
    jurisdiction: str = ANYWHERE
    citation: str = ""
    verified: bool = True
    purposes: frozenset[str] = frozenset(PURPOSES)

    @property
    def label(self) -> str:
        hours = self.window / timedelta(hours=1)
        if hours > 24 and hours % 24 == 0:
            return f"{int(hours // 24)}d"
        return f"{hours:g}h"

    @property
    def reason(self) -> str:
        return f"customer_cap_{self.label}"

    def describe(self) -> str:
        where = "" if self.jurisdiction == ANYWHERE else f" ({self.jurisdiction})"
        return f"{self.limit} per {self.label}{where}"


_DAY = timedelta(hours=24)
DEFAULT_CUSTOMER_CAPS: tuple[CapRule, ...] = (
    CapRule(3, _DAY, citation="hub default: within FL/OK/MD 3 per 24 h"),
    CapRule(7, timedelta(days=7), citation="hub default: Reg F 12 CFR 1006.14(b)(2) 7 in 7 days"),
    CapRule(3, _DAY, "US-FL", "Fla. Stat. 501.616(6)(b)"),
    CapRule(3, _DAY, "US-OK", "Okla. Telephone Solicitation Act 2022 (15 O.S. 775C.4, vendor)", False),
    CapRule(3, _DAY, "US-MD", "Md. Stop the Spam Calls Act of 2023", False),
    CapRule(1, timedelta(hours=8), "US-ME", "Maine: 1 automated solicitation per 8 h (vendor tables)", False),
    CapRule(4, timedelta(days=30), "FR", "Code de la consommation art. D.223-9"),
)

DEFAULT_SMS_BODY = (
    "About your {intent}: we saw it didn't go through. Pick up where you left off: {link} "
    "Reply STOP to opt out."
)
SMS_PLACEHOLDERS = ("intent", "link")
LINK_PLACEHOLDERS = ("ref", "episode_id", "intent")


@dataclass(frozen=True)
class RecoveryConfig:
    """``mappings/recovery.yaml``, built (see ``hub.mappings.recovery``)."""

    policies: tuple[Policy, ...] = ()
    enabled: bool = True
    max_attempts_per_episode: int = 3
    min_gap: timedelta = timedelta(minutes=60)  # between two touches of one episode
    customer_caps: tuple[CapRule, ...] = DEFAULT_CUSTOMER_CAPS
    windows: tuple[WindowRule, ...] = DEFAULT_RULES
    sms_body: str = DEFAULT_SMS_BODY
    sms_link: str = ""  # e.g. https://help.example.com/resume?ref={ref}

    def policy_for(
        self, *, channel: str, intent: str, outcome: str, include_disabled: bool = False
    ) -> Policy | None:
        """The first policy (in file order) matching the failed interaction."""
        for policy in self.policies:
            if (policy.enabled or include_disabled) and policy.matches(
                channel=channel, intent=intent, outcome=outcome
            ):
                return policy
        return None

    def caps_for(self, location: ContactLocation, purpose: str) -> tuple[CapRule, ...]:
        places = {ANYWHERE, *location.jurisdictions()}
        return tuple(c for c in self.customer_caps if c.jurisdiction in places and purpose in c.purposes)

    def sms_text(self, *, intent: str, ref: str, episode_id: str) -> str:
        link = self.sms_link.format(ref=ref, episode_id=episode_id, intent=intent) if self.sms_link else ""
        return " ".join(self.sms_body.format(intent=intent, link=link).split())


# --- guards ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardFacts:
    """What the guards need, read inside the claim's transaction."""

    at: datetime
    action: str
    purpose: str
    episode_open: bool
    came_back: bool  # the customer contacted us after the failure, on any channel
    resolved: bool
    expires_at: datetime
    address: str | None  # E.164 phone for sms/voice, email address for email
    consent: ConsentDecision | None  # the standing decision for (channel, address); None: never asked
    episode_touches: int  # attempts already made in this episode
    customer_touches: tuple[datetime, ...]  # when this customer was touched (any channel, any episode)
    location: ContactLocation
    sender_ready: bool = True  # an SMS sender is configured
    crm_flags: CrmFlagsRead | None = None  # None: the CRM's flags are not read for this attempt

    @property
    def channel(self) -> str:
        return CHANNEL_OF[self.action]


@dataclass(frozen=True)
class CrmFlagsRead:
    """Whether the CRM's do-not-contact flags (Salesforce ``DoNotCall``, ``HasOptedOutOfEmail``) were
    read for this attempt just before its claim. What they said is in the consent ledger by then (a
    set flag is a standing block, see ``hub.domain.consent``); a read that failed means the ledger
    may be stale, so the attempt waits until ``retry_at`` rather than go out without that check."""

    read: bool
    detail: str
    retry_at: datetime | None = None  # when the read failed: when to claim the attempt again


@dataclass(frozen=True)
class Check:
    guard: str  # episode_open, customer_away, not_resolved, ttl, address, consent, crm_flags,
    #             episode_cap, contact_window, customer_caps, sender
    passed: bool
    detail: str
    reason: str | None = None  # the stable code when it failed

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"guard": self.guard, "passed": self.passed, "detail": self.detail}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class Verdict:
    decision: str  # send | reschedule | block | cancel
    reason: str | None
    checks: tuple[Check, ...]
    next_at: datetime | None = None  # reschedule: the next allowed instant
    until: datetime | None = None  # send: when the allowed span ends (a callback's "call before")
    stops_plan: bool = False  # no further attempt of this plan

    def failed(self) -> list[Check]:
        return [check for check in self.checks if not check.passed]


def _touches_in(touches: Iterable[datetime], at: datetime, window: timedelta) -> int:
    return sum(1 for t in touches if at - window < t <= at)


def evaluate(facts: GuardFacts, config: RecoveryConfig) -> Verdict:
    """Every guard, in order; the decision is the first failure's (cancel > block > window > caps >
    sender > an unread CRM)."""
    at, channel, location = facts.at, facts.channel, facts.location
    checks: list[Check] = []

    def check(guard: str, passed: bool, detail: str, reason: str = "") -> Check:
        made = Check(guard, passed, detail, None if passed else reason)
        checks.append(made)
        return made

    stops = [
        check(
            "episode_open",
            facts.episode_open,
            "episode open" if facts.episode_open else "episode closed",
            "episode_closed",
        ),
        check(
            "customer_away",
            not facts.came_back,
            "customer came back on their own" if facts.came_back else "no contact since the failure",
            "customer_came_back",
        ),
        check(
            "not_resolved", not facts.resolved, "resolved" if facts.resolved else "not resolved", "resolved"
        ),
        check("ttl", at <= facts.expires_at, f"plan valid until {_text(facts.expires_at)}", "expired"),
    ]
    address = check(
        "address",
        bool(facts.address),
        f"{channel} address known" if facts.address else f"no {channel} address",
        "no_address",
    )
    if facts.consent is None:
        consent = check("consent", False, f"no {channel} consent on record", "no_consent")
    else:
        decision = facts.consent
        state = "granted" if decision.granted else "revoked"
        if decision.is_crm_flag:
            state = "blocked by the CRM's do-not-contact flag"
        consent = check(
            "consent",
            decision.granted,
            f"{channel} consent {state} {_text(decision.decided_at)} ({decision.source})",
            "crm_opted_out" if decision.is_crm_flag else "consent_revoked",
        )
    crm_flags = facts.crm_flags
    crm_read = None
    if crm_flags is not None:
        crm_read = check("crm_flags", crm_flags.read, crm_flags.detail, "crm_unavailable")
    limit = config.max_attempts_per_episode
    episode_cap = check(
        "episode_cap",
        facts.episode_touches < limit,
        f"{facts.episode_touches} of {limit} attempts made in the episode",
        "episode_cap",
    )
    window, reason, later, until = _window(facts, config, check)
    cap_failed: Check | None = None
    for cap in config.caps_for(location, facts.purpose):
        used = _touches_in(facts.customer_touches, at, cap.window)
        made = check(
            "customer_cap",
            used < cap.limit,
            f"{used} touches in the last {cap.label}; cap {cap.describe()}",
            cap.reason,
        )
        if not made.passed and cap_failed is None:
            cap_failed = made
    sender = check(
        "sender",
        facts.sender_ready or channel != "sms",
        "SMS sender configured" if facts.sender_ready else "no SMS sender configured",
        "sms_not_configured",
    )

    done = tuple(checks)
    for stop in stops:
        if not stop.passed:
            return Verdict(CANCEL, stop.reason, done, stops_plan=True)
    for blocker in (address, consent):
        if not blocker.passed:
            return Verdict(BLOCK, blocker.reason, done)
    if not episode_cap.passed:
        return Verdict(BLOCK, episode_cap.reason, done, stops_plan=True)
    if window == CANCEL:
        return Verdict(CANCEL, reason, done, stops_plan=True)
    if window != SEND:
        return Verdict(window, reason, done, next_at=later)
    if cap_failed is not None:
        return Verdict(BLOCK, cap_failed.reason, done)
    if not sender.passed:
        return Verdict(BLOCK, sender.reason, done)
    if crm_read is not None and not crm_read.passed:  # everything else passed: wait for the CRM
        assert crm_flags is not None
        return Verdict(RESCHEDULE, crm_read.reason, done, next_at=crm_flags.retry_at or at)
    return Verdict(SEND, None, done, until=until)


def _window(
    facts: GuardFacts, config: RecoveryConfig, check: Any
) -> tuple[str, str | None, datetime | None, datetime | None]:
    """(decision, reason, next allowed instant, end of the current span) for the contact window."""
    at, channel, location = facts.at, facts.channel, facts.location
    if channel not in WINDOWED_CHANNELS and not location.known:
        check("contact_window", True, f"{channel} has no calling hours and the zone is unknown")
        return SEND, None, None, None
    if not location.known:
        check("contact_window", False, "time zone unknown: never allowed", "unknown_time_zone")
        return BLOCK, "unknown_time_zone", None, None
    blocked = blocking_rule(at, location, config.windows, facts.purpose)
    if blocked is None:
        check("contact_window", True, f"inside the window in {', '.join(location.zones)}")
        return SEND, None, None, allowed_until(at, location, config.windows, facts.purpose)
    rule, zone_name = blocked
    where = f"{rule.describe()} in {zone_name}"
    later = next_allowed(at, location, config.windows, facts.purpose)
    if later is None:
        check("contact_window", False, f"no instant allowed in every zone ({where})", "no_common_window")
        return BLOCK, "no_common_window", None, None
    if later > facts.expires_at:
        detail = f"outside {where}; the next allowed instant {_text(later)} is after the plan expires"
        check("contact_window", False, detail, "expired")
        return CANCEL, "expired", None, None
    check("contact_window", False, f"outside {where}; next allowed {_text(later)}", "outside_contact_window")
    return RESCHEDULE, "outside_contact_window", later, None


def window_closed(
    verdict: Verdict,
    at: datetime,
    *,
    location: ContactLocation,
    config: RecoveryConfig,
    purpose: str,
    expires_at: datetime,
) -> Verdict | None:
    """What to do instead of a ``send`` verdict whose contact window closed (``until``) at or before
    ``at``, the moment the attempt is about to be made (later than its guards: the CRM was read, the
    batch's earlier attempts were made); None while the window is still open."""
    if verdict.decision != SEND or verdict.until is None or at < verdict.until:
        return None
    closed = f"the window closed at {_text(verdict.until)}, before the attempt was made at {_text(at)}"
    later = next_allowed(at, location, config.windows, purpose)
    if later is None:
        decision, reason, detail = BLOCK, "no_common_window", f"{closed}; no instant allowed later"
    elif later > expires_at:
        decision, reason = CANCEL, "expired"
        detail = f"{closed}; the next allowed instant {_text(later)} is after the plan expires"
    else:
        decision, reason = RESCHEDULE, "outside_contact_window"
        detail = f"{closed}; next allowed {_text(later)}"
    window = Check("contact_window", False, detail, reason)
    checks = tuple(window if check.guard == "contact_window" else check for check in verdict.checks)
    return Verdict(
        decision,
        reason,
        checks,
        next_at=later if decision == RESCHEDULE else None,
        stops_plan=decision == CANCEL,
    )


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment.utcoffset() == timedelta(0) else moment.isoformat()


def first_due(
    planned_for: datetime,
    location: ContactLocation,
    action: str,
    config: RecoveryConfig,
    purpose: str,
) -> datetime:
    """When to claim a step first: ``planned_for``, or the next allowed instant after it. With no
    allowed instant (unknown zone), ``planned_for``: the claim blocks it then, with the reason."""
    if CHANNEL_OF[action] not in WINDOWED_CHANNELS and not location.known:
        return planned_for
    later = next_allowed(planned_for, location, config.windows, purpose)
    return later if later is not None else planned_for


def planned_instant(
    step: Step,
    *,
    failed_at: datetime,
    last_touch_at: datetime | None,
    now: datetime,
    config: RecoveryConfig,
) -> datetime:
    """The failure + the step's delay, no earlier than ``min_gap`` after the episode's last touch and
    never in the past."""
    moment = failed_at + step.delay
    if last_touch_at is not None:
        moment = max(moment, last_touch_at + config.min_gap)
    return max(moment, now)
