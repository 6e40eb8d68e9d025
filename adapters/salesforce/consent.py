"""The customer's do-not-contact flags in Salesforce: ``hub.ports.CrmConsentSource`` for ``SalesforceCRM``.

    SELECT Id, DoNotCall, HasOptedOutOfEmail FROM Contact WHERE Id = '<salesforce_contact id>'
    SELECT Id, DoNotCall, HasOptedOutOfEmail FROM Contact WHERE Email = '<email>'
    SELECT Id, DoNotCall, HasOptedOutOfEmail FROM Contact WHERE Phone IN (<forms of the phone>)
    SELECT Id, DoNotCall, HasOptedOutOfEmail FROM Contact WHERE MobilePhone IN (<forms of the phone>)

One query per way to match (as ``repair``: no SOQL ``OR``, which the sandbox refuses too), each only
when the profile has that identifier. Salesforce keeps phone numbers as they were typed, so the
number is looked up in the forms people and Salesforce's own UI write it (E.164, national,
international, bare digits); a number stored in another form is not found, which is why the outbound
messages (``webhooks.salesforce_outbound``) feed the same flags into the consent ledger too.

``DoNotCall`` is the ``voice`` channel's flag and ``HasOptedOutOfEmail`` the ``email`` channel's
(``hub.domain.consent.SALESFORCE_FLAG_FIELDS``); a flag set on any matching Contact counts, and the
ids of the Contacts read go with the answer: the hub lets a read lift only the blocks of the records
it read, and a read that found no Contact changes nothing. Leads and Person Accounts carry the same
flags (``PersonDoNotCall``, ...) and reach the hub through outbound messages; they are not queried
here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import phonenumbers

from hub.domain.consent import SALESFORCE_FLAG_FIELDS, SALESFORCE_FLAG_SOURCE
from hub.ports import CrmOptOuts, CustomerProfile

from .crm import CONTACT_ID
from .repair import soql_literal

SOURCE = SALESFORCE_FLAG_SOURCE  # the consent ledger's source of these flags
SELECT = "SELECT Id, DoNotCall, HasOptedOutOfEmail FROM Contact WHERE"

Query = Callable[[str], Any]  # SOQL -> simple-salesforce's query_all answer ({"records": [...]})


def phone_forms(phone: str) -> list[str]:
    """The ways a number is commonly stored: ``+12125550100``, ``(212) 555-0100``, ``+1 212-555-0100``,
    ``2125550100``, ``212-555-0100``. An unparseable number is looked up as given."""
    forms = [phone]
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return forms
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    forms += [
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        national,
        phonenumbers.national_significant_number(number),
    ]
    if number.country_code == 1 and national.startswith("("):  # NANP: (212) 555-0100 -> 212-555-0100
        forms.append(national[1:].replace(") ", "-"))
    return list(dict.fromkeys(forms))


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(soql_literal(v) for v in values) + ")"


def queries(profile: CustomerProfile) -> list[str]:
    """The SOQL statements for this profile, in a stable order (tests pin them)."""
    select = SELECT  # values go through soql_literal, never spliced raw
    found = []
    contact = profile.external_ids.get(CONTACT_ID)
    if contact:
        found.append(f"{select} Id = {soql_literal(contact)}")
    if profile.email:
        found.append(f"{select} Email = {soql_literal(profile.email)}")
    if profile.phone:
        forms = _in(phone_forms(profile.phone))
        found.append(f"{select} Phone IN {forms}")
        found.append(f"{select} MobilePhone IN {forms}")
    return found


def read_opt_outs(query: Query, profile: CustomerProfile) -> CrmOptOuts:
    """Run ``queries`` through ``query`` (the adapter's call: quota, token, retries, error translation;
    raises ``CrmError``) and fold the Contacts found into one flag per channel."""
    records: dict[str, dict[str, Any]] = {}
    for soql in queries(profile):
        answer = query(soql)
        for record in (answer or {}).get("records") or ():
            if isinstance(record, dict) and record.get("Id"):
                records[str(record["Id"])] = record
    flags = {
        channel: any(record.get(name) is True for record in records.values())
        for channel, name in SALESFORCE_FLAG_FIELDS.items()
    }
    return CrmOptOuts(source=SOURCE, flags=flags, records=tuple(sorted(records)))
