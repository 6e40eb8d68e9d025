"""How far from now an event's own time may be: the window that bounds the work one event can cause.

A time that comes from outside (an event's ``occurred_at``, a consent's ``captured_at``, a
provider's message or status-change time) feeds episode windows, SLA clocks and the consent
ledger. Unbounded, a date in 1526 makes the business-hours arithmetic span five centuries, and a
date in the future outranks every later consent decision. So every such time must lie within
``[now - max_age, now + max_skew]``:

- the public ``/v1/outcomes`` contract rejects an event outside it (422 naming the field);
- a channel webhook cannot be asked to resend with a better clock, so a provider time outside it
  is replaced by the time the hub received the delivery (``bounded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_MAX_AGE = timedelta(days=30)
DEFAULT_MAX_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class EventWindow:
    max_age: timedelta = DEFAULT_MAX_AGE  # CTIHUB_MAX_EVENT_AGE_DAYS
    max_skew: timedelta = DEFAULT_MAX_SKEW  # CTIHUB_MAX_CLOCK_SKEW_SECONDS

    def problem(self, at: datetime, now: datetime) -> str | None:
        """Why ``at`` is outside the window (a sentence for the caller), or None when it is inside."""
        if at < now - self.max_age:
            return (
                f"is more than {_span(self.max_age)} in the past (now is {now.isoformat()}); "
                "older events are not accepted (CTIHUB_MAX_EVENT_AGE_DAYS)"
            )
        if at > now + self.max_skew:
            return (
                f"is more than {_span(self.max_skew)} in the future (now is {now.isoformat()}); "
                "check the sender's clock (CTIHUB_MAX_CLOCK_SKEW_SECONDS)"
            )
        return None

    def bounded(self, at: datetime | None, received_at: datetime) -> datetime:
        """``at`` when it is inside the window around ``received_at``, else ``received_at``."""
        if at is None or self.problem(at, received_at) is not None:
            return received_at
        return at


def _span(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds % 86400 == 0:
        days = seconds // 86400
        return f"{days} day{'s' if days != 1 else ''}"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"
