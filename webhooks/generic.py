"""The hub's own v1 source: ``POST /v1/outcomes`` signed with ``X-CTIHub-Signature``.

Header format: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``. Several ``v1``
entries may be sent (e.g. while a secret is rotated); one valid entry is enough. A timestamp more
than 300 s from now, either way, is rejected so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from hub.domain.errors import AuthError

HEADER = "X-CTIHub-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a platform sends (also used by the demo and the benchmark)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise AuthError(f"{HEADER} must look like t=<unix seconds>,v1=<hex HMAC-SHA256>")
    return timestamp, signatures


@dataclass(frozen=True)
class GenericSource:
    name: str = "generic"

    def verify(self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime) -> None:
        """Raise AuthError unless the body carries a fresh, valid signature. Constant-time compare."""
        header = headers.get(HEADER)
        if not header:
            raise AuthError(f"missing {HEADER} header")
        timestamp, signatures = _parse(header)
        if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
            raise AuthError(f"{HEADER} timestamp is more than {TOLERANCE_SECONDS} s from the server's clock")
        expected = sign(secret, body, timestamp).split("v1=", 1)[1]
        valid = False
        for candidate in signatures:
            valid |= hmac.compare_digest(expected, candidate)
        if not valid:
            raise AuthError(f"{HEADER} does not match the body")


SOURCE = GenericSource()
