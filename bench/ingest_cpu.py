"""CPU per ``POST /v1/outcomes``, hub and floor, called as WSGI apps in one process (no HTTP server).

Usage: .venv/bin/python bench/ingest_cpu.py [--requests 1500] [--sqlite-synchronous normal] [--profile]

CPU time (``time.process_time``) barely depends on what else the machine runs, so this tells where
the hub's time goes even on a busy machine, which the throughput benchmarks cannot. A fresh SQLite
database in a temporary directory; the same 1.3 KB events as ``bench/ingest.py``; 100 warm-up
requests per app; ``--profile`` prints the hub's cProfile (by internal time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def environ(body: bytes, signature: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/v1/outcomes",
        "SERVER_NAME": "bench",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "HTTP_X_CTIHUB_SIGNATURE": signature,
    }


def measure(app: Callable[..., Any], secret: str, tag: str, count: int, profile: bool) -> float:
    """CPU milliseconds per request over ``count`` requests (after 100 warm-up ones)."""
    import ingest

    from webhooks.generic import sign

    timestamp = int(time.time())
    requests = []
    for k in range(count + 100):
        body = ingest.event_body(f"{tag}-{k}", k)
        requests.append((body, sign(secret, body, timestamp)))
    statuses: set[str] = set()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.add(status)

    for body, signature in requests[:100]:
        list(app(environ(body, signature), start_response))
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    for body, signature in requests[100:]:
        list(app(environ(body, signature), start_response))
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    if statuses != {"202 ACCEPTED"}:
        raise SystemExit(f"{tag}: unexpected answers {statuses}")
    return 1000 * (time.process_time() - started) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--sqlite-synchronous", choices=("full", "normal"), default="normal")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix="ctihub-cpu-")
    url, secret = f"sqlite:///{directory}/bench.db", secrets.token_hex(32)
    os.environ.update(
        CTIHUB_DATABASE_URL=url,
        CTIHUB_WEBHOOK_SECRET=secret,
        CTIHUB_API_TOKEN=secrets.token_urlsafe(24),
        CTIHUB_CRM="zendesk",
        CTIHUB_SANDBOX="true",
        CTIHUB_MAPPINGS=str(ROOT / "mappings"),
        CTIHUB_SQLITE_SYNCHRONOUS=args.sqlite_synchronous,
    )
    import floor_app

    from hub.store import migrate
    from hub.store.db import make_engine
    from hub.web import create_app

    migrate.upgrade(make_engine(url))
    hub, floor = create_app(), floor_app.create()
    print(
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}, "
        f"synchronous={args.sqlite_synchronous}"
    )
    for round_ in (1, 2):
        floor_ms = measure(floor, secret, f"floor{round_}", args.requests, False)
        hub_ms = measure(hub, secret, f"hub{round_}", args.requests, args.profile and round_ == 2)
        print(f"round {round_}: floor {floor_ms:.3f} ms CPU per request, hub {hub_ms:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
