"""Deflection metrics at scale: generate N linked events over 90 days, build the rollup, measure.

    .venv/bin/python bench/metrics.py --events 1000000 --backend sqlite --backend postgresql

For each backend it (1) bulk-inserts a realistic history (customers, episodes, linked inbox rows with
their payloads, cases, deflection offers, SLA breaches, dedup links, recovery plans and attempts),
(2) builds the metrics rollup from scratch (what the first scheduler tick does), (3) times a
second, incremental tick with nothing new, (4) measures ``GET /v1/metrics/deflection`` for 30-day
ranges (p50/p95/p99 over ``--queries`` requests through the Flask app: routing, auth, JSON
included) and (5) the ``GET /metrics`` scrape. Prints one JSON line per backend.

``seed_history`` is also what the dashboard's browser test and screenshot use (with small N).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.store.dedup_tables import dedup_links  # noqa: E402
from hub.store.deflection_tables import deflection_decisions  # noqa: E402
from hub.store.recovery_tables import recovery_attempts, recovery_plans  # noqa: E402
from hub.store.sla_tables import sla_actions  # noqa: E402
from hub.store.tables import customers, episode_cases, episodes, inbox  # noqa: E402

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
BATCH = 5000


@dataclass
class Buffers:
    engine: Engine
    rows: dict[str, list[dict[str, Any]]]

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)
        if len(self.rows[table]) >= BATCH:
            self.flush()  # every table, parents first (foreign keys)

    def flush(self, table: str | None = None) -> None:
        tables = {
            t.name: t
            for t in (
                customers,
                episodes,
                inbox,
                episode_cases,
                deflection_decisions,
                sla_actions,
                dedup_links,
                recovery_plans,
                recovery_attempts,
            )
        }
        order = [
            "customers",
            "episodes",
            "inbox",
            "episode_cases",
            "deflection_decisions",
            "sla_actions",
            "dedup_links",
            "recovery_plans",
            "recovery_attempts",
        ]
        for name in [table] if table else order:
            batch = self.rows.get(name) or []
            if batch:
                with self.engine.begin() as connection:
                    connection.execute(insert(tables[name]), batch)
                self.rows[name] = []


def _problems(rng: random.Random, end: datetime, days: int) -> Iterator[tuple[str, str, datetime]]:
    """(customer, intent, first contact) for each new problem, busier on weekdays and by day."""
    customers_pool = 0
    while True:
        offset = rng.random() * days
        at = end - timedelta(days=offset)
        if at.weekday() >= 5 and rng.random() < 0.4:
            continue
        at = at.replace(
            hour=rng.choice([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]), minute=rng.randrange(60)
        )
        if rng.random() < 0.7 or customers_pool == 0:
            customers_pool += 1
            customer = f"cus_{customers_pool:09d}"
        else:
            customer = f"cus_{rng.randrange(1, customers_pool + 1):09d}"
        yield customer, rng.choice(list(INTENTS)), at


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
            found.append(
                {
                    "channel": "chat",
                    "outcome": "resolved",
                    "at": first_at + timedelta(minutes=8),
                    "handled_by": "agent",
                }
            )
    else:
        outcome = rng.choices(["resolved", "failed", "no_response", "in_progress"], [70, 10, 10, 10])[0]
        found.append({"channel": channel, "outcome": outcome, "at": first_at})
    return found


def seed_history(
    engine: Engine, *, events: int, days: int = 90, end: datetime | None = None, seed: int = 7
) -> int:
    """Bulk-insert at least ``events`` linked events over ``days`` days ending at ``end``."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    buffers = Buffers(engine, {})
    seen_customers: set[str] = set()
    open_episode: dict[tuple[str, str], tuple[str, datetime]] = {}
    written = 0
    ids = iter(range(1, 10**12))
    for customer, intent, first_at in _problems(rng, end, days):
        if written >= events:
            break
        family = INTENTS[intent]
        if customer not in seen_customers:
            seen_customers.add(customer)
            buffers.add("customers", {"key": customer, "created_at": first_at})
        offer = None
        if rng.random() < 0.08:  # a voice caller offered chat or SMS first
            offer = {"jti": uuid.uuid4().hex, "decided_at": first_at - timedelta(minutes=2)}
        for contact in _contacts(rng, first_at):
            at = contact["at"]
            if offer is not None and contact is not None and rng.random() < 0.6:
                contact = {**contact, "channel": rng.choice(["chat", "sms"])}
                offer["taken"] = True
            key = (customer, family)
            episode_id, closes = open_episode.get(key, (None, None))
            if episode_id is None or closes is None or at > closes:
                episode_id = f"ep_{next(ids):012x}"
                buffers.add(
                    "episodes",
                    {
                        "id": episode_id,
                        "customer_key": customer,
                        "intent_family": family,
                        "intent": intent,
                        "status": "closed",
                        "opened_at": at,
                        "last_event_at": at,
                        "closes_at": at + WINDOW,
                    },
                )
                buffers.add(
                    "episode_cases",
                    {
                        "episode_id": episode_id,
                        "crm": "zendesk",
                        "object": "ticket",
                        "case_id": f"t{episode_id[3:]}",
                        "created_by_hub": True,
                        "linked_at": at,
                    },
                )
                if rng.random() < 0.06:
                    buffers.add(
                        "sla_actions",
                        {
                            "episode_id": episode_id,
                            "metric": "first_reply_time",
                            "instance": 1,
                            "kind": "breach",
                            "key": f"sla_{episode_id}",
                            "created_at": at + timedelta(hours=2),
                        },
                    )
                if rng.random() < 0.01:
                    buffers.add(
                        "dedup_links",
                        {
                            "crm": "zendesk",
                            "duplicate_id": f"dup{episode_id[3:]}",
                            "master_id": f"t{episode_id[3:]}",
                            "plan_id": "bench",
                            "linked_at": at + timedelta(days=1),
                        },
                    )
                if contact["outcome"] in ("failed", "abandoned", "no_response") and rng.random() < 0.5:
                    _recovery(buffers, rng, next(ids), episode_id, customer, contact, at)
            open_episode[key] = (episode_id, at + WINDOW)
            inbox_id = next(ids)
            payload = {
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
            linked = at + timedelta(seconds=rng.randrange(1, 30))
            buffers.add(
                "inbox",
                {
                    "id": inbox_id,
                    "source": "bench",
                    "event_id": f"e{inbox_id}",
                    "received_at": at,
                    "payload": json.dumps(payload),
                    "status": "linked",
                    "attempts": 1,
                    "next_attempt_at": at,
                    "customer_key": customer,
                    "episode_id": episode_id,
                    "disposition": "BENCH",
                    "linked_at": linked,
                },
            )
            written += 1
        if offer is not None:
            offers = {
                "offers": [
                    {"rank": 1, "channel": "chat"},
                    {"rank": 2, "channel": "sms"},
                    {"rank": 3, "channel": "voice"},
                ]
            }
            buffers.add(
                "deflection_decisions",
                {
                    "jti": offer["jti"],
                    "decided_at": offer["decided_at"],
                    "intent": intent,
                    "customer_key": customer,
                    "episode_id": None,
                    "mode": "deflect",
                    "inputs": "{}",
                    "offers": json.dumps(offers),
                    "token_expires_at": offer["decided_at"] + timedelta(minutes=15),
                },
            )
    buffers.flush()
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
                connection.execute(text(sequence + f"(SELECT max(id) FROM {table}))"))  # noqa: S608
            connection.execute(text("ANALYZE"))
    return written


def _recovery(
    buffers: Buffers,
    rng: random.Random,
    plan_id: int,
    episode_id: str,
    customer: str,
    contact: dict[str, Any],
    at: datetime,
) -> None:
    recovered = rng.random() < 0.35
    buffers.add(
        "recovery_plans",
        {
            "id": plan_id,
            "trigger_key": f"rt_{plan_id:032d}",
            "episode_id": episode_id,
            "customer_key": customer,
            "source": "bench",
            "event_id": f"p{plan_id}",
            "channel": contact["channel"],
            "intent": "billing",
            "outcome": contact["outcome"],
            "occurred_at": at,
            "status": "done",
            "recorded_at": at,
            "closed_at": at + timedelta(hours=3),
            "close_reason": "customer_came_back" if recovered else "exhausted",
        },
    )
    status = rng.choices(["sent", "blocked", "cancelled", "failed"], [70, 15, 10, 5])[0]
    buffers.add(
        "recovery_attempts",
        {
            "id": plan_id,
            "key": f"rc_{plan_id:032d}",
            "plan_id": plan_id,
            "episode_id": episode_id,
            "customer_key": customer,
            "step": 0,
            "action": "sms",
            "channel": "sms",
            "address": "+14155550100",
            "planned_for": at + timedelta(hours=1),
            "due_at": at + timedelta(hours=1),
            "status": status,
            "reason": rng.choice(["quiet_hours", "no_consent", "customer_came_back"])
            if status in ("blocked", "cancelled")
            else None,
            "touched_at": at + timedelta(hours=1) if status in ("sent", "failed") else None,
            "created_at": at,
        },
    )


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50": at(0.5),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": round(ordered[-1] * 1000, 2),
        "mean": round(statistics.fmean(ordered) * 1000, 2),
    }


def run(url: str, events: int, queries: int, scrapes: int) -> dict[str, Any]:
    from hub.bootstrap import build_hub
    from hub.services.clock import FixedClock
    from hub.settings import Settings
    from hub.store import migrate
    from hub.store.db import make_engine
    from hub.web import create_app
    from tests.fakes import FakeCRM

    engine = make_engine(url)
    migrate.upgrade(engine)
    end = datetime(2026, 12, 6, tzinfo=UTC)
    started = time.perf_counter()
    written = seed_history(engine, events=events, end=end)
    seeded = time.perf_counter() - started
    clock = FixedClock(end + timedelta(hours=1))
    secrets = {"webhook_secret": "s", "api_token": "bench-token", "metrics_token": "scrape"}  # throwaway
    settings = Settings(database_url=url, mappings_dir=ROOT / "mappings", **secrets)
    hub = build_hub(settings, clock=clock, crm=FakeCRM(), engine=engine)
    started = time.perf_counter()
    first = hub.deflection_rollup().tick()
    rollup_seconds = time.perf_counter() - started
    clock.advance(minutes=1)
    started = time.perf_counter()
    hub.deflection_rollup().tick()
    idle_tick = time.perf_counter() - started
    client = create_app(hub=hub).test_client()
    rng = random.Random(3)
    api, scrape = [], []
    auth = {"Authorization": "Bearer bench-token"}
    for n in range(queries):
        last = end.date() - timedelta(days=rng.randrange(0, 60))
        first_day = last - timedelta(days=29)
        group = ["", "&group_by=day", "&group_by=channel", "&group_by=intent"][n % 4]
        started = time.perf_counter()
        answer = client.get(f"/v1/metrics/deflection?from={first_day}&to={last}{group}", headers=auth)
        api.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    for _ in range(scrapes):
        started = time.perf_counter()
        answer = client.get("/metrics", headers={"Authorization": "Bearer scrape"})
        scrape.append(time.perf_counter() - started)
        assert answer.status_code == 200
    totals = client.get(
        f"/v1/metrics/deflection?from={end.date() - timedelta(days=29)}&to={end.date()}", headers=auth
    ).json["totals"]
    with engine.connect() as connection:
        inquiries = connection.execute(text("SELECT count(*) FROM metric_inquiries")).scalar()
        daily = connection.execute(text("SELECT count(*) FROM metric_daily")).scalar()
    engine.dispose()
    return {
        "backend": engine.dialect.name,
        "events": written,
        "inquiries": inquiries,
        "daily_rows": daily,
        "seed_seconds": round(seeded, 1),
        "rollup_build_seconds": round(rollup_seconds, 1),
        "rollup_contacts_read": first.contacts,
        "idle_tick_ms": round(idle_tick * 1000, 1),
        "api_30_day_ms": _percentiles(api),
        "scrape_ms": _percentiles(scrape),
        "queries": queries,
        "scrapes": scrapes,
        "last_30_days": {
            k: totals[k]
            for k in (
                "inquiries",
                "deflection_rate",
                "recontact_adjusted_deflection_rate",
                "containment_rate",
                "recontact_rate",
                "pending",
            )
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="How many events to store (default 1,000,000)."
    )
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgresql"], help="Repeatable.")
    parser.add_argument("--queries", type=int, default=200, help="30-day API requests to time.")
    parser.add_argument("--scrapes", type=int, default=100, help="/metrics scrapes to time.")
    parser.add_argument("--sqlite-path", default="var/bench-metrics.db")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    for backend in args.backend or ["sqlite"]:
        if backend == "sqlite":
            path = Path(args.sqlite_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            for leftover in path.parent.glob(f"{path.name}*"):
                leftover.unlink()
            url = f"sqlite:///{path}"
        else:
            name = f"ctihub_bench_metrics_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            print(json.dumps(run(url, args.events, args.queries, args.scrapes)), flush=True)
        finally:
            if backend == "postgresql":
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
