"""Agent panel benchmark: assembling one case's panel with a million events stored.

Usage: .venv/bin/python bench/panel.py --backend both --events 1000000

For each backend (a fresh SQLite file in a temporary directory, or a fresh PostgreSQL database
``bench_panel_<random>`` dropped at the end), the script migrates the schema and fills the real
tables in bulk (SQLite ``executemany``, PostgreSQL ``COPY``): ``--events`` events (default
1,000,000) from ``events / 5`` customers, each customer with a phone and an email, two episodes of
different problems, each episode with its Zendesk ticket, every event with its inbox row (the
accepted JSON, a transcript included), its CRM links and its SLA history entry, and a recovery plan
for every failed event.

Then it assembles the panel of ``--samples`` random tickets (default 300, after 20 warm-up reads)
with ``PanelService.for_record`` (customer, episodes, trail, SLA clocks derived from the history
as ``ctihub sla explain`` does, recovery, parallel cases, the live version) and prints p50, p95,
p99 and max, and the same for the live poll (``PanelService.version``). Target: p99 < 50 ms. The
indexes that make it so are migration 0012's (``ix_episode_cases_record``, ``ix_inbox_episode``, ...);
there is no cache.

Options (defaults): ``--backend both --events 1000000 --samples 300``
``--postgres-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres``. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # works before `pip install -e .` too
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, create_engine, text  # noqa: E402

from bench.bulk import Buffers  # noqa: E402
from hub.domain.identity import customer_key_for, external  # noqa: E402
from hub.mappings import load_mappings  # noqa: E402
from hub.services.clock import FixedClock  # noqa: E402
from hub.services.panel import PanelService  # noqa: E402
from hub.services.sla import SlaService  # noqa: E402
from hub.store import migrate  # noqa: E402
from hub.store.db import make_engine  # noqa: E402

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
BATCH = 20_000
CHANNELS = ("chat", "sms", "self_service")
OUTCOMES = ("resolved", "abandoned", "failed", "no_response")
DISPOSITIONS = {
    ("chat", "resolved"): "CHAT_RESOLVED",
    ("chat", "abandoned"): "CHAT_ABANDONED",
    ("chat", "failed"): "CHAT_ABANDONED",
    ("chat", "no_response"): "CHAT_ABANDONED",
    ("sms", "resolved"): "SMS_RESOLVED",
    ("sms", "abandoned"): "SMS_NO_RESPONSE",
    ("sms", "failed"): "SMS_NO_RESPONSE",
    ("sms", "no_response"): "SMS_NO_RESPONSE",
    ("self_service", "resolved"): "SS_RESOLVED",
    ("self_service", "abandoned"): "SS_ABANDONED",
    ("self_service", "failed"): "SS_FAILED",
    ("self_service", "no_response"): "SS_ABANDONED",
}
INTENTS = (("billing", "billing"), ("order_status", "order_status"))
TRANSCRIPT = [
    {"from": "customer", "text": "Hello, I was charged twice for my October invoice."},
    {"from": "bot", "text": "I am sorry to hear that. Can you confirm the last four digits of the card?"},
    {"from": "customer", "text": "It ends in 4242."},
    {"from": "bot", "text": "Thank you. Let me get someone who can look at the charge."},
]

TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("key", "name", "created_at"),
    "customer_identifiers": ("kind", "value", "raw", "valid", "customer_key", "first_seen_at"),
    "episodes": (
        "id", "customer_key", "intent_family", "intent", "status", "opened_at", "last_event_at", "closes_at",
    ),
    "episode_cases": ("episode_id", "crm", "object", "case_id", "created_by_hub", "linked_at"),
    "inbox": (
        "id", "source", "event_id", "received_at", "payload", "status", "attempts", "next_attempt_at",
        "customer_key", "episode_id", "disposition", "linked_at",
    ),
    "event_links": (
        "inbox_id", "crm", "case_object", "case_id", "case_created", "activity_object", "activity_id",
        "activity_created", "linked_at",
    ),
    "sla_events": ("id", "episode_id", "kind", "at", "public", "channel", "intent", "priority", "crm",
                   "event_key", "recorded_at"),
    "recovery_plans": (
        "id", "trigger_key", "episode_id", "customer_key", "source", "event_id", "channel", "intent",
        "outcome", "occurred_at", "phone", "status", "recorded_at",
    ),
}  # fmt: skip


def seed(engine: Engine, events: int, rng: random.Random) -> tuple[float, list[str]]:
    """Fill the tables; returns the seconds it took and the ticket ids."""
    started = time.perf_counter()
    customers = max(1, events // 5)
    buffers = Buffers(engine, TABLES, BATCH)
    inbox_id = sla_id = plan_id = 0
    tickets: list[str] = []
    for n in range(customers):
        phone = f"+1415{n:07d}"
        email = f"customer{n}@example.com"
        key = customer_key_for(external("bench", str(n)))
        buffers.add("customers", (key, f"Customer {n}", NOW))
        buffers.add("customer_identifiers", ("phone", phone, phone, True, key, NOW))
        buffers.add("customer_identifiers", ("email", email, email, True, key, NOW))
        # five events per customer, over two episodes (two problems)
        counts = (3, 2) if n % 2 else (2, 3)
        for index, (intent, family) in enumerate(INTENTS):
            episode = f"ep_{n:08d}_{index}"
            opened = NOW - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 600))
            ticket = str(2 * n + index + 1)
            tickets.append(ticket)
            last = opened
            for step in range(counts[index]):
                inbox_id += 1
                sla_id += 1
                at = opened + timedelta(minutes=35 * step)
                last = at
                channel = CHANNELS[(n + step) % 3]
                outcome = OUTCOMES[(n + step + index) % 4]
                payload = {
                    "event_id": f"e{inbox_id}",
                    "source": "bench",
                    "occurred_at": at.isoformat().replace("+00:00", "Z"),
                    "channel": channel,
                    "direction": "inbound",
                    "customer": {"phone": phone, "email": email, "name": f"Customer {n}"},
                    "intent": intent,
                    "outcome": outcome,
                    "summary": f"Contact {step + 1} about {intent.replace('_', ' ')}.",
                    "transcript": TRANSCRIPT,
                }
                disposition = DISPOSITIONS[(channel, outcome)]
                buffers.add(
                    "inbox",
                    (inbox_id, "bench", f"e{inbox_id}", at, json.dumps(payload), "linked", 1, at, key,
                     episode, disposition, at),
                )  # fmt: skip
                buffers.add(
                    "event_links",
                    (inbox_id, "zendesk", "ticket", ticket, step == 0, "comment", f"c{inbox_id}", True, at),
                )
                buffers.add(
                    "sla_events",
                    (sla_id, episode, "customer_message", at, True, channel, intent, "normal", "zendesk",
                     f"bench:e{inbox_id}", at),
                )  # fmt: skip
                if outcome == "failed":
                    plan_id += 1
                    buffers.add(
                        "recovery_plans",
                        (plan_id, f"rt_{inbox_id:032d}", episode, key, "bench", f"e{inbox_id}", channel,
                         intent, outcome, at, phone, "cancelled", at),
                    )  # fmt: skip
            status = "open" if (NOW - last) < timedelta(days=3) else "closed"
            buffers.add(
                "episodes", (episode, key, family, intent, status, opened, last, last + timedelta(hours=72))
            )
            buffers.add("episode_cases", (episode, "zendesk", "ticket", ticket, True, opened))
    buffers.flush()
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in TABLES:
                connection.execute(text(f"ANALYZE {table}"))
            for table in ("inbox", "sla_events", "recovery_plans"):
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (our names)
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
    # SQLite: no ANALYZE, as the embedded hub never runs one. (With its statistics, SQLite scans
    # sla_events for the SLA merge lookup, because merged_into is NULL on nearly every row.)
    return time.perf_counter() - started, tickets


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": statistics.median(ordered),
        "p95": at(0.95),
        "p99": at(0.99),
        "max": ordered[-1],
    }


def measure(engine: Engine, tickets: list[str], samples: int, rng: random.Random) -> dict[str, Any]:
    mappings = load_mappings(ROOT / "mappings")
    clock = FixedClock(NOW)
    panel = PanelService(
        engine=engine,
        catalog=mappings.catalog,
        clock=clock,
        sla=SlaService(engine=engine, config=mappings.sla, clock=clock),
        crm_name="zendesk",
        crm_settings={"subdomain": "bench"},
    )
    picks = [rng.choice(tickets) for _ in range(samples + 20)]
    for ticket in picks[:20]:  # warm-up: connections, statement caches
        panel.for_record("zendesk", ticket, time_zone="America/New_York")
    assembled: list[float] = []
    cpu: list[float] = []
    polled: list[float] = []
    trail = 0
    for ticket in picks[20:]:
        started, started_cpu = time.perf_counter(), time.process_time()
        body = panel.for_record("zendesk", ticket, time_zone="America/New_York")
        assembled.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert body["found"], ticket
        trail += len(body["trail"])
        started = time.perf_counter()
        panel.version("zendesk", ticket)
        polled.append((time.perf_counter() - started) * 1000)
    return {
        "assemble_ms": percentiles(assembled),
        "assemble_cpu_ms": percentiles(cpu),  # this process's CPU: the cost without the machine's load
        "version_ms": percentiles(polled),
        "mean_trail": trail / samples,
    }


@contextlib.contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        migrate.upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()


@contextlib.contextmanager
def postgres_engine(admin_url: str) -> Iterator[Engine]:
    name = f"bench_panel_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    import os

    rng = random.Random(args.seed)
    load_before = os.getloadavg()[0]
    opener = sqlite_engine() if backend == "sqlite" else postgres_engine(args.postgres_admin_url)
    with opener as engine:
        seconds, tickets = seed(engine, args.events, rng)
        figures = measure(engine, tickets, args.samples, rng)
    return {
        "backend": backend,
        "events": args.events,
        "customers": max(1, args.events // 5),
        "tickets": len(tickets),
        "seed_seconds": round(seconds, 1),
        "samples": args.samples,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],  # 2 shared cores here
        **figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    for backend in backends:
        result = run(backend, args)
        a, v, c = result["assemble_ms"], result["version_ms"], result["assemble_cpu_ms"]
        print(
            f"{backend:<10} {result['events']:>9} events {result['customers']:>7} customers "
            f"seeded in {result['seed_seconds']} s | panel p50 {a['p50']:.1f} ms p95 {a['p95']:.1f} ms "
            f"p99 {a['p99']:.1f} ms max {a['max']:.1f} ms | "
            f"version p50 {v['p50']:.2f} ms p99 {v['p99']:.2f} ms | "
            f"panel CPU p50 {c['p50']:.1f} ms p99 {c['p99']:.1f} ms "
            f"| {result['samples']} tickets, {result['mean_trail']:.1f} events each"
        )
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
