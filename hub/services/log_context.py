"""The ids in play (event, inbox row, episode, webhook delivery), attached to every log record.

The worker, the ingest endpoint and the channel webhooks set them with ``log_ids(...)``; the
formatters of ``hub.logs`` read them. Only opaque ids belong here: never a phone number, an email
or any text a customer wrote.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

KEYS = ("event", "inbox_id", "episode_id", "delivery_id", "batch")
_ids: ContextVar[Mapping[str, str]] = ContextVar("ctihub_log_ids", default={})  # noqa: B039


def current_ids() -> Mapping[str, str]:
    return _ids.get()


@contextmanager
def log_ids(**ids: object) -> Iterator[None]:
    """Add ``ids`` (keys from ``KEYS``; None values skipped) to the records logged in the block."""
    unknown = set(ids) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown log id(s) {sorted(unknown)}; known: {', '.join(KEYS)}")
    added = {key: str(value) for key, value in ids.items() if value is not None}
    token = _ids.set({**_ids.get(), **added})
    try:
        yield
    finally:
        _ids.reset(token)
