"""Identity rules: which identifiers are strong, how they were proven, how a stable key is derived.

Phone parsing needs the phonenumbers library, so it lives in ``hub.services.identity``; this module
only decides what a normalized identifier means.

Proof (``docs/identity.md``): how the hub came to know an identifier, strongest first.

    carrier    a phone number the carrier delivered a text or call from (Twilio ``From``)
    platform   an id a platform or CRM assigned (Sunshine user id, Zendesk user id, Contact id)
    verified   an email or phone the sending platform vouches for (a signed ``/v1/outcomes`` event
               without ``customer.proof``, an email the platform says it verified, a CRM record's)
    asserted   typed by the customer or read from a profile anyone can edit (a Sunshine profile
               email, an address typed into a chat): it may suggest a match, never make one

Only a strong identifier that is not asserted joins an event to a known customer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Strongest first: an id the CRM or platform already assigned beats a phone, a phone beats an email.
PHONE = "phone"
EMAIL = "email"
PHONE_UNPARSED = "phone_unparsed"
EXTERNAL_PREFIX = "ext:"

CARRIER, PLATFORM, VERIFIED, ASSERTED = "carrier", "platform", "verified", "asserted"
PROOFS = (CARRIER, PLATFORM, VERIFIED, ASSERTED)  # strongest first


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
    proof: str = VERIFIED

    @property
    def strong(self) -> bool:
        return self.valid and (self.kind in (PHONE, EMAIL) or self.kind.startswith(EXTERNAL_PREFIX))

    @property
    def joins(self) -> bool:
        """Strong and proven: may join an event to a known customer (asserted ones only suggest)."""
        return self.strong and self.proof != ASSERTED

    @property
    def rank(self) -> int:
        if self.kind.startswith(EXTERNAL_PREFIX):
            return 0
        return {PHONE: 1, EMAIL: 2}.get(self.kind, 9)


def external(system: str, value: str) -> Identifier:
    return Identifier(kind=f"{EXTERNAL_PREFIX}{system}", value=value.strip(), raw=value, proof=PLATFORM)


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
    """The identifier a new customer's key is derived from: the best one that may join.

    Proof does not enter the order (kind, then value, does): a phone seen as ``carrier`` in one
    event and ``verified`` in another must give the same key, so racing workers agree."""
    strong = sorted((i for i in identifiers if i.joins), key=lambda i: (i.rank, i.kind, i.value))
    return strong[0] if strong else None
