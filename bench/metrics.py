"""Deflection metrics at scale: generate N linked events over 90 days, build the rollup, measure.

    .venv/bin/python bench/metrics.py --events 1000000 --backend sqlite --backend postgresql

For each backend it (1) bulk-inserts a realistic history (``bench/metrics_history.py``: customers,
episodes, linked inbox rows with their payloads, cases, deflection offers, SLA breaches, dedup
links, recovery plans and attempts), (2) builds the metrics rollup from scratch (what the first
scheduler tick does), (3) times an idle tick (nothing new) and an incremental tick after
``--new-events`` more events were linked, (4) measures ``GET /v1/metrics/deflection`` for 30-day
ranges (p50/p95/p99 over ``--queries`` requests through the Flask app: routing, auth, JSON
included), (5) the ``GET /metrics`` scrape and (6) the ``/dashboard`` page (30 days, every chart).
Progress and each phase's time go to stderr as they happen; one JSON line per backend to stdout.
The generation's time grows linearly with N (the first progress lines give its rate).

``seed_history`` (re-exported here) is also what the dashboard's browser test and screenshot use.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.metrics_history import seed_history  # noqa: E402

__all__ = ["seed_history"]
TARGETS = {"api_p95_ms": 300, "scrape_ms": 100}  # issue 12


def say(message: str) -> None:
    load = os.getloadavg()[0]
    print(f"[{time.strftime('%H:%M:%S')} load {load:4.1f}] {message}", file=sys.stderr, flush=True)


class Progress:
    """``progress(done, total)`` that prints at most every ``every`` seconds, with rate and ETA."""

    def __init__(self, what: str, every: float = 10.0) -> None:
        self.what, self.every = what, every
        self.started = self.last = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = (total - done) / rate if rate else 0.0
        say(f"{self.what}: {done:,}/{total:,} ({rate:,.0f}/s, about {left:,.0f} s left)")


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


def _timed(get: Any, paths: list[str], headers: dict[str, str]) -> list[float]:
    samples = []
    for path in paths:
        started = time.perf_counter()
        answer = get(path, headers=headers)
        samples.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return samples


FILL = """
from hub.services import telemetry
from hub.services.telemetry import CRM_OPERATIONS
i = telemetry.instruments()
for result, reason in (("accepted", ""), ("duplicate", ""), ("rejected", "validation_failed")):
    i.events.labels(result, reason).inc()
for source in ("twilio-sms", "zendesk", "sunshine", "salesforce-outbound"):
    for result in ("accepted", "signature_failed"):
        i.webhooks.labels(source, result).inc()
for system in ("zendesk", "salesforce"):
    for operation in CRM_OPERATIONS:
        for result in ("ok", "retry", "error"):
            i.crm_requests.labels(system, operation, result).inc()
        i.crm_seconds.labels(system, operation).observe(0.3)
    i.quota_pauses.labels(system).inc()
i.link_seconds.observe(0.2)
for reason in ("record_rejected", "retries_exhausted"):
    i.dead_letters.labels(reason).inc()
"""
SCRAPE = """
import json, sys, time
from datetime import datetime
from hub.services.scrape import exposition
from hub.store.db import make_engine
engine = make_engine(sys.argv[1])
at = datetime.fromisoformat(sys.argv[3])  # the bench's clock: the rollup tick's snapshot is fresh
now = lambda: at
for _ in range(3):
    exposition(engine, now)
samples = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    exposition(engine, now)
    samples.append(time.perf_counter() - started)
print(json.dumps(samples))
"""


def multiprocess_scrape(url: str, processes: int, scrapes: int, now: datetime) -> dict[str, float]:
    """``exposition()`` in multiprocess mode, with ``processes`` processes' files in the directory
    (each process having used every instrument and label a hub uses): what one gunicorn worker's
    scrape costs on top of the database figures."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": folder}
        for _ in range(processes):
            subprocess.run([sys.executable, "-c", FILL], env=env, cwd=ROOT, check=True, timeout=300)
        done = subprocess.run(
            [sys.executable, "-c", SCRAPE, url, str(scrapes), now.isoformat()],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    return _percentiles(json.loads(done.stdout))


def run(url: str, args: argparse.Namespace) -> dict[str, Any]:
    from hub.bootstrap import build_hub
    from hub.services.clock import FixedClock
    from hub.settings import Settings
    from hub.store import migrate
    from hub.store.db import make_engine
    from hub.web import create_app
    from hub.web.session import Principal, sign_in
    from tests.fakes import FakeCRM

    engine = make_engine(url)
    migrate.upgrade(engine)
    backend = engine.dialect.name
    loads = [round(os.getloadavg()[0], 1)]
    end = datetime(2026, 12, 6, tzinfo=UTC)
    say(f"{backend}: generating {args.events:,} events over 90 days")
    started = time.perf_counter()
    written = seed_history(engine, events=args.events, end=end, progress=Progress(f"{backend} generate"))
    seeded = time.perf_counter() - started
    say(f"{backend}: generated {written:,} events in {seeded:,.1f} s")
    clock = FixedClock(end + timedelta(hours=1))
    secrets = {  # throwaway
        "webhook_secret": "s",
        "api_token": "bench-token",
        "metrics_token": "scrape",
        "session_secret": "bench-session-secret-0123456789abcdef",
    }
    settings = Settings(database_url=url, mappings_dir=ROOT / "mappings", **secrets)
    hub = build_hub(settings, clock=clock, crm=FakeCRM(), engine=engine)
    started = time.perf_counter()
    first = hub.deflection_rollup().tick(progress=Progress(f"{backend} rollup build"))
    rollup_seconds = time.perf_counter() - started
    say(f"{backend}: rollup built from scratch in {rollup_seconds:,.1f} s ({first.pairs:,} customers' pairs)")
    loads.append(round(os.getloadavg()[0], 1))
    clock.advance(minutes=1)
    started = time.perf_counter()
    hub.deflection_rollup().tick()
    idle_tick = time.perf_counter() - started
    say(f"{backend}: idle tick {idle_tick * 1000:,.0f} ms")
    clock.advance(minutes=1)  # new events, linked now (after the watermark), about the last day
    seed_history(engine, events=args.new_events, days=1, end=clock.now() - timedelta(minutes=30), seed=11,
                 first_id=10**11, customer_prefix="new", linked_at=clock.now())  # fmt: skip
    started = time.perf_counter()
    tick = hub.deflection_rollup().tick()
    incremental = time.perf_counter() - started
    say(
        f"{backend}: tick after {args.new_events:,} new events {incremental * 1000:,.0f} ms "
        f"({tick.pairs:,} pairs)"
    )
    app = create_app(hub=hub)

    @app.post("/bench/sign-in")
    def _sign_in() -> str:  # bench-only door, as the tests have: the dashboard needs a session
        sign_in(Principal(subject="bench:ops", name="Bench", crm="zendesk", roles=frozenset({"operations"})))
        return "ok"

    client = app.test_client()
    rng = random.Random(3)
    auth = {"Authorization": "Bearer bench-token"}
    paths = []
    for n in range(args.queries):
        last = end.date() - timedelta(days=rng.randrange(0, 60))
        group = ["", "&group_by=day", "&group_by=channel", "&group_by=intent"][n % 4]
        paths.append(f"/v1/metrics/deflection?from={last - timedelta(days=29)}&to={last}{group}")
    _timed(client.get, paths[:10], auth)  # warm-up: connections, statement caches
    api = _timed(client.get, paths, auth)
    say(f"{backend}: API 30 days {_percentiles(api)}")
    scrape_auth = {"Authorization": "Bearer scrape"}
    _timed(client.get, ["/metrics"] * 5, scrape_auth)
    scrape = _timed(client.get, ["/metrics"] * args.scrapes, scrape_auth)
    say(f"{backend}: /metrics {_percentiles(scrape)}")
    assert client.post("/bench/sign-in").status_code == 200
    dashboard = _timed(client.get, ["/dashboard"] * (args.pages + 2), {})[2:]
    say(f"{backend}: /dashboard {_percentiles(dashboard)}")
    multiprocess = {}
    for processes in args.multiprocess:
        multiprocess[processes] = multiprocess_scrape(url, processes, args.scrapes, clock.now())
        say(f"{backend}: exposition() with {processes} processes' files {multiprocess[processes]}")
    loads.append(round(os.getloadavg()[0], 1))
    totals = client.get(
        f"/v1/metrics/deflection?from={end.date() - timedelta(days=29)}&to={end.date()}", headers=auth
    ).json["totals"]
    with engine.connect() as connection:
        inquiries = connection.execute(text("SELECT count(*) FROM metric_inquiries")).scalar()
        daily = connection.execute(text("SELECT count(*) FROM metric_daily")).scalar()
    engine.dispose()
    return {
        "backend": backend,
        "events": written,
        "inquiries": inquiries,
        "daily_rows": daily,
        "seed_seconds": round(seeded, 1),
        "rollup_build_seconds": round(rollup_seconds, 1),
        "rollup_contacts_read": first.contacts,
        "idle_tick_ms": round(idle_tick * 1000, 1),
        "new_events": args.new_events,
        "incremental_tick_ms": round(incremental * 1000, 1),
        "api_30_day_ms": _percentiles(api),
        "scrape_ms": _percentiles(scrape),
        "dashboard_ms": _percentiles(dashboard),
        "multiprocess_exposition_ms": multiprocess,
        "targets_ms": TARGETS,
        "queries": args.queries,
        "scrapes": args.scrapes,
        "load_average": loads,  # before, after the build, at the end (2 shared cores here)
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
    parser.add_argument("--new-events", type=int, default=1000, help="Events linked before the timed tick.")
    parser.add_argument("--queries", type=int, default=200, help="30-day API requests to time.")
    parser.add_argument("--scrapes", type=int, default=100, help="/metrics scrapes to time.")
    parser.add_argument("--pages", type=int, default=20, help="/dashboard pages to time.")
    parser.add_argument(
        "--multiprocess",
        type=int,
        action="append",
        default=None,
        help="Also time the scrape in multiprocess mode with this many processes' files (repeatable).",
    )
    parser.add_argument("--sqlite-path", default="var/bench-metrics.db")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    args.multiprocess = args.multiprocess or []
    logging.basicConfig(format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("hub.services.deflection_rollup").setLevel(logging.DEBUG)  # chunk progress
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
            print(json.dumps(run(url, args)), flush=True)
        finally:
            if backend == "postgresql":
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


if __name__ == "__main__":
    main()
