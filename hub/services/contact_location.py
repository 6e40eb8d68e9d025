"""Where a phone number may ring: its candidate time zones and states, from libphonenumber's data.

``phonenumbers.timezone.time_zones_for_number`` gives the zones of the number's block (down to the
NPA-NXX where the data has it: 850-222 Tallahassee is Eastern, 850-432 Pensacola Central). Pitfalls
handled here (reference/recovery.md section 2):

- ``Etc/Unknown`` (an invalid number) means unknown: never allowed;
- toll-free and other non-geographic numbers get the *country's* list (42 zones for +1 800):
  treated as unknown, so only a postal state can place them;
- the data says where the block was allocated, not where the person is now: the customer's postal
  state adds its own zones and rules (``hub.domain.contact_window.locate``);
- the state of an area code comes from the geocoder's description ("Florida", "Pensacola, FL");
  Florida and Oklahoma presume residency from the area code, so its rules apply;
- Yukon keeps UTC-7 all year but its numbers map to America/Vancouver: the province's own zone is
  added (``ZONE_CORRECTIONS``).
"""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import PhoneNumberType, geocoder, timezone

from hub.domain.contact_window import SUBDIVISION_ZONES, ContactLocation, locate

UNKNOWN_ZONE = "Etc/Unknown"
GEOGRAPHIC = frozenset(
    {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
)
# (country, state) -> zones libphonenumber misses for that subdivision's numbers.
ZONE_CORRECTIONS: dict[tuple[str, str], tuple[str, ...]] = {("CA", "YT"): ("America/Whitehorse",)}

_STATE_NAMES = {
    "US": {
        "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
        "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Washington D.C.": "DC",
        "Washington DC": "DC", "District of Columbia": "DC", "Florida": "FL", "Georgia": "GA",
        "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
        "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
        "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
        "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
        "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
        "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
        "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
        "Virginia": "VA", "Washington": "WA", "Washington State": "WA", "West Virginia": "WV",
        "Wisconsin": "WI", "Wyoming": "WY", "Puerto Rico": "PR",
    },
    "CA": {
        "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
        "Newfoundland and Labrador": "NL", "Newfoundland": "NL", "Nova Scotia": "NS",
        "Northwest Territories": "NT", "Nunavut": "NU", "Ontario": "ON", "Prince Edward Island": "PE",
        "Quebec": "QC", "Saskatchewan": "SK", "Yukon": "YT",
    },
}  # fmt: skip
_SUFFIX = re.compile(r",\s*([A-Z]{2})$")


def _state(description: str, country: str | None) -> str | None:
    """``"Pensacola, FL"`` -> FL; ``"Florida"`` -> FL; anything else -> None."""
    known = SUBDIVISION_ZONES.get(country or "", {})
    match = _SUFFIX.search(description)
    if match and match.group(1) in known:
        return match.group(1)
    return _STATE_NAMES.get(country or "", {}).get(description.strip())


@functools.lru_cache(maxsize=65536)
def number_location(phone: str | None) -> tuple[tuple[str, ...], str | None, tuple[str, ...]]:
    """(zones, country, states) of an E.164 number; zones () when unknown or non-geographic."""
    if not phone:
        return (), None, ()
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return (), None, ()
    country = phonenumbers.region_code_for_number(parsed)
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in GEOGRAPHIC:
        return (), country, ()
    zones = tuple(z for z in timezone.time_zones_for_number(parsed) if z != UNKNOWN_ZONE)
    state = _state(geocoder.description_for_number(parsed, "en"), country)
    states = (state,) if state else ()
    if state and (country, state) in ZONE_CORRECTIONS:
        zones += tuple(z for z in ZONE_CORRECTIONS[(country, state)] if z not in zones)
    return zones, country, states


def contact_location(
    phone: str | None, postal_state: str | None, default_region: str = "US"
) -> ContactLocation:
    """Every zone and jurisdiction the customer may be in (an unknown zone: ``zones`` empty)."""
    zones, country, states = number_location(phone)
    return locate(zones, country or default_region, states, postal_state)
