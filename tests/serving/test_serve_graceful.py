"""``ctihub serve`` in production mode, as real processes: gunicorn, a link worker, the scheduler.

A request in flight when SIGTERM arrives is answered and its event committed; every accepted event
ends linked or pending with no claim held; the supervisor exits 0. The same run checks the logs
every process wrote: one JSON object per line, the access log by route pattern with no query
string, and no phone number or secret anywhere.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from tests.serving.helpers import (
    START_DEADLINE,
    ctihub,
    free_port,
    gunicorn_workers,
    hub_env,
    json_lines,
    socket_count,
    started,
    status_of,
    wait_for,
)
from webhooks.generic import HEADER, sign

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs Linux /proc")
SECRET = "graceful-test-webhook-secret-0123456789"
TOKEN = "graceful-test-api-token-0123456789"
CONTEXT_SECRET = "graceful-test-context-secret-0123456789"  # the context token answers, not 503
PHONE = "+14155550142"


def event(n: int) -> bytes:
    body = {
        "event_id": f"graceful-{n}",
        "source": "web-chat",
        "occurred_at": "2026-11-23T14:55:00Z",
        "channel": "chat",
        "customer": {"phone": PHONE, "email": f"graceful{n}@example.com"},
        "intent": "order_status",
        "outcome": "resolved",
    }
    return json.dumps(body).encode()


def request_bytes(port: int, body: bytes) -> tuple[bytes, bytes]:
    """The head and the body of a signed POST /v1/outcomes, to send in two parts."""
    head = (
        f"POST /v1/outcomes HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{HEADER}: {sign(SECRET, body, int(time.time()))}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode(), body


def post(port: int, body: bytes) -> int:
    head, rest = request_bytes(port, body)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + rest)
        return int(sock.recv(65536).split(b" ", 2)[1])


def test_sigterm_finishes_the_request_in_flight_and_loses_nothing(tmp_path: Path):
    port = free_port()
    env = hub_env(
        tmp_path,
        CTIHUB_WEBHOOK_SECRET=SECRET,
        CTIHUB_API_TOKEN=TOKEN,
        CTIHUB_CONTEXT_TOKEN_SECRET=CONTEXT_SECRET,
        CTIHUB_LOG_FORMAT="json",
        CTIHUB_LOG_LEVEL="DEBUG",
    )
    argv = ctihub("serve", "--sandbox", "--port", str(port), "--web-workers", "1", "--link-workers", "1")
    log = tmp_path / "serve.log"
    with started(argv, env, tmp_path, log) as serve:
        wait_for(lambda: status_of(port, "/readyz") == 200, deadline=START_DEADLINE, what="/readyz")
        assert [post(port, event(n)) for n in range(5)] == [202] * 5
        # Paths that must never reach the access log as they are: a token, a query string.
        assert status_of(port, f"/v1/context/secret-context-token?phone={PHONE}") in (400, 401, 404)
        assert status_of(port, f"/v1/outcomes/web-chat/graceful-0?phone={PHONE}") == 401

        [worker] = wait_for(lambda: gunicorn_workers(serve.pid), deadline=30, what="the web worker")
        idle = socket_count(worker)
        head, body = request_bytes(port, event(5))
        in_flight = socket.create_connection(("127.0.0.1", port), timeout=60)
        in_flight.sendall(head + body[:10])
        # The worker has accepted the connection and is reading the request: it is in flight.
        wait_for(lambda: socket_count(worker) > idle, deadline=30, what="the worker to accept")
        serve.send_signal(signal.SIGTERM)
        # gunicorn's master logs this, closes its listeners and sends SIGTERM to its workers.
        wait_for(lambda: "Handling signal: term" in log.read_text(), deadline=30, what="gunicorn's stop")
        in_flight.sendall(body[10:])
        answer = in_flight.recv(65536)
        in_flight.close()
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
        assert serve.wait(timeout=90) == 0

    database = sqlite3.connect(tmp_path / "var" / "ctihub.db")
    rows = dict(database.execute("SELECT event_id, status FROM inbox").fetchall())
    lease_held = database.execute("SELECT count(*) FROM inbox WHERE lease_owner IS NOT NULL").fetchone()[0]
    database.close()
    assert set(rows) == {f"graceful-{n}" for n in range(6)}
    assert set(rows.values()) <= {"linked", "pending"}
    assert lease_held == 0

    text = log.read_text()
    lines = json_lines(log)
    assert lines and all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    routes = {line["route"] for line in access}
    expected = {"/v1/outcomes", "/readyz", "/v1/context/<token>", "/v1/outcomes/<source>/<path:event_id>"}
    assert expected <= routes
    assert "secret-context-token" not in text
    assert "?" not in "".join(line["message"] for line in access)
    for leak in (PHONE, "4155550142", "@example.com", SECRET, TOKEN):
        assert leak not in text, leak
    linked = [line for line in lines if "event" in line and line["logger"] == "hub.services.worker"]
    assert all(line["event"].startswith("web-chat:graceful-") for line in linked)


@pytest.mark.parametrize("dev", [True])
def test_dev_mode_is_one_process_and_stops_on_sigterm(tmp_path: Path, dev: bool):
    port = free_port()
    env = hub_env(
        tmp_path,
        CTIHUB_WEBHOOK_SECRET=SECRET,
        CTIHUB_API_TOKEN=TOKEN,
        CTIHUB_CONTEXT_TOKEN_SECRET=CONTEXT_SECRET,
    )
    log = tmp_path / "dev.log"
    with started(ctihub("serve", "--dev", "--sandbox", "--port", str(port)), env, tmp_path, log) as serve:
        wait_for(lambda: status_of(port, "/readyz") == 200, deadline=START_DEADLINE, what="/readyz")
        assert post(port, event(1)) == 202
        assert status_of(port, f"/v1/context/secret-context-token?phone={PHONE}") in (400, 401, 404)
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    text = log.read_text()
    assert "development server, one process" in text
    assert "GET /v1/context/<token>" in text
    assert "secret-context-token" not in text and PHONE not in text
