"""The Salesforce REST API subset, answered from the sandbox tables.

Everything here works on decoded path segments after ``/services/data/vNN.N/`` and a parsed JSON
body, so ``/composite`` can run its subrequests through the same code in the same transaction.
Errors are Salesforce's JSON arrays ``[{"message", "errorCode"[, "fields"]}]``; sObject
Collections results carry ``{"statusCode", "message", "fields"}`` per record, as the real API does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Connection, Engine

from . import soql
from . import store as db
from .common import ApiResponse, Now, parse_iso_datetime, sf_datetime
from .routing_targets import SEEDED_QUEUES
from .schema import GROUP, QUEUE_SOBJECT, SF_OBJECTS, SF_OBJECTS_BY_PREFIX, SfField, SfObject, sf_object

API_LIMIT = 100_000
COMPOSITE_LIMIT = 25
COMPOSITE_QUERY_LIMIT = 5
COLLECTION_LIMIT = 200
SUPPORTED_VERSIONS = ("58.0", "59.0", "60.0", "61.0", "62.0")

NOT_FOUND_MESSAGE = "The requested resource does not exist"
ROLLED_BACK = "The transaction was rolled back since another operation in the same transaction failed."
ALL_OR_NONE_ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using AllOrNone header"
)

# --------------------------------------------------------------------------------------------
# Salesforce-style record ids
# --------------------------------------------------------------------------------------------

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_POD = "Sb0"  # characters 4-6 of every sandbox id (the "instance" part of a real id)
_ID_SHAPE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def _suffix(id15: str) -> str:
    out = ""
    for chunk in range(3):
        bits = 0
        for pos, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << pos
        out += _SUFFIX[bits]
    return out


def make_id(prefix: str, pk: int) -> str:
    """The 18-character id of record ``pk`` (case-safe suffix computed as Salesforce does)."""
    digits = ""
    n = pk
    while n:
        n, rem = divmod(n, 62)
        digits = _B62[rem] + digits
    id15 = prefix + _POD + digits.rjust(9, "0")
    return id15 + _suffix(id15)


def to18(value: str) -> str:
    """A 15-character id in its 18-character form (other values unchanged)."""
    if len(value) == 15 and value.isalnum():
        return value + _suffix(value)
    return value


def _id_of(record: Any) -> Any:
    """A collection record's ``id`` (any case), or None."""
    if not isinstance(record, dict):
        return None
    return next((v for k, v in record.items() if k.lower() == "id"), None)


def parse_id(value: Any) -> tuple[str, int | None] | None:
    """``(key prefix, pk or None)`` for an id-shaped string, None when it is not an id at all.

    pk is None for well-formed ids that cannot be sandbox records (another org's ids).
    """
    if not isinstance(value, str) or not _ID_SHAPE.match(value):
        return None
    if len(value) == 18 and _suffix(value[:15]) != value[15:].upper():
        return None
    id15 = value[:15]
    if id15[3:6] != _POD:
        return id15[:3], None
    pk = 0
    for char in id15[6:]:
        pk = pk * 62 + _B62.index(char)
    return id15[:3], pk or None


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class SfError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]

    def collection_error(self) -> dict[str, Any]:
        return {"statusCode": self.code, "message": self.message, "fields": self.fields or []}

    def response(self) -> ApiResponse:
        return ApiResponse(self.status, self.body())


class _MultipleMatches(Exception):
    def __init__(self, obj: SfObject, pks: list[int]) -> None:
        super().__init__("several records match")
        self.obj = obj
        self.pks = pks

    def urls(self, version: str) -> list[str]:
        name = self.obj.name
        return [
            f"/services/data/v{version}/sobjects/{name}/{make_id(self.obj.key_prefix, pk)}" for pk in self.pks
        ]


def _not_found() -> SfError:
    return SfError(404, "NOT_FOUND", NOT_FOUND_MESSAGE)


def _bad_ext_field(name: str) -> SfError:
    return SfError(
        404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}"
    )


def _json_error(message: str) -> SfError:
    return SfError(400, "JSON_PARSER_ERROR", message)


def _method_not_allowed(method: str, allowed: str) -> SfError:
    return SfError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. Allowed are {allowed}")


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class _Prepared:
    """A validated write: the record's full data after it, and which fields it sets."""

    data: dict[str, Any]
    changed: set[str]


class SalesforceApi:
    def __init__(self, engine: Engine, now: Now, usage: Callable[[], int]) -> None:
        self.engine = engine
        self.now = now
        self.usage = usage
        self.queues = list(SEEDED_QUEUES)  # routing targets (adapters/sandbox/routing_targets.py)

    def queue_records(self, sobject: str) -> list[dict[str, Any]]:
        """The queues as rendered ``Group`` or ``QueueSobject`` records (for SOQL)."""
        stamp = "2026-01-05T09:00:00.000+0000"
        if sobject == GROUP.name:
            return [
                {
                    "Id": make_id(GROUP.key_prefix, queue.pk),
                    "Name": queue.name,
                    "DeveloperName": queue.developer_name,
                    "Type": "Queue",
                    "CreatedDate": stamp,
                    "LastModifiedDate": stamp,
                }
                for queue in self.queues
            ]
        if sobject == QUEUE_SOBJECT.name:
            return [
                {
                    "Id": make_id(QUEUE_SOBJECT.key_prefix, queue.pk * 10 + number),
                    "QueueId": make_id(GROUP.key_prefix, queue.pk),
                    "SobjectType": supported,
                    "CreatedDate": stamp,
                    "LastModifiedDate": stamp,
                }
                for queue in self.queues
                for number, supported in enumerate(queue.sobjects)
            ]
        return []

    # -- entry point ---------------------------------------------------------------------------

    def handle(
        self, method: str, segments: list[str], query: Mapping[str, list[str]], body: bytes | None
    ) -> ApiResponse:
        """Answer one HTTP request; ``segments`` are the decoded path segments after the host."""
        method = method.upper()
        if len(segments) < 2 or segments[0] != "services" or segments[1] != "data":
            return _not_found().response()
        if len(segments) == 2 or (len(segments) == 3 and segments[2] == ""):
            return ApiResponse(
                200,
                [
                    {"label": f"API {v}", "url": f"/services/data/v{v}", "version": v}
                    for v in SUPPORTED_VERSIONS
                ],
            )
        match = re.fullmatch(r"v(\d+\.\d)", segments[2])
        if not match:
            return _not_found().response()
        version = match.group(1)
        rest = [s for s in segments[3:]]
        while rest and rest[-1] == "":
            rest.pop()
        try:
            payload = self._parse_body(body)
        except SfError as exc:
            return exc.response()
        return db.run_transaction(
            self.engine, lambda conn: self._dispatch(conn, method, version, rest, query, payload, top=True)
        )

    @staticmethod
    def _parse_body(body: bytes | None) -> Any:
        if body is None or not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError as exc:
            raise _json_error(f"Unexpected character in the request body: {exc}") from None

    # -- routing -------------------------------------------------------------------------------

    def _dispatch(
        self,
        conn: Connection,
        method: str,
        version: str,
        rest: list[str],
        query: Mapping[str, list[str]],
        payload: Any,
        *,
        top: bool,
    ) -> ApiResponse:
        try:
            return self._route(conn, method, version, rest, query, payload, top=top)
        except SfError as exc:
            return exc.response()

    def _route(
        self,
        conn: Connection,
        method: str,
        version: str,
        rest: list[str],
        query: Mapping[str, list[str]],
        payload: Any,
        *,
        top: bool,
    ) -> ApiResponse:
        base = f"/services/data/v{version}"
        if not rest:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            return ApiResponse(
                200,
                {
                    "sobjects": f"{base}/sobjects",
                    "query": f"{base}/query",
                    "queryAll": f"{base}/queryAll",
                    "composite": f"{base}/composite",
                    "limits": f"{base}/limits",
                },
            )
        head = rest[0]
        if head == "limits" and len(rest) == 1:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            used = self.usage()
            return ApiResponse(
                200, {"DailyApiRequests": {"Max": API_LIMIT, "Remaining": max(0, API_LIMIT - used)}}
            )
        if head in ("query", "queryAll") and len(rest) == 1:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            return self._query(conn, version, (query.get("q") or [""])[0])
        if head == "composite":
            if len(rest) == 1:
                if method != "POST":
                    raise _method_not_allowed(method, "POST")
                if not top:
                    raise _not_found()
                return self._composite(conn, version, payload)
            if rest[1] == "sobjects":
                if len(rest) == 2:
                    if method == "PATCH":
                        return self._collection_update(conn, payload)
                    if method != "POST":
                        raise _method_not_allowed(method, "POST,PATCH,DELETE,GET")
                    return self._collection_create(conn, version, payload)
                if len(rest) == 4:
                    if method != "PATCH":
                        raise _method_not_allowed(method, "PATCH")
                    return self._collection_upsert(conn, version, rest[2], rest[3], payload)
            raise _not_found()
        if head == "sobjects":
            return self._sobjects(conn, method, version, rest[1:], query, payload)
        raise _not_found()

    def _sobjects(
        self,
        conn: Connection,
        method: str,
        version: str,
        rest: list[str],
        query: Mapping[str, list[str]],
        payload: Any,
    ) -> ApiResponse:
        if not rest:
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            return ApiResponse(
                200,
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": COLLECTION_LIMIT,
                    "sobjects": [o.global_describe(version) for o in SF_OBJECTS.values()],
                },
            )
        obj = sf_object(rest[0])
        if obj is None:
            raise _not_found()
        if len(rest) == 1:
            if method == "GET":
                return ApiResponse(200, {"objectDescribe": obj.global_describe(version), "recentItems": []})
            if method == "POST":
                pk = self.create(conn, obj, payload)
                return ApiResponse(201, {"id": make_id(obj.key_prefix, pk), "success": True, "errors": []})
            raise _method_not_allowed(method, "GET,HEAD,POST")
        if len(rest) == 2 and rest[1] == "describe":
            if method != "GET":
                raise _method_not_allowed(method, "GET,HEAD")
            return ApiResponse(200, obj.describe(version))
        if len(rest) == 2:
            pk = self._record_pk(conn, obj, rest[1])
            if pk is None:
                if parse_id(rest[1]) is not None and self._id_of_object(obj, rest[1]):
                    raise _not_found()
                raise _bad_ext_field(rest[1])
            return self._record(conn, method, version, obj, pk, query, payload)
        if len(rest) == 3:
            return self._by_external_id(conn, method, version, obj, rest[1], rest[2], query, payload)
        raise _not_found()

    # -- single records ------------------------------------------------------------------------

    @staticmethod
    def _id_of_object(obj: SfObject, value: str) -> bool:
        parsed = parse_id(value)
        return parsed is not None and parsed[0] == obj.key_prefix

    def _record_pk(self, conn: Connection, obj: SfObject, value: str) -> int | None:
        parsed = parse_id(value)
        if parsed is None or parsed[0] != obj.key_prefix or parsed[1] is None:
            return None
        return parsed[1] if db.sf_exists(conn, parsed[1], [obj.name]) else None

    def _record(
        self,
        conn: Connection,
        method: str,
        version: str,
        obj: SfObject,
        pk: int,
        query: Mapping[str, list[str]],
        payload: Any,
    ) -> ApiResponse:
        if method == "GET":
            return ApiResponse(200, self._get_rendered(conn, obj, pk, version, query))
        if method == "PATCH":
            self.update(conn, obj, pk, payload)
            return ApiResponse(204)
        if method == "DELETE":
            db.sf_delete(conn, pk)
            return ApiResponse(204)
        raise _method_not_allowed(method, "GET,HEAD,PATCH,DELETE")

    def _get_rendered(
        self, conn: Connection, obj: SfObject, pk: int, version: str, query: Mapping[str, list[str]]
    ) -> dict[str, Any]:
        found = db.sf_get(conn, pk)
        if found is None:
            raise _not_found()
        fields = None
        if query.get("fields"):
            fields = []
            for name in ",".join(query["fields"]).split(","):
                fld = obj.field(name.strip())
                if fld is None:
                    raise SfError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{name.strip()}' on entity '{obj.name}'. "
                        "If you are attempting to use a custom field, be sure to append the '__c' after "
                        "the custom field name. Please reference your WSDL or the describe call for the "
                        "appropriate names.",
                    )
                fields.append(fld)
        return self.render(obj, pk, found[1], version, fields)

    def _by_external_id(
        self,
        conn: Connection,
        method: str,
        version: str,
        obj: SfObject,
        field_name: str,
        value: str,
        query: Mapping[str, list[str]],
        payload: Any,
    ) -> ApiResponse:
        fld = obj.field(field_name)
        if fld is not None and fld.type == "id":
            pk = self._record_pk(conn, obj, value)
            if pk is None:
                raise _not_found()
            return self._record(conn, method, version, obj, pk, query, payload)
        if fld is None or not fld.upsert_key:
            raise _bad_ext_field(field_name)
        if method == "PATCH":
            update_only = (query.get("updateOnly") or ["false"])[0].lower() == "true"
            try:
                pk, created = self.upsert(conn, obj, fld, value, payload, update_only=update_only)
            except _MultipleMatches as exc:
                return ApiResponse(300, exc.urls(version))
            record_id = make_id(obj.key_prefix, pk)
            if float(version) < 46.0:
                return (
                    ApiResponse(201, {"id": record_id, "success": True, "errors": []})
                    if created
                    else ApiResponse(204)
                )
            return ApiResponse(
                201 if created else 200, {"id": record_id, "success": True, "errors": [], "created": created}
            )
        matches = db.sf_find_key(conn, obj.name, fld.name, value)
        if method in ("GET", "DELETE"):
            if not matches:
                raise _not_found()
            if len(matches) > 1:
                return ApiResponse(300, _MultipleMatches(obj, matches).urls(version))
            if method == "DELETE":
                db.sf_delete(conn, matches[0])
                return ApiResponse(204)
            return ApiResponse(200, self._get_rendered(conn, obj, matches[0], version, query))
        raise _method_not_allowed(method, "GET,HEAD,PATCH,DELETE")

    # -- rendering -----------------------------------------------------------------------------

    def render(
        self,
        obj: SfObject,
        pk: int,
        data: Mapping[str, Any],
        version: str,
        fields: list[SfField] | None = None,
        *,
        attributes: bool = True,
    ) -> dict[str, Any]:
        record_id = make_id(obj.key_prefix, pk)
        out: dict[str, Any] = {}
        if attributes:
            out["attributes"] = {
                "type": obj.name,
                "url": f"/services/data/v{version}/sobjects/{obj.name}/{record_id}",
            }
        for fld in fields if fields is not None else obj.fields:
            if fld.type == "id":
                out[fld.name] = record_id
            elif fld.auto_number:
                out[fld.name] = f"{pk:08d}"
            else:
                out[fld.name] = data.get(fld.name)
        return out

    # -- writes --------------------------------------------------------------------------------

    def create(
        self,
        conn: Connection,
        obj: SfObject,
        payload: Any,
        *,
        extra: Mapping[str, Any] | None = None,
        upsert_key: str | None = None,
    ) -> int:
        prepared = self.prepare(
            conn, obj, payload, pk=None, existing=None, extra=extra, upsert_key=upsert_key
        )
        return self.apply(conn, obj, None, prepared)

    def update(self, conn: Connection, obj: SfObject, pk: int, payload: Any) -> None:
        found = db.sf_get(conn, pk)
        if found is None:
            raise _not_found()
        if isinstance(payload, dict) and any(k.lower() == "id" for k in payload):
            raise SfError(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
        prepared = self.prepare(conn, obj, payload, pk=pk, existing=found[1])
        self.apply(conn, obj, pk, prepared)

    def upsert(
        self,
        conn: Connection,
        obj: SfObject,
        fld: SfField,
        value: str,
        payload: Any,
        *,
        update_only: bool = False,
        key_in_body_ok: bool = False,
    ) -> tuple[int, bool]:
        if isinstance(payload, dict):
            for key in payload:
                if key.lower() == "id":
                    raise SfError(
                        400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."
                    )
                if key.lower() == fld.name.lower() and not key_in_body_ok:
                    raise SfError(
                        400,
                        "INVALID_FIELD",
                        f"The {fld.name} field should not be specified in the sobject data: "
                        "the external ID value is given in the URL.",
                        [fld.name],
                    )
        matches = db.sf_find_key(conn, obj.name, fld.name, value)
        if len(matches) > 1:
            raise _MultipleMatches(obj, matches)
        if matches:
            pk = matches[0]
            found = db.sf_get(conn, pk)
            assert found is not None
            body = (
                {k: v for k, v in payload.items() if k.lower() != fld.name.lower()}
                if isinstance(payload, dict)
                else payload
            )
            prepared = self.prepare(conn, obj, body, pk=pk, existing=found[1])
            self.apply(conn, obj, pk, prepared)
            return pk, False
        if update_only:
            raise _not_found()
        body = (
            {k: v for k, v in payload.items() if k.lower() != fld.name.lower()}
            if isinstance(payload, dict)
            else payload
        )
        pk = self.create(conn, obj, body, extra={fld.name: value}, upsert_key=fld.name)
        return pk, True

    def prepare(
        self,
        conn: Connection,
        obj: SfObject,
        payload: Any,
        *,
        pk: int | None,
        existing: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
        batch_keys: dict[tuple[str, str], int] | None = None,
        upsert_key: str | None = None,
    ) -> _Prepared:
        """Validate one create (``existing`` None) or update; nothing is written."""
        creating = existing is None
        if not isinstance(payload, dict):
            kind = (
                "START_ARRAY"
                if isinstance(payload, list)
                else "VALUE_NULL"
                if payload is None
                else "VALUE_STRING"
            )
            raise _json_error(
                f"Cannot deserialize instance of {obj.name} from {kind} value or request may be "
                "missing a required field"
            )
        items: list[tuple[SfField, Any]] = []
        for key, value in list(payload.items()) + list((extra or {}).items()):
            if key == "attributes":
                continue
            fld = obj.field(key)
            if fld is None:
                raise SfError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
            if fld.type == "id":
                if creating:
                    raise SfError(
                        400, "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call", ["Id"]
                    )
                raise SfError(
                    400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."
                )
            items.append((fld, value))
        locked = [f.name for f, _ in items if not (f.createable if creating else f.updateable)]
        if locked:
            raise SfError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security settings of "
                "this field and verify that it is read/write for your profile or permission set.",
                locked,
            )
        changes: dict[str, Any] = {}
        for fld, value in items:
            changes[fld.name] = self._coerce(conn, fld, value)
        data = dict(existing or {})
        if creating:
            for fld in obj.fields:
                if fld.name not in changes and fld.default is not None and (fld.createable or fld.updateable):
                    data[fld.name] = fld.default
        data.update(changes)
        missing = [
            f.name
            for f in obj.fields
            if not f.nillable
            and (f.createable or f.updateable)
            and f.type != "boolean"
            and (f.name in changes or creating)
            and data.get(f.name) in (None, "")
        ]
        if missing:
            raise SfError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        for fld in obj.fields:
            # An upsert's own key is left to the UNIQUE constraint: a racing creator makes the INSERT
            # fail, the request is replayed, and the replay finds (and updates) the winner's record.
            if (
                fld.unique
                and fld.name in changes
                and changes[fld.name] is not None
                and fld.name != upsert_key
            ):
                value = str(changes[fld.name])
                owners = [p for p in db.sf_find_key(conn, obj.name, fld.name, value) if p != pk]
                key = (fld.name, value.strip().lower())
                if batch_keys is not None and key in batch_keys:
                    owners.append(batch_keys[key])
                if owners:
                    owner = make_id(obj.key_prefix, owners[0]) if owners[0] > 0 else "unknown"
                    raise SfError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {fld.name} duplicates value on record with id: {owner}",
                        [fld.name],
                    )
                if batch_keys is not None:
                    batch_keys[key] = -1
        self._derive(obj, data, existing)
        return _Prepared(data, set(changes))

    def _derive(self, obj: SfObject, data: dict[str, Any], existing: Mapping[str, Any] | None) -> None:
        stamp = sf_datetime(self.now())
        if existing is None:
            data["CreatedDate"] = stamp
            for fld in obj.fields:
                if fld.type == "boolean":
                    data[fld.name] = bool(data.get(fld.name) or False)
        data["LastModifiedDate"] = stamp
        if obj.has_status:
            closed = data.get("Status") in obj.closed_statuses
            was_closed = bool(existing and existing.get("IsClosed"))
            data["IsClosed"] = closed
            if obj.field("ClosedDate") is not None:
                if closed and not was_closed:
                    data["ClosedDate"] = stamp
                elif not closed:
                    data["ClosedDate"] = None
        if obj.name == "Contact":
            data["Name"] = " ".join(p for p in (data.get("FirstName"), data.get("LastName")) if p)

    def _coerce(self, conn: Connection, fld: SfField, value: Any) -> Any:
        if fld.type == "boolean":
            if value is None:
                return False
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise _json_error(
                f"Cannot deserialize instance of boolean from VALUE_STRING value {value} or request "
                "may be missing a required field"
            )
        if value is None or (isinstance(value, str) and value == ""):
            return None
        if isinstance(value, (dict, list)):
            kind = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
            raise _json_error(
                f"Cannot deserialize instance of {fld.type} from {kind} value or request may "
                "be missing a required field"
            )
        if fld.type == "int":
            if isinstance(value, bool):
                raise _json_error(f"Cannot deserialize instance of int from VALUE_TRUE value {value}")
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, int):
                return value
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                return int(value.strip())
            raise _json_error(
                f"Cannot deserialize instance of int from VALUE_STRING value {value} or request may "
                "be missing a required field"
            )
        if fld.type == "date":
            if isinstance(value, str) and _DATE.match(value):
                try:
                    date.fromisoformat(value)
                    return value
                except ValueError:
                    pass
            raise _json_error(
                f'Cannot deserialize value of type `java.util.Date` from String "{value}": '
                'expected format "yyyy-MM-dd"'
            )
        if fld.type == "datetime":
            moment = parse_iso_datetime(value) if isinstance(value, str) else None
            if moment is None:
                raise _json_error(
                    f'Cannot deserialize value of type `java.util.Date` from String "{value}": '
                    "expected format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\""
                )
            return sf_datetime(moment)
        if fld.type == "reference":
            return self._reference(conn, fld, value)
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if len(text) > fld.length > 0:
            raise SfError(
                400,
                "STRING_TOO_LONG",
                f"{fld.label}: data value too large: {text[:100]} (max length={fld.length})",
                [fld.name],
            )
        if fld.type == "email" and not _EMAIL.match(text):
            raise SfError(
                400, "INVALID_EMAIL_ADDRESS", f"{fld.label}: invalid email address: {text}", [fld.name]
            )
        if fld.restricted and text not in fld.picklist:
            raise SfError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{fld.label}: bad value for restricted picklist field: {text}",
                [fld.name],
            )
        return text

    def _reference(self, conn: Connection, fld: SfField, value: Any) -> str:
        parsed = parse_id(value) if isinstance(value, str) else None
        if parsed is None:
            raise SfError(
                400, "MALFORMED_ID", f"{fld.label}: id value of incorrect type: {value}", [fld.name]
            )
        prefix, pk = parsed
        if prefix == GROUP.key_prefix and GROUP.name in fld.reference_to:
            return self._queue_owner(value, pk, fld)
        targets = [SF_OBJECTS[name] for name in fld.reference_to if name in SF_OBJECTS]
        if prefix not in {t.key_prefix for t in targets}:
            raise SfError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"{fld.label}: id value of incorrect type: {value}",
                [fld.name],
            )
        if pk is None or not db.sf_exists(conn, pk, [SF_OBJECTS_BY_PREFIX[prefix].name]):
            raise SfError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fld.name])
        return to18(value)

    def _queue_owner(self, value: str, pk: int | None, fld: SfField) -> str:
        """A Case's OwnerId naming a queue: it must exist and support Cases (modelled on the
        INVALID_CROSS_REFERENCE_KEY / FIELD_INTEGRITY_EXCEPTION answers; the exact text is not recorded)."""
        queue = next((q for q in self.queues if q.pk == pk), None)
        if queue is None:
            raise SfError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [fld.name])
        if "Case" not in queue.sobjects:
            raise SfError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                f"{fld.label}: owner cannot be a queue that does not support this object: {value}",
                [fld.name],
            )
        return to18(value)

    def apply(self, conn: Connection, obj: SfObject, pk: int | None, prepared: _Prepared) -> int:
        if pk is None:
            pk = db.sf_insert(conn, obj.name, prepared.data)
            keys = [f for f in obj.fields if f.upsert_key and not f.auto_number]
            for fld in obj.fields:
                if fld.auto_number and fld.upsert_key:
                    db.sf_set_key(conn, obj.name, fld.name, pk, f"{pk:08d}", unique=True)
        else:
            db.sf_update(conn, pk, prepared.data)
            keys = [f for f in obj.fields if f.upsert_key and f.name in prepared.changed]
        for fld in keys:
            db.sf_set_key(conn, obj.name, fld.name, pk, prepared.data.get(fld.name), unique=fld.unique)
        return pk

    # -- query ---------------------------------------------------------------------------------

    def _query(self, conn: Connection, version: str, text: str) -> ApiResponse:
        if not text.strip():
            raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            parsed = soql.parse(text)
        except soql.SoqlError as exc:
            raise SfError(400, exc.code, exc.message) from None
        obj = parsed.sobject
        rendered = [
            self.render(obj, pk, data, version, attributes=False) for pk, data in db.sf_all(conn, obj.name)
        ] + self.queue_records(obj.name)
        rows = soql.run(parsed, rendered, to18)
        if parsed.fields is None:
            return ApiResponse(200, {"totalSize": len(rows), "done": True, "records": []})
        records = []
        for row in rows:
            record: dict[str, Any] = {
                "attributes": {
                    "type": obj.name,
                    "url": f"/services/data/v{version}/sobjects/{obj.name}/{row['Id']}",
                }
            }
            for fld in parsed.fields:
                record[fld.name] = row.get(fld.name)
            records.append(record)
        return ApiResponse(200, {"totalSize": len(records), "done": True, "records": records})

    # -- sObject Collections -------------------------------------------------------------------

    def _collection_records(self, payload: Any) -> tuple[bool, list[Any]]:
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
            raise _json_error(
                'Cannot deserialize the request body: expected {"allOrNone": ..., "records": [...]}'
            )
        records = payload["records"]
        if len(records) > COLLECTION_LIMIT:
            raise SfError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        return bool(payload.get("allOrNone", False)), records

    @staticmethod
    def _record_type(record: Any) -> SfObject:
        if not isinstance(record, dict):
            raise _json_error("Cannot deserialize instance of SObject from VALUE_STRING value")
        attributes = record.get("attributes")
        type_name = attributes.get("type") if isinstance(attributes, dict) else None
        if not type_name:
            raise SfError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        obj = sf_object(str(type_name))
        if obj is None:
            raise SfError(400, "INVALID_TYPE", f"sObject type '{type_name}' is not supported.")
        return obj

    def _collection_create(self, conn: Connection, version: str, payload: Any) -> ApiResponse:
        all_or_none, records = self._collection_records(payload)
        results: list[dict[str, Any]] = []
        if all_or_none:
            prepared: list[tuple[SfObject, _Prepared] | None] = []
            batch_keys: dict[tuple[str, str], int] = {}
            failed = False
            for record in records:
                try:
                    obj = self._record_type(record)
                    prepared.append(
                        (obj, self.prepare(conn, obj, record, pk=None, existing=None, batch_keys=batch_keys))
                    )
                    results.append({})
                except SfError as exc:
                    prepared.append(None)
                    results.append({"success": False, "errors": [exc.collection_error()]})
                    failed = True
            if failed:
                rolled = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": ALL_OR_NONE_ROLLED_BACK,
                    "fields": [],
                }
                return ApiResponse(200, [r if r else {"success": False, "errors": [rolled]} for r in results])
            out = []
            for item in prepared:
                assert item is not None
                obj, prep = item
                pk = self.apply(conn, obj, None, prep)
                out.append({"id": make_id(obj.key_prefix, pk), "success": True, "errors": []})
            return ApiResponse(200, out)
        for record in records:
            try:
                obj = self._record_type(record)
                pk = self.create(conn, obj, record)
                results.append({"id": make_id(obj.key_prefix, pk), "success": True, "errors": []})
            except SfError as exc:
                results.append({"success": False, "errors": [exc.collection_error()]})
        return ApiResponse(200, results)

    def _collection_update(self, conn: Connection, payload: Any) -> ApiResponse:
        """PATCH composite/sobjects: update up to 200 records by ``id`` (mixed types allowed)."""
        all_or_none, records = self._collection_records(payload)
        ids = [_id_of(r) for r in records if isinstance(r, dict)]
        steps: list[tuple[SfObject, int, Any] | dict[str, Any]] = []
        for record in records:
            try:
                obj = self._record_type(record)
                raw_id = _id_of(record)
                parsed = parse_id(raw_id)
                if parsed is None or parsed[0] != obj.key_prefix or parsed[1] is None:
                    raise SfError(400, "MALFORMED_ID", f"{obj.name} ID: id value of incorrect type: {raw_id}")
                if ids.count(raw_id) > 1:
                    raise SfError(400, "INVALID_FIELD", f"Duplicate id in list: {raw_id}")
                found = db.sf_get(conn, parsed[1])
                if found is None:
                    raise SfError(400, "ENTITY_IS_DELETED", "entity is deleted")
                body = {k: v for k, v in record.items() if k.lower() not in ("id", "attributes")}
                steps.append((obj, parsed[1], self.prepare(conn, obj, body, pk=parsed[1], existing=found[1])))
            except SfError as exc:
                steps.append({"success": False, "errors": [exc.collection_error()]})
        if all_or_none and any(isinstance(step, dict) for step in steps):
            rolled = {
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "message": ALL_OR_NONE_ROLLED_BACK,
                "fields": [],
            }
            return ApiResponse(
                200, [s if isinstance(s, dict) else {"success": False, "errors": [rolled]} for s in steps]
            )
        results = []
        for step in steps:
            if isinstance(step, dict):
                results.append(step)
                continue
            obj, pk, prepared = step
            self.apply(conn, obj, pk, prepared)
            results.append({"id": make_id(obj.key_prefix, pk), "success": True, "errors": []})
        return ApiResponse(200, results)

    def _collection_upsert(
        self, conn: Connection, version: str, type_name: str, field_name: str, payload: Any
    ) -> ApiResponse:
        obj = sf_object(type_name)
        if obj is None:
            raise _not_found()
        fld = obj.field(field_name)
        if fld is None or not fld.upsert_key:
            raise _bad_ext_field(field_name)
        all_or_none, records = self._collection_records(payload)
        seen: dict[str, int] = {}
        for record in records:
            if isinstance(record, dict):
                value = next((v for k, v in record.items() if k.lower() == fld.name.lower()), None)
                if value not in (None, ""):
                    seen[str(value).strip().lower()] = seen.get(str(value).strip().lower(), 0) + 1

        def one(record: Any) -> tuple[int, bool]:
            rec_obj = self._record_type(record)
            if rec_obj.name != obj.name:
                raise SfError(400, "INVALID_TYPE", f"Record type {rec_obj.name} does not match {obj.name}")
            value = next((v for k, v in record.items() if k.lower() == fld.name.lower()), None)
            if value in (None, ""):
                raise SfError(400, "MISSING_ARGUMENT", f"{fld.name} not specified")
            if seen.get(str(value).strip().lower(), 0) > 1:
                raise SfError(
                    400, "DUPLICATE_EXTERNAL_ID", f"Duplicate external id specified: {value}", [fld.name]
                )
            for key in record:
                if key.lower() == "id":
                    raise SfError(
                        400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."
                    )
            try:
                return self.upsert(conn, obj, fld, str(value), record, key_in_body_ok=True)
            except _MultipleMatches:
                raise SfError(
                    300,
                    "DUPLICATE_EXTERNAL_ID",
                    f"{fld.name}: more than one record found for external id field: {value}",
                    [fld.name],
                ) from None

        if all_or_none:
            # Validate every record first (nothing written), then write them all.
            failures: list[dict[str, Any] | None] = []
            for record in records:
                try:
                    rec_obj = self._record_type(record)
                    value = next((v for k, v in record.items() if k.lower() == fld.name.lower()), None)
                    if value in (None, ""):
                        raise SfError(400, "MISSING_ARGUMENT", f"{fld.name} not specified")
                    if seen.get(str(value).strip().lower(), 0) > 1:
                        raise SfError(
                            400,
                            "DUPLICATE_EXTERNAL_ID",
                            f"Duplicate external id specified: {value}",
                            [fld.name],
                        )
                    matches = db.sf_find_key(conn, obj.name, fld.name, str(value))
                    if len(matches) > 1:
                        raise SfError(
                            300,
                            "DUPLICATE_EXTERNAL_ID",
                            f"{fld.name}: more than one record found for external id field: {value}",
                            [fld.name],
                        )
                    body = {k: v for k, v in record.items() if k.lower() != fld.name.lower()}
                    if rec_obj.name != obj.name:
                        raise SfError(
                            400, "INVALID_TYPE", f"Record type {rec_obj.name} does not match {obj.name}"
                        )
                    if matches:
                        found = db.sf_get(conn, matches[0])
                        self.prepare(conn, obj, body, pk=matches[0], existing=found[1] if found else {})
                    else:
                        self.prepare(conn, obj, body, pk=None, existing=None, extra={fld.name: value})
                    failures.append(None)
                except SfError as exc:
                    failures.append({"success": False, "errors": [exc.collection_error()]})
            if any(failures):
                rolled = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": ALL_OR_NONE_ROLLED_BACK,
                    "fields": [],
                }
                return ApiResponse(
                    200, [f if f else {"success": False, "errors": [rolled]} for f in failures]
                )
        results = []
        for record in records:
            try:
                pk, created = one(record)
                results.append(
                    {"id": make_id(obj.key_prefix, pk), "success": True, "errors": [], "created": created}
                )
            except SfError as exc:
                results.append({"success": False, "errors": [exc.collection_error()]})
        return ApiResponse(200, results)

    # -- composite -----------------------------------------------------------------------------

    def _composite(self, conn: Connection, version: str, payload: Any) -> ApiResponse:
        if not isinstance(payload, dict) or not isinstance(payload.get("compositeRequest"), list):
            raise _json_error("Cannot deserialize the request body: 'compositeRequest' must be an array")
        subrequests = payload["compositeRequest"]
        all_or_none = bool(payload.get("allOrNone", False))
        if len(subrequests) > COMPOSITE_LIMIT:
            raise SfError(
                400,
                "LIMIT_EXCEEDED",
                f"Composite request cannot have more than {COMPOSITE_LIMIT} subrequests. "
                f"Received {len(subrequests)}.",
            )
        seen_refs: set[str] = set()
        heavy = 0
        for sub in subrequests:
            if not isinstance(sub, dict) or not sub.get("method") or not sub.get("url"):
                raise _json_error("Each subrequest needs 'method', 'url' and 'referenceId'")
            ref = sub.get("referenceId")
            if not isinstance(ref, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", ref):
                raise SfError(400, "INVALID_INPUT", f"Invalid referenceId: {ref!r}")
            if ref in seen_refs:
                raise SfError(400, "INVALID_INPUT", f"Duplicate ReferenceId provided in the request: {ref}")
            seen_refs.add(ref)
            path = urlsplit(str(sub["url"])).path
            if re.search(r"/(query|queryAll)/?$", path) or "/composite/sobjects" in path:
                heavy += 1
        if heavy > COMPOSITE_QUERY_LIMIT:
            raise SfError(
                400,
                "LIMIT_EXCEEDED",
                f"Composite request cannot have more than {COMPOSITE_QUERY_LIMIT} query or sObject "
                "Collections subrequests.",
            )
        outputs: dict[str, Any] = {}
        responses: list[dict[str, Any]] = []
        failed_at: int | None = None
        for index, sub in enumerate(subrequests):
            ref = sub["referenceId"]
            try:
                url = _substitute(str(sub["url"]), outputs, in_url=True)
                body = _substitute(sub.get("body"), outputs, in_url=False)
            except _RefError as exc:
                resp = SfError(400, "PROCESSING_HALTED", str(exc)).response()
            else:
                resp = self._subrequest(conn, str(sub["method"]).upper(), url, body)
            entry = {
                "body": resp.body,
                "httpHeaders": resp.headers,
                "httpStatusCode": resp.status,
                "referenceId": ref,
            }
            responses.append(entry)
            if resp.status < 400:
                outputs[ref] = resp.body
            elif all_or_none:
                failed_at = index
                break
        if failed_at is None:
            return ApiResponse(200, {"compositeResponse": responses})
        halted = [{"errorCode": "PROCESSING_HALTED", "message": ROLLED_BACK}]
        final = []
        for index, sub in enumerate(subrequests):
            if index == failed_at:
                final.append(responses[index])
            else:
                final.append(
                    {
                        "body": halted,
                        "httpHeaders": {},
                        "httpStatusCode": 400,
                        "referenceId": sub["referenceId"],
                    }
                )
        raise db.Rollback(ApiResponse(200, {"compositeResponse": final}))

    def _subrequest(self, conn: Connection, method: str, url: str, body: Any) -> ApiResponse:
        parts = urlsplit(url)
        segments = [unquote(s) for s in parts.path.split("/")]
        if segments and segments[0] == "":
            segments = segments[1:]
        match = re.fullmatch(r"v(\d+\.\d)", segments[2]) if len(segments) > 2 else None
        if len(segments) < 3 or segments[:2] != ["services", "data"] or not match:
            return _not_found().response()
        rest = segments[3:]
        while rest and rest[-1] == "":
            rest.pop()
        query = parse_qs(parts.query, keep_blank_values=True)
        resp = self._dispatch(conn, method, match.group(1), rest, query, body, top=False)
        if (
            resp.status == 201
            and isinstance(resp.body, dict)
            and "id" in resp.body
            and rest[:1] == ["sobjects"]
        ):
            resp.headers = {
                "Location": f"/services/data/v{match.group(1)}/sobjects/{rest[1]}/{resp.body['id']}"
            }
        return resp


class _RefError(Exception):
    pass


_REF = re.compile(r"@\{([A-Za-z][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\])*)\}")


def _resolve(ref: str, path: str, outputs: Mapping[str, Any]) -> Any:
    if ref not in outputs:
        raise _RefError(
            f"Invalid reference specified. No value for {ref}{path} found in {ref}. Provided referenceId "
            f"('{ref}') must match the referenceId of a previous successful subrequest."
        )
    value = outputs[ref]
    for step in re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", path):
        name, index = step
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            raise _RefError(
                f"Invalid reference specified. No value for {ref}{path} found in {ref}."
            ) from None
    return value


def _substitute(value: Any, outputs: Mapping[str, Any], *, in_url: bool) -> Any:
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole and not in_url:
            return _resolve(whole.group(1), whole.group(2), outputs)
        return _REF.sub(lambda m: str(_resolve(m.group(1), m.group(2), outputs)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, outputs, in_url=in_url) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, outputs, in_url=in_url) for v in value]
    return value
