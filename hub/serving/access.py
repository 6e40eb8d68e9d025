"""The access log: method, route pattern, status and duration; never a query string or a raw path.

A raw path can carry a secret (``/v1/context/<token>``) and a query string a phone number or a
token, so the web app records the matched route's pattern in the WSGI environ (``ROUTE_KEY``) and
both servers (gunicorn through ``hub.serving.glogging``, the dev server through
``DevRequestHandler``) log that instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from werkzeug.serving import WSGIRequestHandler

ROUTE_KEY = "ctihub.route"
UNMATCHED = "(no route)"
access_log = logging.getLogger("ctihub.access")


def log_access(logger: logging.Logger, environ: dict[str, Any], status: int | str, seconds: float) -> None:
    method = environ.get("REQUEST_METHOD", "-")
    route = environ.get(ROUTE_KEY) or UNMATCHED
    duration_ms = round(1000 * seconds, 1)
    logger.info(
        "%s %s %s %.1f ms",
        method,
        route,
        status,
        duration_ms,
        extra={"method": method, "route": route, "status": status, "duration_ms": duration_ms},
    )


class DevRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler (``ctihub serve --dev``, the demo) with the hub's access line."""

    def handle_one_request(self) -> None:
        self._ctihub_started = time.perf_counter()
        super().handle_one_request()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        environ = getattr(self, "environ", {})
        started = getattr(self, "_ctihub_started", time.perf_counter())
        status = getattr(code, "value", code)
        log_access(access_log, environ, status, time.perf_counter() - started)
