"""gunicorn settings for the hub's web tier.

    gunicorn -c python:hub.serving.gunicorn_conf -w 3 -b 0.0.0.0:8080 'hub.web:create_app()'

``ctihub serve`` (without ``--dev``) runs exactly this. Sync workers: the hub's requests are short
and CPU-bound (verify, validate, one commit) and never wait on a CRM, so one request per process
is the fastest model measured (``bench/ingest.py``: gthread did worse in every configuration).
Command-line flags override these values. Nothing here reads the environment at import time: the
logger class reads the hub's settings when gunicorn builds it.

Hooks other areas extend: ``child_exit`` runs in the master when a worker exits (e.g. Prometheus
multiprocess mode's ``mark_process_dead``); add a call there, keep it fast and exception-free.
"""

from __future__ import annotations

from typing import Any

worker_class = "sync"
logger_class = "hub.serving.glogging.HubLogger"
timeout = 30  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on SIGTERM, in-flight requests get this long to finish
keepalive = 5
backlog = 2048
forwarded_allow_ips = "127.0.0.1"
control_socket_disable = True  # several gunicorns may share a machine; the hub does not use it


def child_exit(server: Any, worker: Any) -> None:
    """A worker process exited (normally or not); called in the master. In Prometheus multiprocess
    mode its live gauges are dropped (its counters stay summed): docs/metrics.md."""
    from hub.services.scrape import mark_process_dead

    mark_process_dead(worker.pid)
