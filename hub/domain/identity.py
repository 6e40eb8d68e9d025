"""Identity rules: which identifiers are strong, how a stable customer key is derived.

Phone parsing needs the phonenumbers library, so it lives in ``hub.services.identity``; this module
only decides what a normalized identifier means.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Strongest first: an id the CRM or platform already assigned beats a phone, a phone beats an email.
PHONE = "phone"
EMAIL = "email"
PHONE_UNPARSED = "phone_unparsed"
EXTERNAL_PREFIX = "ext:"


@dataclass(frozen=True)
class Identifier:
    """One normalized identifier with the raw value it came from.

    ``valid`` is False for a value that could not be normalized (an unparseable phone): it is kept
    and shown, but never used to join two customers, because that would be a guess.
    """

    kind: str
    value: str
    raw: str
    valid: bool = True

    @property
    def strong(self) -> bool:
        return self.valid and (self.kind in (PHONE, EMAIL) or self.kind.startswith(EXTERNAL_PREFIX))

    @property
    def rank(self) -> int:
        if self.kind.startswith(EXTERNAL_PREFIX):
            return 0
        return {PHONE: 1, EMAIL: 2}.get(self.kind, 9)


def external(system: str, value: str) -> Identifier:
    return Identifier(kind=f"{EXTERNAL_PREFIX}{system}", value=value.strip(), raw=value)


def normalize_email(raw: str) -> Identifier:
    value = raw.strip().casefold()
    local, at, domain = value.partition("@")
    valid = bool(local and at and "." in domain and " " not in value)
    return Identifier(kind=EMAIL, value=value, raw=raw, valid=valid)


def customer_key_for(identifier: Identifier) -> str:
    """A stable key derived from one strong identifier.

    Deriving rather than generating means two workers seeing a new customer at the same instant
    compute the same key, so neither can create a twin.
    """
    digest = hashlib.sha256(f"{identifier.kind}\x00{identifier.value}".encode()).hexdigest()
    return f"cus_{digest[:24]}"


def strongest(identifiers: list[Identifier]) -> Identifier | None:
    strong = sorted((i for i in identifiers if i.strong), key=lambda i: (i.rank, i.kind, i.value))
    return strong[0] if strong else None
