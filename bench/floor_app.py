"""The floor: the least a signed, durable ingest can do, to measure the hub's ``POST /v1/outcomes`` against.

    gunicorn -c python:hub.serving.gunicorn_conf -w 2 -b 127.0.0.1:8081 'bench.floor_app:create()'

Per request: the content-type check, the same HMAC signature check (``webhooks.generic``), a JSON
parse, and one committed insert-or-ignore into the hub's own ``inbox`` table, through the database
driver directly (no SQLAlchemy, no schema validation, no catalog). Same database, same durability
settings as the hub (SQLite: WAL with ``CTIHUB_SQLITE_SYNCHRONOUS``, default FULL, and the same
30 s busy timeout; PostgreSQL: a committed statement, ``synchronous_commit`` as the server has it).
``GET /readyz`` answers 200 so the benchmark can wait for it. Settings from the environment:
``CTIHUB_DATABASE_URL`` and ``CTIHUB_WEBHOOK_SECRET``, like the hub.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, request

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from webhooks.generic import SOURCE  # noqa: E402  (after the path fix above)

INSERT = (
    "INSERT INTO inbox (source, event_id, payload, received_at, next_attempt_at, status, attempts) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, 'pending', 0) ON CONFLICT (source, event_id) DO NOTHING"
)


class Store:
    """One connection per process, opened lazily (after gunicorn forks)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: Any = None
        self.sqlite = url.startswith("sqlite")
        self.sql = INSERT.format(p="?" if self.sqlite else "%s")

    def connect(self) -> Any:
        if self.connection is None:
            if self.sqlite:
                path = self.url.split("///", 1)[1]
                synchronous = os.environ.get("CTIHUB_SQLITE_SYNCHRONOUS", "full").upper()
                connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA synchronous={synchronous}")
                connection.execute("PRAGMA busy_timeout=30000")
            else:
                import psycopg

                url = self.url.replace("postgresql+psycopg://", "postgresql://", 1)
                connection = psycopg.connect(url, autocommit=True)
            self.connection = connection
        return self.connection

    def insert(self, source: str, event_id: str, payload: str) -> bool:
        now = datetime.now(UTC).replace(tzinfo=None)
        cursor = self.connect().execute(self.sql, (source, event_id, payload, now, now))
        return cursor.rowcount == 1


def create() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    secret = os.environ["CTIHUB_WEBHOOK_SECRET"]
    store = Store(os.environ["CTIHUB_DATABASE_URL"])

    @app.post("/v1/outcomes")
    def ingest() -> Any:
        if request.mimetype != "application/json":
            return {"error": "unsupported media type"}, 415
        body = request.get_data(cache=False)
        SOURCE.verify(request.headers, body, secret=secret, now=datetime.now(UTC))
        payload = json.loads(body)
        source = payload.get("source") or "default"
        added = store.insert(source, payload["event_id"], body.decode())
        status = "accepted" if added else "duplicate"
        return {"event_id": payload["event_id"], "source": source, "status": status}, 202 if added else 200

    @app.get("/readyz")
    def readyz() -> Any:
        return {"status": "ok"}

    return app
