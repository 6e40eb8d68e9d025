"""``GET /api/v2/search.json``: the Zendesk Search API subset the hub's dedup repair uses.

    query=type:ticket status<solved requester:<user id|email> custom_field_<id>:<value> ...
    [&sort_by=created_at|updated_at|status|priority] [&sort_order=asc|desc] [&page=n] [&per_page=n]

Terms are ANDed; ``key:value`` is equality, ``status<x`` / ``status>x`` compare in Zendesk's status
order (new < open < pending < hold < solved < closed), a leading ``-`` negates a term, ``"…"`` quotes
a value. Keywords: ``type`` (ticket only), ``status``, ``requester``, ``external_id``, ``tags``,
``priority``, ``custom_field_<id>``; a bare word matches subject or description. Any other keyword
answers 400 (the real API would search text instead: a sandbox refusal keeps tests honest about
what the adapter relies on). Results have ``result_type: "ticket"``; at most 1,000 results (page 11 of
100 answers 422), as documented. Unlike the real index, new tickets are found at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from . import store as db
from .common import ApiResponse
from .schema import ZD_STATUSES

if TYPE_CHECKING:
    from .zendesk import ZendeskApi

MAX_RESULTS = 1000
_TERM = re.compile(r'(-?)([A-Za-z_][A-Za-z0-9_]*)(:|<|>)("[^"]*"|\S*)|"([^"]*)"|(\S+)')


def _error(status: int, error: str, description: str) -> ApiResponse:
    return ApiResponse(status, {"error": error, "description": description})


def answer(
    api: ZendeskApi, conn: Connection, method: str, rest: list[str], query: Mapping[str, list[str]]
) -> ApiResponse:
    if method != "GET" or rest not in ([], ["count"]):
        return _error(404, "InvalidEndpoint", "Not found")
    text = (query.get("query") or [""])[0]
    try:
        tests = [_test(api, conn, match) for match in _TERM.finditer(text)]
    except ValueError as exc:
        return _error(400, "InvalidSearchQuery", str(exc))
    rows = [(pk, data) for pk, data in db.zd_tickets_where(conn) if all(test(pk, data) for test in tests)]
    if rest == ["count"]:
        return ApiResponse(200, {"count": len(rows)})
    sort_by = (query.get("sort_by") or [""])[0]
    descending = (query.get("sort_order") or ["desc"])[0] == "desc"
    if sort_by == "status":
        rows.sort(key=lambda r: ZD_STATUSES.index(r[1]["status"]), reverse=descending)
    elif sort_by in ("created_at", "updated_at", "priority"):
        rows.sort(key=lambda r: (str(r[1].get(sort_by) or ""), r[0]), reverse=descending)
    per_page = min(max(_int((query.get("per_page") or ["100"])[0], 100), 1), 100)
    page = max(_int((query.get("page") or ["1"])[0], 1), 1)
    if (page - 1) * per_page >= MAX_RESULTS:
        return _error(422, "invalid", f"Search results are limited to {MAX_RESULTS} results")
    chunk = rows[(page - 1) * per_page : page * per_page]
    results = [{**api.render_ticket(pk, data), "result_type": "ticket"} for pk, data in chunk]
    more = page * per_page < min(len(rows), MAX_RESULTS)
    base = f"{api.base_url}/api/v2/search.json"
    return ApiResponse(
        200,
        {
            "results": results,
            "facets": None,
            "next_page": f"{base}?page={page + 1}&per_page={per_page}" if more else None,
            "previous_page": f"{base}?page={page - 1}&per_page={per_page}" if page > 1 else None,
            "count": len(rows),
        },
    )


def _int(text: str, default: int) -> int:
    return int(text) if text.isdigit() else default


def _test(api: ZendeskApi, conn: Connection, match: re.Match[str]) -> Callable[[int, dict[str, Any]], bool]:
    negate, key, op, raw, quoted, word = match.groups()
    if key is None:
        needle = (quoted if quoted is not None else word or "").lower()
        return lambda _pk, d: needle in f"{d.get('subject') or ''}\n{d.get('description') or ''}".lower()
    value = raw[1:-1] if raw.startswith('"') and raw.endswith('"') else raw
    test = _keyword(api, conn, key.lower(), op, value)
    return (lambda pk, d: not test(pk, d)) if negate else test


def _keyword(
    api: ZendeskApi, conn: Connection, key: str, op: str, value: str
) -> Callable[[int, dict[str, Any]], bool]:
    if op != ":" and key != "status":
        raise ValueError(f"sandbox search: '{key}{op}' is not supported (only status compares)")
    if key == "type":
        if value != "ticket":
            raise ValueError("sandbox search: only type:ticket is supported")
        return lambda _pk, _d: True
    if key == "status":
        if value not in ZD_STATUSES:
            raise ValueError(f"unknown status {value!r}")
        rank = ZD_STATUSES.index(value)
        compare = {":": rank.__eq__, "<": rank.__gt__, ">": rank.__lt__}[op]
        return lambda _pk, d: compare(ZD_STATUSES.index(d["status"]))
    if key == "requester":
        wanted = _user_id(api, conn, value)
        return lambda _pk, d: wanted is not None and d.get("requester_id") == wanted
    if key == "external_id":
        return lambda _pk, d: str(d.get("external_id") or "").lower() == value.lower()
    if key in ("tags", "tag"):
        return lambda _pk, d: value.lower() in (d.get("tags") or [])
    if key == "priority":
        return lambda _pk, d: str(d.get("priority") or "").lower() == value.lower()
    if key.startswith("custom_field_") and key.removeprefix("custom_field_").isdigit():
        field_id = key.removeprefix("custom_field_")
        return lambda _pk, d: str((d.get("custom") or {}).get(field_id) or "").lower() == value.lower()
    raise ValueError(f"sandbox search: keyword {key!r} is not supported")


def _user_id(api: ZendeskApi, conn: Connection, value: str) -> int | None:
    from .zendesk import USER_ID_BASE

    if value.isdigit():
        return int(value)
    pk = db.zd_user_find(conn, email=value) if "@" in value else None
    return None if pk is None else USER_ID_BASE + pk
