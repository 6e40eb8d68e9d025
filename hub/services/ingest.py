"""Durable acceptance of an outcome event: validate, persist to the inbox, answer. Nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from hub.domain.errors import Forbidden, Problem
from hub.domain.outcome import DEFAULT_SOURCE
from hub.ports import Clock
from hub.services.validation import OutcomeValidator
from hub.store import inbox


@dataclass(frozen=True)
class Accepted:
    source: str
    event_id: str
    duplicate: bool

    def as_dict(self) -> dict[str, str]:
        return {
            "event_id": self.event_id,
            "source": self.source,
            "status": "duplicate" if self.duplicate else "accepted",
        }


@dataclass
class IngestService:
    engine: Engine
    validator: OutcomeValidator
    clock: Clock
    on_accepted: Callable[[], None] = lambda: None  # wakes an in-process worker

    def accept(self, body: bytes, may_write: Callable[[str], bool] | None = None) -> Accepted:
        """Validate and commit the event; raises ValidationFailed (nothing stored) on bad input, and
        Forbidden (nothing stored) when ``may_write`` (the signing key's binding) refuses its source."""
        payload = self.validator.parse(body, now=self.clock.now())
        source = payload.get("source") or DEFAULT_SOURCE
        if may_write is not None and not may_write(source):
            raise Forbidden(
                f"the key that signed this event may not write source {source!r}",
                [Problem("$.source", f"{source!r} is not among the signing key's sources")],
            )
        # Everything but the insert happens before the transaction: on SQLite it holds the only
        # write lock, and every microsecond inside it is one every other writer waits.
        stored = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        added = inbox.accept_event(
            self.engine, source=source, event_id=payload["event_id"], payload=stored, now=self.clock.now()
        )
        if added:
            self.on_accepted()
        return Accepted(source=source, event_id=payload["event_id"], duplicate=not added)
