"""Recovery tick benchmark: a tick's cost follows the attempts due, not the attempts stored.

Usage: .venv/bin/python bench/recovery_tick.py --backend both

For each backend (a fresh SQLite file in a temporary directory, or a fresh PostgreSQL database
``bench_recovery_<random>`` dropped at the end) and each stored size (``--stored``, default 100,000
and 1,000,000 plans, each with its live attempt), the script inserts the plans in batches (SQLite
``executemany``, PostgreSQL ``COPY``) of which ``--due`` (default 10,000: 1 % of a million) are due
now, the rest due over the next 30 days. The due ones are real: an open episode, a customer, SMS
consent in the ledger, a New York number at 11:00 local on a Monday, so each passes every guard and
is sent (to a sender that does nothing) and recorded, with its CRM note in the outbox.

Then it runs ``RecoveryService.run_due`` until nothing is due and prints, per backend and size:
the time to claim, check and send everything due, the time per 1,000 due, and the time of a tick
with nothing due (the cost of looking). Equal figures at 100k and 1M stored show the tick is O(due):
the claim reads the partial index ``ix_recovery_attempts_due`` (pending only, by due time); on
PostgreSQL the claim's plan is printed (EXPLAIN) to show it.

Options (defaults): ``--backend both --stored 100000,1000000 --due 10000 --batch 100``
``--postgres-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres``.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import secrets
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

from hub.domain.recovery import Policy, RecoveryConfig, Step  # noqa: E402
from hub.ports import SmsMessage, SmsReceipt  # noqa: E402
from hub.services.clock import FixedClock  # noqa: E402
from hub.services.recovery import RecoveryService, RecoverySettings, TickReport  # noqa: E402
from hub.store import migrate  # noqa: E402
from hub.store.db import make_engine  # noqa: E402

NOW = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday 11:00 in New York
POLICY = Policy("bench", ("failed",), (Step("sms", timedelta(minutes=10)),), channels=("self_service",))
STEPS = json.dumps(POLICY.as_dict())
BATCH = 20_000

PLAN_COLUMNS = (
    "id", "trigger_key", "episode_id", "customer_key", "source", "event_id", "channel", "intent", "outcome",
    "occurred_at", "phone", "external_ids", "status", "policy", "purpose", "steps", "next_step", "expires_at",
    "recorded_at", "planned_at",
)  # fmt: skip
ATTEMPT_COLUMNS = (
    "id", "key", "plan_id", "episode_id", "customer_key", "step", "action", "channel", "address",
    "planned_for", "due_at", "status", "claims", "reschedules", "send_started", "created_at",
)  # fmt: skip


class NullSender:
    """Sends nothing, at once (the benchmark measures the engine, not Twilio)."""

    name = "null"

    def __init__(self) -> None:
        self.count = 0

    def send(self, message: SmsMessage) -> SmsReceipt:
        self.count += 1
        return SmsReceipt(self.name, f"SM{self.count:032d}", "queued")

    def find(self, message: SmsMessage) -> SmsReceipt | None:
        return None


def phone(n: int) -> str:
    return f"+1212{2_000_000 + n:07d}"  # New York, a valid exchange for every n < 8,000,000


def rows(stored: int, due: int) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(plan, attempt) per stored plan; the first ``due`` are due now, the rest over 30 days."""
    spread = timedelta(days=30)
    for n in range(1, stored + 1):
        is_due = n <= due
        occurred = (
            NOW - timedelta(minutes=30) if is_due else NOW + spread * (n / stored) - timedelta(minutes=10)
        )
        due_at = occurred + timedelta(minutes=10)
        customer, episode = f"cu_b{n:09d}", f"ep_b{n:09d}"
        plan = (
            n, f"rt_b{n:030d}", episode, customer, "bench", f"e{n}", "self_service", "billing", "failed",
            occurred, phone(n), "{}", "active", "bench", "service", STEPS, 1, occurred + timedelta(hours=72),
            occurred, occurred,
        )  # fmt: skip
        attempt = (
            n, f"rc_b{n:030d}", n, episode, customer, 0, "sms", "sms", phone(n), due_at, due_at, "pending",
            0, 0, False, occurred,
        )  # fmt: skip
        yield plan, attempt


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def insert_sqlite(engine: Engine, table: str, columns: tuple[str, ...], batch: list[tuple[Any, ...]]) -> None:
    marks = ", ".join("?" for _ in columns)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 (our constants)
            [tuple(_sqlite_value(v) for v in row) for row in batch],
        )


def insert_postgres(
    engine: Engine, table: str, columns: tuple[str, ...], batch: list[tuple[Any, ...]]
) -> None:
    buffer = io.StringIO()
    for row in batch:
        buffer.write("\t".join(_copy_value(v) for v in row) + "\n")
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()


def seed(engine: Engine, stored: int, due: int) -> float:
    started = time.perf_counter()
    insert = insert_postgres if engine.dialect.name == "postgresql" else insert_sqlite
    plans: list[tuple[Any, ...]] = []
    attempts: list[tuple[Any, ...]] = []
    for plan, attempt in rows(stored, due):
        plans.append(plan)
        attempts.append(attempt)
        if len(plans) >= BATCH:
            insert(engine, "recovery_plans", PLAN_COLUMNS, plans)
            insert(engine, "recovery_attempts", ATTEMPT_COLUMNS, attempts)
            plans, attempts = [], []
    if plans:
        insert(engine, "recovery_plans", PLAN_COLUMNS, plans)
        insert(engine, "recovery_attempts", ATTEMPT_COLUMNS, attempts)
    before = NOW - timedelta(days=1)
    customers = [(f"cu_b{n:09d}", None, before) for n in range(1, due + 1)]
    insert(engine, "customers", ("key", "name", "created_at"), customers)
    insert(engine, "recovery_customers", ("customer_key", "created_at"), [(c[0], before) for c in customers])
    episodes = [
        (
            f"ep_b{n:09d}",
            f"cu_b{n:09d}",
            "billing",
            "billing",
            "open",
            before,
            before,
            NOW + timedelta(days=2),
        )
        for n in range(1, due + 1)
    ]
    columns = (
        "id",
        "customer_key",
        "intent_family",
        "intent",
        "status",
        "opened_at",
        "last_event_at",
        "closes_at",
    )
    insert(engine, "episodes", columns, episodes)
    ledger = [("sms", phone(n), f"cu_b{n:09d}", True, before, before, "bench") for n in range(1, due + 1)]
    columns = ("channel", "address", "customer_key", "granted", "decided_at", "recorded_at", "source")
    insert(engine, "consent_ledger", columns, ledger)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for table in ("recovery_plans", "recovery_attempts", "consent_ledger"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {stored + 1})"
                )
            connection.exec_driver_sql("ANALYZE")
        else:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - started


def service(engine: Engine, batch: int) -> RecoveryService:
    return RecoveryService(
        engine=engine,
        config=RecoveryConfig(policies=(POLICY,)),
        clock=FixedClock(NOW),
        sender=NullSender(),
        settings=RecoverySettings(batch=batch, max_batches=1_000_000),
        owner="bench",
    )


def explain(engine: Engine) -> str:
    query = (
        "EXPLAIN SELECT id FROM recovery_attempts WHERE status = 'pending' AND due_at <= :now "
        "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED"
    )
    with engine.connect() as connection:
        plan = connection.execute(text(query), {"now": NOW.replace(tzinfo=None)}).scalars().all()
    return " | ".join(line.strip() for line in plan)


def measure(engine: Engine, stored: int, due: int, batch: int) -> dict[str, Any]:
    migrate.upgrade(engine)
    seeded = seed(engine, stored, due)
    recovery = service(engine, batch)
    started = time.perf_counter()
    report = recovery.run_due(NOW, TickReport())
    elapsed = time.perf_counter() - started
    assert report.sent == due, report
    idle = time.perf_counter()
    empty = recovery.run_due(NOW, TickReport())
    idle_ms = (time.perf_counter() - idle) * 1000
    assert empty.claimed == 0
    result = {
        "backend": engine.dialect.name,
        "stored": stored,
        "due": due,
        "seed_s": round(seeded, 1),
        "total_s": round(elapsed, 2),
        "per_1000_due_s": round(elapsed / due * 1000, 3),
        "idle_tick_ms": round(idle_ms, 2),
    }
    if engine.dialect.name == "postgresql":
        result["claim_plan"] = explain(engine)
    return result


@contextlib.contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory(prefix="bench_recovery_") as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        try:
            yield engine
        finally:
            engine.dispose()


@contextlib.contextmanager
def postgres_engine(admin_url: str) -> Iterator[Engine]:
    name = f"bench_recovery_{secrets.token_hex(6)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(admin_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--stored", default="100000,1000000", help="comma-separated stored plan counts")
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="attempts claimed per transaction")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    sizes = [int(part) for part in args.stored.split(",")]
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    results = []
    for backend in backends:
        for stored in sizes:
            opener = sqlite_engine() if backend == "sqlite" else postgres_engine(args.postgres_admin_url)
            with opener as engine:
                result = measure(engine, stored, min(args.due, stored), args.batch)
            results.append(result)
            print(
                f"{backend:10s} stored {stored:>9,}  due {result['due']:>6,}  "
                f"seed {result['seed_s']:>6.1f} s  tick {result['total_s']:>7.2f} s  "
                f"per 1,000 due {result['per_1000_due_s']:.3f} s  "
                f"idle tick {result['idle_tick_ms']:.2f} ms",
                flush=True,
            )
            if "claim_plan" in result:
                print(f"           claim plan: {result['claim_plan']}", flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
