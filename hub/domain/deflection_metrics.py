"""The deflection metrics' definitions, as pure functions over one customer's contacts about one
intent family (docs/metrics.md has the words and a worked example).

Everything an inquiry's figures depend on is a fact about that (customer, intent family) pair: its
contacts in any episode, the deflection offers made to the customer about that family, and
``window`` (R). So the rollup recomputes a pair whenever a fact about it arrives, late or not, and
time enters only through ``settles_at``: an inquiry is *pending* until then, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

SELF_SERVICE = "self_service"
VOICE = "voice"
BOT = "bot"
AGENT = "agent"
RESOLVED = "resolved"
ESCALATED = "escalated"
FAILED_OUTCOMES = ("failed", "abandoned", "no_response")


@dataclass(frozen=True)
class Contact:
    """One linked outcome event, reduced to what the metrics read."""

    inbox_id: int
    episode_id: str
    occurred_at: datetime
    channel: str
    outcome: str
    intent: str
    handled_by: str | None = None
    inbound: bool = True
    deflection_id: str | None = None  # metadata.deflection_id: the offer this contact followed


def is_automated(contact: Contact) -> bool:
    """Channel ``self_service``, or handled by a bot. An explicit ``handled_by: agent`` wins."""
    if contact.handled_by is not None:
        return contact.handled_by == BOT
    return contact.channel == SELF_SERVICE


def is_agent(contact: Contact) -> bool:
    """Handled by an agent, an escalated outcome, or a voice call (unless ``handled_by: bot``)."""
    if contact.outcome == ESCALATED or contact.handled_by == AGENT:
        return True
    return contact.handled_by is None and contact.channel == VOICE


def is_automated_resolution(contact: Contact) -> bool:
    return is_automated(contact) and contact.outcome == RESOLVED


@dataclass(frozen=True)
class Inquiry:
    """One episode's figures. ``channel`` and ``intent`` are those of its first contact."""

    episode_id: str
    intent: str
    channel: str
    first_at: datetime
    automated: bool  # had an automated event
    agent: bool  # had an agent event
    resolved_at: datetime | None  # its first automated resolution
    recontact_at: datetime | None  # the first contact of the pair within R after that resolution
    settles_at: datetime  # pending until then
    offer_taken: bool
    contacts: int

    @property
    def day(self) -> str:
        return self.first_at.date().isoformat()


@dataclass(frozen=True)
class OfferFact:
    """A deflection decision: the digital channels it offered (voice is not a deflection)."""

    decision_id: int
    jti: str
    decided_at: datetime
    intent: str
    episode_id: str | None
    channels: tuple[str, ...]

    @property
    def channel(self) -> str:
        return self.channels[0] if self.channels else VOICE


@dataclass(frozen=True)
class OfferOutcome:
    decision_id: int
    day: str
    intent: str
    channel: str
    taken_at: datetime | None
    taken_episode: str | None
    failed: bool


def _ordered(contacts: Iterable[Contact]) -> list[Contact]:
    return sorted(contacts, key=lambda c: (c.occurred_at, c.inbox_id))


def first_recontact(resolution: Contact, contacts: Sequence[Contact], window: timedelta) -> datetime | None:
    """The first inbound contact of the pair after ``resolution`` and at most ``window`` later."""
    until = resolution.occurred_at + window
    for contact in contacts:
        if contact.inbox_id == resolution.inbox_id or not contact.inbound:
            continue
        if resolution.occurred_at < contact.occurred_at <= until:
            return contact.occurred_at
    return None


def offer_outcomes(
    offers: Iterable[OfferFact], contacts: Sequence[Contact], window: timedelta
) -> list[OfferOutcome]:
    """Each offer: taken by the first later contact on an offered channel in the offer's episode (or
    citing it in ``metadata.deflection_id``; any episode of the pair when the offer had none, within
    R); failed when that contact ended failed, abandoned or unanswered, or the customer called
    (voice) within R of it."""
    ordered = _ordered(contacts)
    found = []
    for offer in offers:
        taken = None
        for contact in ordered:
            if contact.occurred_at < offer.decided_at or contact.channel not in offer.channels:
                continue
            cites = contact.deflection_id == offer.jti
            same_episode = (
                contact.episode_id == offer.episode_id
                if offer.episode_id is not None
                else contact.occurred_at <= offer.decided_at + window
            )
            if cites or same_episode:
                taken = contact
                break
        failed = taken is not None and (
            taken.outcome in FAILED_OUTCOMES
            or any(
                c.channel == VOICE
                and c.inbound
                and taken.occurred_at < c.occurred_at <= taken.occurred_at + window
                for c in ordered
            )
        )
        found.append(
            OfferOutcome(
                decision_id=offer.decision_id,
                day=offer.decided_at.date().isoformat(),
                intent=offer.intent,
                channel=offer.channel,
                taken_at=taken.occurred_at if taken else None,
                taken_episode=taken.episode_id if taken else None,
                failed=failed,
            )
        )
    return found


@dataclass
class PairFacts:
    """Everything known about one (customer, intent family) pair."""

    contacts: list[Contact] = field(default_factory=list)
    offers: list[OfferFact] = field(default_factory=list)


def inquiries(pair: PairFacts, window: timedelta) -> tuple[list[Inquiry], list[OfferOutcome]]:
    """Every inquiry (episode) of the pair and every offer made to it, by the definitions."""
    contacts = _ordered(pair.contacts)
    offers = offer_outcomes(pair.offers, contacts, window)
    taken_in = {offer.taken_episode for offer in offers if offer.taken_episode is not None}
    by_episode: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_episode.setdefault(contact.episode_id, []).append(contact)
    found = []
    for episode_id, own in by_episode.items():
        first = own[0]
        resolution = next((c for c in own if is_automated_resolution(c)), None)
        recontact_at = first_recontact(resolution, contacts, window) if resolution else None
        settles_at = first.occurred_at + window
        if resolution is not None:
            settles_at = max(settles_at, recontact_at or resolution.occurred_at + window)
        found.append(
            Inquiry(
                episode_id=episode_id,
                intent=first.intent,
                channel=first.channel,
                first_at=first.occurred_at,
                automated=any(is_automated(c) for c in own),
                agent=any(is_agent(c) for c in own),
                resolved_at=resolution.occurred_at if resolution else None,
                recontact_at=recontact_at,
                settles_at=settles_at,
                offer_taken=episode_id in taken_in,
                contacts=len(own),
            )
        )
    return found, offers
