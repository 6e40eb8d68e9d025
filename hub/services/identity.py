"""Normalize the identifiers an event carries: phones to E.164, emails case-folded, external ids kept."""

from __future__ import annotations

from dataclasses import replace

import phonenumbers

from hub.domain.identity import PHONE, PHONE_UNPARSED, VERIFIED, Identifier, external, normalize_email
from hub.domain.outcome import CustomerRef


def normalize_phone(raw: str, region: str) -> Identifier:
    """E.164 when the number parses and is possible for its region; otherwise kept raw and flagged.

    ``is_possible_number`` (length rules) rather than ``is_valid_number`` (assigned ranges): a real
    customer's new number must not be rejected because the metadata lags, while a string that is
    not a phone number at all is never turned into one.
    """
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return Identifier(kind=PHONE_UNPARSED, value=raw.strip(), raw=raw, valid=False)
    if not phonenumbers.is_possible_number(parsed):
        return Identifier(kind=PHONE_UNPARSED, value=raw.strip(), raw=raw, valid=False)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Identifier(kind=PHONE, value=e164, raw=raw)


def identifiers_for(customer: CustomerRef, default_region: str) -> list[Identifier]:
    """The event's identifiers, each with its proof: ``customer.proof`` for the phone and email
    (``verified`` when absent: the signing platform vouches), ``platform`` for external ids."""
    found: list[Identifier] = []
    if customer.phone:
        phone = normalize_phone(customer.phone, customer.region or default_region)
        found.append(replace(phone, proof=customer.proof.get("phone", VERIFIED)))
    if customer.email:
        found.append(replace(normalize_email(customer.email), proof=customer.proof.get("email", VERIFIED)))
    for system, value in sorted(customer.external_ids.items()):
        if value.strip():
            found.append(external(system, value))
    return found


def mask_phone(value: str) -> str:
    """For logs: keep the country code and the last two digits."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) <= 4:
        return "***"
    return f"{'+' if value.startswith('+') else ''}{''.join(digits[:1])}***{''.join(digits[-2:])}"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"
