"""Recovery's keys and small helpers: stable, URL-safe keys derived from what started a recovery.

Keys are derived, never generated, so a retried or re-claimed step finds what an earlier try made:
``trigger_key`` (one plan per source event), ``attempt_key`` (the CRM activity key of one step),
``writeback_key`` (one CRM note per result).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hub.domain.contact_window import ContactLocation
from hub.store import recovery as store


def owner_name() -> str:
    """This process and thread, as a claim's owner (as the link worker names itself)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def digest(*parts: object) -> str:
    return hashlib.sha256("\x00".join(str(p) for p in parts).encode()).hexdigest()[:32]


def trigger_key(source: str, event_id: str) -> str:
    return "rt_" + digest("trigger", source, event_id)


def attempt_key(trigger: str, step: int) -> str:
    """URL-safe and fixed-length: the CRM activity key (Salesforce External ID) of the attempt."""
    return "rc_" + digest("attempt", trigger, step)


def writeback_key(attempt: str, result: str, seq: int) -> str:
    return "rc_" + digest("writeback", attempt, result, seq)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def step_count(plan: store.Plan) -> int:
    return len((plan.steps or {}).get("steps") or ())


def after(moment: datetime | None, reference: datetime) -> bool:
    return moment is not None and moment > reference


def local_text(location: ContactLocation, moment: datetime) -> str:
    """`` (Mon 10:00 EST, America/New_York)``: the moment in the customer's first zone, or ``""``."""
    if not location.zones:
        return ""
    local = moment.astimezone(ZoneInfo(location.zones[0]))
    return f" ({local:%a %H:%M} {local.tzname()}, {location.zones[0]})"
