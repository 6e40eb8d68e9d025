"""What a CRM record id may look like, checked before any call names it (a case hint, a search).

Salesforce: 15 case-sensitive characters of ``[A-Za-z0-9]``, or 18 whose last 3 encode the case of
the first 15 (each 5-character chunk's uppercase letters as a 5-bit number, as an index into
``A-Z0-5``); Salesforce itself accepts the suffix in either case. Zendesk: a positive integer that
fits its 64-bit ids. Zendesk search values: double-quoted; Zendesk's search reference documents the
double quotes of an exact phrase and no escape character, so a value holding a quote, a backslash or
a control character is never put in a query at all.
"""

from __future__ import annotations

import re

_SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ZENDESK_ID = re.compile(r"[1-9][0-9]{0,18}")
ZENDESK_MAX_ID = 2**63 - 1
_UNQUOTABLE = re.compile(r'["\\\x00-\x1f\x7f]')


def salesforce_id_suffix(id15: str) -> str:
    """The 3-character suffix that turns a 15-character Salesforce id into its 18-character form."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(id15[start : start + 5]) if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return suffix


def salesforce_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Salesforce record id, or None when it can."""
    if not _SALESFORCE_ID.fullmatch(value):
        return "is not a Salesforce id (15 or 18 letters and digits)"
    if len(value) == 18 and value[15:].upper() != salesforce_id_suffix(value[:15]):
        return "is not a Salesforce id: its last 3 characters do not match the first 15"
    return None


def zendesk_id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Zendesk ticket id, or None when it can."""
    if not _ZENDESK_ID.fullmatch(value) or int(value) > ZENDESK_MAX_ID:
        return "is not a Zendesk id (a positive integer)"
    return None


CASE_ID_RULES = {"salesforce": salesforce_id_problem, "zendesk": zendesk_id_problem}


def zendesk_search_value(value: str) -> str | None:
    """``value`` as a double-quoted Zendesk search term, or None when it cannot be quoted safely."""
    if not value or _UNQUOTABLE.search(value):
        return None
    return f'"{value}"'
