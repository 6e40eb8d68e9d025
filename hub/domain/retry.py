"""When to try a failed event again: exponential backoff with jitter, never before Retry-After."""

from __future__ import annotations

import random


def retry_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = 2.0,
    cap: float = 3600.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first failure).

    Full exponential growth (base * 2^(attempt-1), capped) plus up to 25 % jitter so a burst of
    failures does not come back as a burst; a Retry-After from the CRM is a floor, honored exactly.
    """
    exponential = min(cap, base * 2 ** max(attempt - 1, 0))
    jitter = (rng or random).uniform(0, exponential * 0.25)
    delay = exponential + jitter
    return max(delay, retry_after) if retry_after is not None else delay
