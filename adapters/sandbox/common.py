"""Small pieces shared by the Salesforce and Zendesk fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Now = Callable[[], datetime]


@dataclass
class ApiResponse:
    """What one API call answers: status, JSON body (None for no body) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def utc_now() -> datetime:
    return datetime.now(UTC)


def sf_datetime(moment: datetime) -> str:
    """Salesforce's REST rendering: ``2011-07-07T00:37:00.000+0000``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def zd_datetime(moment: datetime) -> str:
    """Zendesk's rendering: ``2023-09-18T23:25:58Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso_datetime(value: str) -> datetime | None:
    """Parse ISO 8601 with ``Z``, ``+0000`` or ``+00:00`` offsets (naive means UTC)."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit() and ":" not in text[-5:]:
        text = text[:-2] + ":" + text[-2:]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if "T" not in value and " " not in value:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment
