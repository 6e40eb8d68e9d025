"""A deflection history for the metrics benchmark, the dashboard's browser test and its screenshot.

``seed_history`` writes N linked events over D days straight into the real tables, in bulk (SQLite
``executemany`` on the driver, PostgreSQL ``COPY``, as ``bench/panel.py`` does): customers,
episodes, inbox rows with their payloads, cases, deflection offers, SLA breaches, dedup links,
recovery plans and attempts. Nothing goes through HTTP or the worker, so a million events take
minutes, not hours. ``progress(done, total)`` is called after each flush.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text

from bench.bulk import Buffers

INTENTS = {
    "billing": "billing",
    "password_reset": "account_access",
    "account_update": "account_access",
    "order_status": "orders",
    "delivery_update": "orders",
    "technical_support": "technical_support",
    "plan_change": "plan_change",
    "cancellation": "cancellation",
}
WINDOW = timedelta(hours=72)
BATCH = 20_000
FAILED = ("failed", "abandoned", "no_response")
OFFERS = json.dumps(
    {
        "offers": [
            {"rank": 1, "channel": "chat"},
            {"rank": 2, "channel": "sms"},
            {"rank": 3, "channel": "voice"},
        ]
    }
)

# parents first: each flush writes every table in this order, so foreign keys hold
TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("key", "created_at"),
    "episodes": (
        "id", "customer_key", "intent_family", "intent", "status", "opened_at", "last_event_at", "closes_at",
    ),
    "inbox": (
        "id", "source", "event_id", "received_at", "payload", "status", "attempts", "next_attempt_at",
        "customer_key", "episode_id", "disposition", "linked_at",
    ),
    "episode_cases": ("episode_id", "crm", "object", "case_id", "created_by_hub", "linked_at"),
    "deflection_decisions": (
        "jti", "decided_at", "intent", "customer_key", "episode_id", "mode", "inputs", "offers",
        "token_expires_at",
    ),
    "sla_actions": ("episode_id", "metric", "instance", "kind", "key", "created_at"),
    "dedup_links": ("crm", "duplicate_id", "master_id", "plan_id", "linked_at"),
    "recovery_plans": (
        "id", "trigger_key", "episode_id", "customer_key", "source", "event_id", "channel", "intent",
        "outcome", "occurred_at", "status", "recorded_at", "closed_at", "close_reason",
    ),
    "recovery_attempts": (
        "id", "key", "plan_id", "episode_id", "customer_key", "step", "action", "channel", "address",
        "planned_for", "due_at", "status", "reason", "touched_at", "created_at",
    ),
}  # fmt: skip


def _problems(
    rng: random.Random, end: datetime, days: int, prefix: str
) -> Iterator[tuple[str, str, datetime]]:
    """(customer, intent, first contact) for each new problem, busier on weekdays and by day."""
    customers_pool = 0
    intents = list(INTENTS)
    hours = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    while True:
        at = end - timedelta(days=rng.random() * days)
        if at.weekday() >= 5 and rng.random() < 0.4:
            continue
        at = at.replace(hour=rng.choice(hours), minute=rng.randrange(60))
        if rng.random() < 0.7 or customers_pool == 0:
            customers_pool += 1
            customer = f"{prefix}_{customers_pool:09d}"
        else:
            customer = f"{prefix}_{rng.randrange(1, customers_pool + 1):09d}"
        yield customer, rng.choice(intents), at


def _contacts(rng: random.Random, first_at: datetime) -> list[dict[str, Any]]:
    """One problem's contacts: a first try and what followed (recontacts, escalations)."""
    channel = rng.choices(["self_service", "chat", "voice", "sms", "messaging"], [45, 25, 15, 10, 5])[0]
    found: list[dict[str, Any]] = []
    if channel == "self_service":
        outcome = rng.choices(["resolved", "abandoned", "failed", "escalated"], [60, 20, 15, 5])[0]
        found.append({"channel": channel, "outcome": outcome, "at": first_at})
        if outcome == "resolved" and rng.random() < 0.25:  # came back
            later = first_at + timedelta(hours=rng.choice([1, 3, 20, 50, 90]))
            found.append({"channel": rng.choice(["chat", "voice"]), "outcome": "resolved", "at": later})
        elif outcome != "resolved" and rng.random() < 0.5:
            found.append({"channel": "voice", "outcome": "resolved", "at": first_at + timedelta(minutes=30)})
    elif channel == "chat" and rng.random() < 0.5:  # a bot first
        outcome = rng.choices(["resolved", "escalated", "abandoned"], [50, 35, 15])[0]
        found.append({"channel": "chat", "outcome": outcome, "at": first_at, "handled_by": "bot"})
        if outcome == "escalated":
            at = first_at + timedelta(minutes=8)
            found.append({"channel": "chat", "outcome": "resolved", "at": at, "handled_by": "agent"})
    else:
        outcome = rng.choices(["resolved", "failed", "no_response", "in_progress"], [70, 10, 10, 10])[0]
        found.append({"channel": channel, "outcome": outcome, "at": first_at})
    return found


def seed_history(
    engine: Engine,
    *,
    events: int,
    days: int = 90,
    end: datetime | None = None,
    seed: int = 7,
    first_id: int = 1,
    customer_prefix: str = "cus",
    linked_at: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Bulk-insert at least ``events`` linked events over ``days`` days ending at ``end``. A second
    batch into the same database needs ids and customers of its own (``first_id``,
    ``customer_prefix``); ``linked_at`` links every event at that time (as a worker would, now)
    rather than seconds after it happened."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    buffers = Buffers(engine, TABLES, BATCH)
    seen_customers: set[str] = set()
    open_episode: dict[tuple[str, str], tuple[str, datetime]] = {}
    written = 0
    ids = iter(range(first_id, first_id + 10**12))
    for customer, intent, first_at in _problems(rng, end, days, customer_prefix):
        if written >= events:
            break
        family = INTENTS[intent]
        if customer not in seen_customers:
            seen_customers.add(customer)
            buffers.add("customers", (customer, first_at))
        offer = None
        if rng.random() < 0.08:  # a voice caller offered chat or SMS first
            offer = {
                "jti": uuid.UUID(int=rng.getrandbits(128)).hex,
                "decided_at": first_at - timedelta(minutes=2),
            }
        for contact in _contacts(rng, first_at):
            at = contact["at"]
            if at > end:  # a comeback that has not happened yet: nothing is linked in the future
                continue
            if offer is not None and rng.random() < 0.6:
                contact = {**contact, "channel": rng.choice(["chat", "sms"])}
                offer["taken"] = True
            key = (customer, family)
            episode_id, closes = open_episode.get(key, (None, None))
            if episode_id is None or closes is None or at > closes:
                episode_id = f"ep_{next(ids):012x}"
                _episode(buffers, rng, next(ids), episode_id, customer, family, intent, contact, at)
            open_episode[key] = (episode_id, at + WINDOW)
            inbox_id = next(ids)
            payload: dict[str, Any] = {
                "event_id": f"e{inbox_id}",
                "source": "bench",
                "occurred_at": at.isoformat(),
                "channel": contact["channel"],
                "customer": {"phone": "+14155550100"},
                "intent": intent,
                "outcome": contact["outcome"],
            }
            if contact.get("handled_by"):
                payload["handled_by"] = contact["handled_by"]
            if offer is not None and offer.get("taken") and "episode" not in offer:
                offer["episode"] = episode_id
                payload["metadata"] = {"deflection_id": offer["jti"]}
            linked = linked_at or at + timedelta(seconds=rng.randrange(1, 30))
            row = (inbox_id, "bench", f"e{inbox_id}", at, json.dumps(payload), "linked", 1, at,
                   customer, episode_id, "BENCH", linked)  # fmt: skip
            written += 1
            if buffers.add("inbox", row) and progress is not None:
                progress(written, events)
        if offer is not None:
            decided = offer["decided_at"]
            buffers.add(
                "deflection_decisions",
                (offer["jti"], decided, intent, customer, None, "deflect", "{}", OFFERS,
                 decided + timedelta(minutes=15)),
            )  # fmt: skip
    buffers.flush()
    if progress is not None:
        progress(written, events)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in (
                "inbox",
                "deflection_decisions",
                "recovery_plans",
                "recovery_attempts",
                "sla_actions",
            ):
                sequence = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                connection.execute(text(sequence + f"(SELECT coalesce(max(id), 1) FROM {table}))"))  # noqa: S608
            connection.execute(text("ANALYZE"))
    return written


def _episode(
    buffers: Buffers,
    rng: random.Random,
    plan_id: int,
    episode_id: str,
    customer: str,
    family: str,
    intent: str,
    contact: dict[str, Any],
    at: datetime,
) -> None:
    """A new episode, its Zendesk ticket, and now and then an SLA breach, a duplicate, a recovery."""
    buffers.add("episodes", (episode_id, customer, family, intent, "closed", at, at, at + WINDOW))
    buffers.add("episode_cases", (episode_id, "zendesk", "ticket", f"t{episode_id[3:]}", True, at))
    if rng.random() < 0.06:
        buffers.add(
            "sla_actions",
            (episode_id, "first_reply_time", 1, "breach", f"sla_{episode_id}", at + timedelta(hours=2)),
        )
    if rng.random() < 0.01:
        buffers.add(
            "dedup_links",
            ("zendesk", f"dup{episode_id[3:]}", f"t{episode_id[3:]}", "bench", at + timedelta(days=1)),
        )
    if contact["outcome"] in FAILED and rng.random() < 0.5:
        recovered = rng.random() < 0.35
        buffers.add(
            "recovery_plans",
            (plan_id, f"rt_{plan_id:032d}", episode_id, customer, "bench", f"p{plan_id}", contact["channel"],
             "billing", contact["outcome"], at, "done", at, at + timedelta(hours=3),
             "customer_came_back" if recovered else "exhausted"),
        )  # fmt: skip
        status = rng.choices(["sent", "blocked", "cancelled", "failed"], [70, 15, 10, 5])[0]
        reason = (
            rng.choice(["quiet_hours", "no_consent", "customer_came_back"])
            if status in ("blocked", "cancelled")
            else None
        )
        touched = at + timedelta(hours=1) if status in ("sent", "failed") else None
        buffers.add(
            "recovery_attempts",
            (plan_id, f"rc_{plan_id:032d}", plan_id, episode_id, customer, 0, "sms", "sms", "+14155550100",
             at + timedelta(hours=1), at + timedelta(hours=1), status, reason, touched, at),
        )  # fmt: skip
