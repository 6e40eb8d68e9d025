"""The hub's own v1 source: ``POST /v1/outcomes`` signed with ``X-CTIHub-Signature``.

Header format: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``. Several ``v1``
entries may be sent (e.g. while a secret is rotated); one valid entry is enough. A timestamp more
than 300 s from now, either way, is rejected so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.domain.errors import AuthError
from hub.domain.signing_keys import LEGACY_KEY_ID, SigningKey

HEADER = "X-CTIHub-Signature"
TOLERANCE_SECONDS = 300
MAX_HEADER_LENGTH = 1024
MAX_SIGNATURES = 8
_TIMESTAMP = re.compile(r"[0-9]{1,10}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a platform sends (also used by the demo and the benchmark)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) of a well-formed header, else AuthError, before any other work.

    Strict on purpose: ASCII digits only (``"²".isdigit()`` is True), at most 10 of them; each
    ``v1`` exactly 64 hex digits (a non-ASCII one would make ``compare_digest`` raise); a bounded
    header with at most :data:`MAX_SIGNATURES` entries.
    """
    if len(header) > MAX_HEADER_LENGTH or not header.isascii():
        raise AuthError(f"{HEADER} is too long or not ASCII")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and _HEX_DIGEST.fullmatch(value):
            signatures.append(value.lower())
    if timestamp is None or not signatures or len(signatures) > MAX_SIGNATURES:
        raise AuthError(
            f"{HEADER} must look like t=<unix seconds>,v1=<64 hex digits of HMAC-SHA256>"
            f" (at most {MAX_SIGNATURES} v1 entries)"
        )
    return timestamp, signatures


@dataclass(frozen=True)
class GenericSource:
    name: str = "generic"

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """Raise AuthError unless the body carries a fresh, valid signature. Constant-time compare."""
        self.verify_keys(headers, body, keys=(SigningKey(LEGACY_KEY_ID, secret),), now=now)

    def verify_keys(
        self, headers: Mapping[str, str], body: bytes, *, keys: Sequence[SigningKey], now: datetime
    ) -> tuple[SigningKey, ...]:
        """The keys whose signature the request carries (at least one, else AuthError).

        One pass over every (key, ``v1`` entry) pair, each compared in constant time and none
        skipped, so the time taken says nothing about which key or entry matched.
        """
        header = headers.get(HEADER)
        if not header:
            raise AuthError(f"missing {HEADER} header")
        timestamp, signatures = _parse(header)
        if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
            raise AuthError(f"{HEADER} timestamp is more than {TOLERANCE_SECONDS} s from the server's clock")
        message = f"{timestamp}.".encode() + body
        matched: list[SigningKey] = []
        for key in keys:
            expected = hmac.new(key.secret.encode(), message, hashlib.sha256).hexdigest().encode()
            valid = False
            for candidate in signatures:
                valid |= hmac.compare_digest(expected, candidate.encode("ascii"))
            if valid:
                matched.append(key)
        if not matched:
            raise AuthError(f"{HEADER} does not match the body")
        return tuple(matched)


SOURCE = GenericSource()
