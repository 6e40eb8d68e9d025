"""Zendesk end users the way Talk and Text make them, and finding them again by phone.

    POST /api/v2/users.json  {"user": {"name", "identities": [{"type": "phone_number", "value"}]}}
         (how Talk creates a caller: a phone identity, no external_id); ``phone`` is set from the
         first phone identity and ``email`` from the first email identity when not given
    GET  /api/v2/users/{id}/identities.json     the user's email and phone_number identities
    GET  /api/v2/users/search.json?query=...    the Search API's user keywords used by the hub:
         ``role:``, ``phone:``, ``email:``, ``external_id:``, ``name:``, bare words; a keyword given
         several times matches any of its values, different keywords must all match.
         ``phone:`` takes digits (Talk's guide: no ``+``, no punctuation) and matches a user whose
         phone has the same digits, or, with a leading ``*``, ends with them.
    GET  /api/v2/users/search.json?external_id=  exact, no search syntax

Unlike the real index, a new user is found at once (Zendesk's search lags by minutes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from . import store as db
from .common import ApiResponse

if TYPE_CHECKING:
    from .zendesk import ZendeskApi

_TERM = re.compile(r'([A-Za-z_]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)')
KEYWORDS = ("role", "phone", "email", "external_id", "name")


def digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def with_identities(spec: dict[str, Any]) -> dict[str, Any]:
    """A user spec whose ``identities`` fill ``phone`` and ``email`` when those are not given."""
    identities = spec.get("identities")
    if not isinstance(identities, list):
        return spec
    spec = dict(spec)
    kept = [i for i in identities if isinstance(i, dict) and i.get("type") in ("phone_number", "email")]
    for identity in kept:
        name = "phone" if identity["type"] == "phone_number" else "email"
        if not spec.get(name) and identity.get("value"):
            spec[name] = str(identity["value"])
    spec["identities"] = [{"type": i["type"], "value": str(i.get("value") or "")} for i in kept]
    return spec


def identities(api: ZendeskApi, pk: int, data: Mapping[str, Any]) -> ApiResponse:
    user_id = api.render_user(pk, data)["id"]
    found: list[tuple[str, str]] = []
    if data.get("email"):
        found.append(("email", str(data["email"])))
    if data.get("phone"):
        found.append(("phone_number", str(data["phone"])))
    for identity in data.get("identities") or ():
        pair = (str(identity.get("type")), str(identity.get("value")))
        if pair not in found:
            found.append(pair)
    rendered = [
        {
            "id": user_id * 10 + n,
            "user_id": user_id,
            "type": kind,
            "value": value,
            "verified": kind == "phone_number",
            "primary": n == 0 or kind != found[0][0],
            "created_at": data.get("created_at"),
            "updated_at": data.get("updated_at"),
            "url": f"{api.base_url}/api/v2/users/{user_id}/identities/{user_id * 10 + n}.json",
        }
        for n, (kind, value) in enumerate(found)
    ]
    return ApiResponse(
        200, {"identities": rendered, "next_page": None, "previous_page": None, "count": len(rendered)}
    )


def _matches(data: Mapping[str, Any], key: str, value: str) -> bool:
    if key == "phone":
        numbers = [digits(data.get("phone"))] + [
            digits(i.get("value")) for i in data.get("identities") or () if i.get("type") == "phone_number"
        ]
        wanted = digits(value)
        if not wanted:
            return False
        if value.startswith("*"):
            return any(n.endswith(wanted) for n in numbers if n)
        return wanted in numbers
    if key == "role":
        return str(data.get("role") or "end-user").lower() == value.lower()
    if key:
        return str(data.get(key) or "").lower() == value.lower()
    return any(
        str(data.get(name) or "").lower() == value.lower()
        for name in ("email", "external_id", "phone", "name")
    )


def search_users(api: ZendeskApi, conn: Connection, query: Mapping[str, list[str]]) -> ApiResponse:
    external_id = (query.get("external_id") or [None])[0]
    text = ((query.get("query") or [""])[0]).strip()
    rows = db.zd_users_all(conn)
    if external_id:
        rows = [(pk, d) for pk, d in rows if str(d.get("external_id") or "").lower() == external_id.lower()]
    elif text:
        terms: dict[str, list[str]] = {}
        for keyword, quoted_or_plain, phrase, word in _TERM.findall(text):
            key = keyword.lower() if keyword.lower() in KEYWORDS else ""
            value = (quoted_or_plain.strip('"') if keyword else phrase or word).strip()
            if keyword and not key:  # an unknown keyword: searched as text, as Zendesk would
                value = f"{keyword}:{value}"
            terms.setdefault(key, []).append(value)
        rows = [
            (pk, d)
            for pk, d in rows
            if all(any(_matches(d, key, value) for value in values) for key, values in terms.items())
        ]
    else:
        rows = []
    users = [api.render_user(pk, d) for pk, d in rows]
    return ApiResponse(200, {"users": users, "next_page": None, "previous_page": None, "count": len(users)})
