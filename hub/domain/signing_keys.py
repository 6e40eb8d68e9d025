"""Outcome-signing keys bound to the ``source`` names they may write (``CTIHUB_WEBHOOK_KEYS``).

The setting (or its ``_FILE``) is a JSON object, one entry per key id::

    {"chat-2026-12": {"secret": "<at least 32 characters>", "sources": ["web-chat"]},
     "ivr":          {"secret": "<at least 32 characters>", "sources": ["ivr-*"]}}

A ``sources`` pattern is a source name, or a prefix followed by ``*`` (``ivr-*``); ``*`` alone
allows every source. Several keys may be active at once, for the same sources or not: rotating a
platform's key is "add the new key, move the platform, remove the old key", with no downtime. The
legacy single ``CTIHUB_WEBHOOK_SECRET`` stays valid and may sign for every source (key id
``webhook-secret``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from hub.domain.errors import ConfigError, Problem

MIN_SECRET_LENGTH = 32
LEGACY_KEY_ID = "webhook-secret"
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PATTERN = re.compile(r"\*|[A-Za-z0-9._:-]{1,100}\*?")


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    secret: str = field(repr=False)
    sources: tuple[str, ...] = ("*",)

    def allows(self, source: str) -> bool:
        for pattern in self.sources:
            if pattern == "*" or pattern == source:
                return True
            if pattern.endswith("*") and source.startswith(pattern[:-1]):
                return True
        return False


def allowed_by(keys: Iterable[SigningKey], source: str) -> bool:
    """True when one of ``keys`` (those whose signature matched) may write ``source``."""
    return any(key.allows(source) for key in keys)


def parse_keys(text: str, setting: str) -> tuple[SigningKey, ...]:
    """The keys of a ``CTIHUB_WEBHOOK_KEYS`` value; ConfigError naming every problem."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{setting} is not JSON", [Problem(setting, "must be a JSON object")]) from exc
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{setting} must be a non-empty JSON object", [Problem(setting, "not an object")])
    problems: list[Problem] = []
    keys: list[SigningKey] = []
    for key_id, entry in data.items():
        where = f"{setting}.{key_id}"
        if not _KEY_ID.fullmatch(key_id) or key_id == LEGACY_KEY_ID:
            problems.append(
                Problem(where, f"a key id is 1-64 of A-Z a-z 0-9 . _ - (and not {LEGACY_KEY_ID})")
            )
            continue
        if not isinstance(entry, dict) or set(entry) - {"secret", "sources"}:
            problems.append(Problem(where, 'must be {"secret": "...", "sources": ["..."]}'))
            continue
        secret = entry.get("secret")
        sources = entry.get("sources")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            problems.append(Problem(f"{where}.secret", f"must be at least {MIN_SECRET_LENGTH} characters"))
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(p, str) and _PATTERN.fullmatch(p) for p in sources)
        ):
            problems.append(
                Problem(f"{where}.sources", 'must be a non-empty list of source names or prefixes ("ivr-*")')
            )
        if isinstance(secret, str) and isinstance(sources, list):
            keys.append(SigningKey(key_id, secret, tuple(str(p) for p in sources)))
    if problems:
        raise ConfigError(f"{setting} is invalid", problems)
    return tuple(keys)
