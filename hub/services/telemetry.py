"""Prometheus instruments counted inside a process, and the few hooks that feed them.

Counted here (in the process where it happens): events received by ``/v1/outcomes`` (accepted,
duplicate, rejected by reason), channel webhook deliveries by source and result, CRM calls at the
port boundary (``InstrumentedCRM``: system, operation, result, latency), link latency
(``InstrumentedLinker``), dead letters and quota pauses (the worker's one decision point).
What the database already knows (inbox depth, oldest pending event, SLA warnings and breaches,
recovery attempts and blocks) is read at scrape time instead (``hub.services.scrape``), so every
process reports the same figures and nothing drifts.

Under gunicorn, or with ``ctihub worker``/``ctihub scheduler`` on the same host, set
``PROMETHEUS_MULTIPROC_DIR`` before the process starts: prometheus-client then writes each
process's values to files there and ``/metrics`` adds them up. The instruments are built on first
use, not at import, because prometheus-client picks its storage from that variable when it is
first imported.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.domain.errors import CrmAction, CrmError

SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
CRM_OPERATIONS = ("get_case", "create_case", "append_activity", "update_case", "write_batch", "opt_outs")


@dataclass(frozen=True)
class Instruments:
    events: Any
    webhooks: Any
    crm_requests: Any
    crm_seconds: Any
    link_seconds: Any
    dead_letters: Any
    quota_pauses: Any


_BUILD_LOCK = threading.Lock()


def instruments() -> Instruments:
    """The process's instruments, built once. ``functools.cache`` alone is not enough: two request
    threads calling first at once would both register and the second would raise
    DuplicateTimeseries (seen in the demo's threaded server)."""
    with _BUILD_LOCK:
        return _build_instruments()


@functools.cache
def _build_instruments() -> Instruments:
    from prometheus_client import Counter, Histogram

    return Instruments(
        events=Counter(
            "ctihub_events_received_total",
            "Outcome events posted to /v1/outcomes, by result (accepted, duplicate, rejected) and reason.",
            ["result", "reason"],
        ),
        webhooks=Counter(
            "ctihub_webhook_deliveries_total",
            "Channel webhook requests by source and result (accepted, signature_failed, forbidden, "
            "rejected, error).",
            ["source", "result"],
        ),
        crm_requests=Counter(
            "ctihub_crm_requests_total",
            "Calls through the CRM port by system, operation and result (ok, or the failure's action).",
            ["system", "operation", "result"],
        ),
        crm_seconds=Histogram(
            "ctihub_crm_request_duration_seconds",
            "Time spent in one call through the CRM port (retries inside the call included).",
            ["system", "operation"],
            buckets=SECONDS_BUCKETS,
        ),
        link_seconds=Histogram(
            "ctihub_link_duration_seconds",
            "Time the worker spent linking an event (its batch: database work and CRM writes), "
            "per linked event.",
            buckets=SECONDS_BUCKETS,
        ),
        dead_letters=Counter(
            "ctihub_dead_letters_total",
            "Events the worker gave up on, by reason (record_rejected, retries_exhausted, configuration).",
            ["reason"],
        ),
        quota_pauses=Counter(
            "ctihub_crm_quota_pauses_total",
            "Times a worker paused because the CRM said its API quota was spent.",
            ["system"],
        ),
    )


def failure_result(error: BaseException) -> str:
    """A bounded label for a failed CRM call: what the caller is told to do about it."""
    if isinstance(error, CrmError):
        return error.action.value
    return "error"


# -- hooks ---------------------------------------------------------------------------------------


def event_received(result: str, reason: str = "") -> None:
    instruments().events.labels(result, reason).inc()


def webhook_delivered(source: str, result: str) -> None:
    instruments().webhooks.labels(source, result).inc()


def worker_gave_up(action: CrmAction, *, dead: bool, system: str, configuration: bool = False) -> None:
    """Called where the worker decides a failed event's fate (``Worker._failed``)."""
    if action is CrmAction.PAUSE_FOR_QUOTA and not dead:
        instruments().quota_pauses.labels(system).inc()
    if dead:
        reason = (
            "configuration"
            if configuration
            else "record_rejected"
            if action is CrmAction.FAIL_RECORD
            else "retries_exhausted"
        )
        instruments().dead_letters.labels(reason).inc()


# -- the CRM port and the linker, measured -------------------------------------------------------


class InstrumentedCRM:
    """The CRM port with every call counted and timed; everything else passes through unchanged."""

    def __init__(self, inner: Any) -> None:
        object.__setattr__(self, "_inner", inner)

    @property
    def inner(self) -> Any:
        return self._inner

    def __setattr__(self, name: str, value: Any) -> None:
        # Transparent for writes too: a caller that tunes the adapter (a retry policy with an injected
        # sleep, a clock) must reach the adapter, not a shadow attribute on this wrapper.
        setattr(self._inner, name, value)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)  # AttributeError when the adapter lacks it, as before
        if name == "without_retries":
            return lambda: InstrumentedCRM(attribute())
        if name in CRM_OPERATIONS and callable(attribute):
            return self._measured(name, attribute)
        return attribute

    def _measured(self, operation: str, call: Callable[..., Any]) -> Callable[..., Any]:
        system = str(getattr(self._inner, "name", "crm"))

        def measured(*args: Any, **kwargs: Any) -> Any:
            found = instruments()
            started = time.perf_counter()
            result = "ok"
            try:
                return call(*args, **kwargs)
            except BaseException as exc:
                result = failure_result(exc)
                raise
            finally:
                found.crm_seconds.labels(system, operation).observe(time.perf_counter() - started)
                found.crm_requests.labels(system, operation, result).inc()

        return measured


class InstrumentedLinker:
    """The linker as the worker sees it, with each linked event's batch time observed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def link_batch(self, rows: Sequence[Any], *, owner: str) -> list[Any]:
        started = time.perf_counter()
        results = self._inner.link_batch(rows, owner=owner)
        elapsed = time.perf_counter() - started
        histogram = instruments().link_seconds
        for result in results:
            if not isinstance(result, Exception):
                histogram.observe(elapsed)
        return results
