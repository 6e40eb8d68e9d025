"""What the guards read for a batch of claimed attempts, inside the claim's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from hub.domain.consent import ConsentDecision
from hub.domain.contact_window import SERVICE, ContactLocation
from hub.domain.recovery import CrmFlagsRead, GuardFacts, RecoveryConfig, Verdict
from hub.store import recovery as store

from .keys import after


@dataclass(frozen=True)
class Work:
    attempt: store.Attempt
    plan: store.Plan
    verdict: Verdict | None  # None: a previous claim may have sent this SMS; look for it first


@dataclass
class ClaimBatch:
    """What the guards read for a batch of claimed attempts, read once inside the claim transaction
    (touches are kept current as the batch decides to make attempts)."""

    plans: dict[int, store.Plan]
    open_episodes: set[str]
    episode_facts: dict[str, store.EpisodeFacts]
    consents: dict[tuple[str, str], ConsentDecision | None]
    customer_touches: dict[str, list[tuple[int, datetime]]]
    episode_touches: dict[str, list[tuple[int, datetime]]]

    @classmethod
    def read(
        cls, connection: Connection, attempts: Sequence[store.Attempt], now: datetime, config: RecoveryConfig
    ) -> ClaimBatch:
        longest = max((cap.window for cap in config.customer_caps), default=timedelta(days=7))
        episode_ids = [a.episode_id for a in attempts]
        return cls(
            plans=store.get_plans(connection, (a.plan_id for a in attempts)),
            open_episodes=store.open_episodes(connection, episode_ids),
            episode_facts=store.facts_of_episodes(connection, episode_ids),
            consents=store.standing_consents(
                connection, ((a.channel, a.address) for a in attempts if a.address)
            ),
            customer_touches=store.touches_by(
                connection, "customer_key", (a.customer_key for a in attempts), since=now - longest
            ),
            episode_touches=store.touches_by(connection, "episode_id", episode_ids),
        )

    def facts(
        self,
        attempt: store.Attempt,
        plan: store.Plan,
        now: datetime,
        *,
        location: ContactLocation,
        sender_ready: bool,
        crm_flags: CrmFlagsRead | None = None,
    ) -> GuardFacts:
        facts = self.episode_facts[plan.episode_id]
        own = attempt.id
        return GuardFacts(
            at=now,
            action=attempt.action,
            purpose=plan.purpose or SERVICE,
            episode_open=plan.episode_id in self.open_episodes and facts.closed_at is None,
            came_back=after(facts.last_contact_at, plan.occurred_at),
            resolved=after(facts.resolved_at, plan.occurred_at),
            expires_at=plan.expires_at or plan.occurred_at,
            address=attempt.address,
            consent=self.consents.get((attempt.channel, attempt.address)) if attempt.address else None,
            episode_touches=sum(1 for i, _ in self.episode_touches[plan.episode_id] if i != own),
            customer_touches=tuple(t for i, t in self.customer_touches[attempt.customer_key] if i != own),
            location=location,
            sender_ready=sender_ready,
            crm_flags=crm_flags,
        )

    def touched(self, attempt: store.Attempt, now: datetime) -> None:
        self.customer_touches[attempt.customer_key].append((attempt.id, now))
        self.episode_touches[attempt.episode_id].append((attempt.id, now))
