"""Random faults for chaos runs: a seeded share of the sandbox's calls fail the way the real
services fail, and the sandbox keeps the figures a chaos run reports.

    sb.chaos = Chaos(rate=0.3, seed=7, clock=time.time)   # only the sandbox transport honours it

Each call (both CRMs, through ``sb.session()``) fails with probability ``rate``, with one of
``kinds``: ``429`` (with ``Retry-After``: 1 to ``max_retry_after`` seconds), ``500``, ``503`` (the
real services' bodies, see ``faults``), ``timeout_before`` (``requests.ReadTimeout`` raised before
the sandbox does anything: the caller cannot tell whether it landed) and ``timeout_after`` (the
write is done and committed, then ``ReadTimeout``: it landed and the caller never heard).

Figures: calls and faults by kind and CRM, and **Retry-After undercuts**: a call to a CRM that
arrived before the time the CRM's last Retry-After named (Zendesk's limit is the account's,
Salesforce's the org's, so any call counts). ``enabled = False`` stops the faults (the figures stay).
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .faults import Fault

KINDS = ("429", "500", "503", "timeout_before", "timeout_after")


@dataclass
class Chaos:
    rate: float = 0.3
    seed: int = 0
    clock: Callable[[], float] = field(default=lambda: 0.0)
    kinds: tuple[str, ...] = KINDS
    max_retry_after: int = 5
    enabled: bool = True
    calls: Counter[str] = field(default_factory=Counter)
    calls_while_enabled: Counter[str] = field(default_factory=Counter)  # the calls faults were drawn for
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)
    undercuts: int = 0
    not_before: dict[str, float] = field(default_factory=dict)
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self._rng = random.Random(self.seed)

    def decide(self, crm: str) -> str | None:
        """Count the call, check it against the CRM's last Retry-After, and pick its fault."""
        with self._lock:
            now = self.clock()
            self.calls[crm] += 1
            if now < self.not_before.get(crm, float("-inf")):
                self.undercuts += 1
            if not self.enabled:
                return None
            self.calls_while_enabled[crm] += 1
            if self._rng.random() >= self.rate:
                return None
            kind = self._rng.choice(self.kinds)
            self.injected[(crm, kind)] += 1
            return kind

    def answer(self, crm: str, kind: str) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body of a status fault; a 429 sets the CRM's Retry-After."""
        status = int(kind)
        headers = {"Content-Type": "application/json"}
        if status == 429:
            with self._lock:
                seconds = self._rng.randint(1, self.max_retry_after)
                self.not_before[crm] = max(self.not_before.get(crm, 0.0), self.clock() + seconds)
            headers["Retry-After"] = str(seconds)
        body = Fault(status=status).response_body(crm)
        if status == 429 and crm == "salesforce":
            body = [
                {"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}
            ]
        return status, headers, json.dumps(body).encode()

    @property
    def faults(self) -> int:
        return sum(self.injected.values())
