"""The SOQL subset the sandbox answers.

    SELECT f1, f2 | COUNT() FROM Obj
      [WHERE cond [AND cond ...]]          cond: f = | != | <> | < | <= | > | >= literal,
                                                 f [NOT] IN (literal, ...), f LIKE 'pat%'
      [ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]

Literals: 'quoted strings' (backslash escapes), true/false, null, numbers, dates and datetimes.
String comparisons are case-insensitive and Ids compare in 15/18-character form, as in SOQL.
Unknown objects answer INVALID_TYPE, unknown fields INVALID_FIELD (with the real message layout:
the query, a caret line, ``ERROR at Row:1:Column:n``); anything outside the subset (OR, relationship
fields, sub-queries, aggregates other than COUNT()) answers MALFORMED_QUERY.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .common import parse_iso_datetime
from .schema import SfField, SfObject, sf_object

_TOKEN = re.compile(
    r"""
     (?P<ws>\s+)
    |(?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))?)
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<op>!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])
    |(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)
    |(?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "LIMIT",
    "OFFSET",
    "NULLS",
    "FIRST",
    "LAST",
    "TRUE",
    "FALSE",
    "NULL",
    "COUNT",
    "GROUP",
    "HAVING",
    "WITH",
    "FOR",
    "UPDATE",
    "TYPEOF",
    "USING",
    "SCOPE",
}


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass
class Literal:
    kind: str  # "string", "number", "bool", "null", "date", "datetime"
    value: Any


@dataclass
class Condition:
    field: SfField
    op: str  # "=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "LIKE"
    values: list[Literal]


@dataclass
class Query:
    sobject: SfObject
    fields: list[SfField] | None  # None means COUNT()
    conditions: list[Condition] = field(default_factory=list)
    order: list[tuple[SfField, bool, bool]] = field(default_factory=list)  # (field, desc, nulls_first)
    limit: int | None = None
    offset: int = 0


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks: list[_Tok] = []
        for match in _TOKEN.finditer(text):
            kind = match.lastgroup or "bad"
            if kind == "ws":
                continue
            self.toks.append(_Tok(kind, match.group(), match.start()))
        self.i = 0

    # -- helpers -------------------------------------------------------------------------------

    def _located(self, tok: _Tok | None, message: str) -> str:
        pos = tok.pos if tok else len(self.text)
        return f"\n{self.text}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}"

    def malformed(self, tok: _Tok | None = None, message: str | None = None) -> SoqlError:
        tok = tok if tok is not None else self.peek()
        if message is None:
            message = f"unexpected token: '{tok.text}'" if tok else "unexpected end of query"
        return SoqlError("MALFORMED_QUERY", self._located(tok, message))

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise self.malformed(None)
        self.i += 1
        return tok

    def at_kw(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "ident" and tok.upper in words

    def expect_kw(self, word: str) -> _Tok:
        tok = self.next()
        if tok.kind != "ident" or tok.upper != word:
            raise self.malformed(tok)
        return tok

    def expect_punct(self, char: str) -> _Tok:
        tok = self.next()
        if tok.kind != "punct" or tok.text != char:
            raise self.malformed(tok)
        return tok

    # -- grammar -------------------------------------------------------------------------------

    def parse(self) -> Query:
        self.expect_kw("SELECT")
        count = False
        raw_fields: list[_Tok] = []
        if self.at_kw("COUNT") and self.i + 1 < len(self.toks) and self.toks[self.i + 1].text == "(":
            self.next()
            self.expect_punct("(")
            self.expect_punct(")")
            count = True
        else:
            while True:
                tok = self.next()
                if tok.kind == "punct" and tok.text == "(":
                    raise self.malformed(tok, "sandbox SOQL: sub-queries are not supported")
                if tok.kind != "ident" or tok.upper in ("FROM",):
                    raise self.malformed(tok)
                if self.peek() is not None and self.peek().text == "(":  # type: ignore[union-attr]
                    raise self.malformed(
                        tok, "sandbox SOQL: aggregate functions other than COUNT() are not supported"
                    )
                raw_fields.append(tok)
                if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                    self.next()
                    continue
                break
        self.expect_kw("FROM")
        obj_tok = self.next()
        # Group is an object's name as well as a keyword (GROUP BY): after FROM it names the object.
        if obj_tok.kind != "ident" or (obj_tok.upper in _KEYWORDS and obj_tok.upper != "GROUP"):
            raise self.malformed(obj_tok)
        obj = sf_object(obj_tok.text)
        if obj is None:
            raise SoqlError(
                "INVALID_TYPE",
                self._located(
                    obj_tok,
                    f"sObject type '{obj_tok.text}' is not supported. If you are attempting to use a custom "
                    "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
                    "or the describe call for the appropriate names.",
                ),
            )
        query = Query(sobject=obj, fields=None if count else [self.resolve(obj, t) for t in raw_fields])
        if self.at_kw("WHERE"):
            self.next()
            query.conditions.append(self.condition(obj))
            while self.at_kw("AND", "OR"):
                tok = self.next()
                if tok.upper == "OR":
                    raise self.malformed(tok, "sandbox SOQL: only AND is supported between conditions")
                query.conditions.append(self.condition(obj))
        if self.at_kw("ORDER"):
            self.next()
            self.expect_kw("BY")
            while True:
                fld = self.resolve(obj, self.next())
                desc = False
                if self.at_kw("ASC", "DESC"):
                    desc = self.next().upper == "DESC"
                nulls_first = not desc
                if self.at_kw("NULLS"):
                    self.next()
                    which = self.next()
                    if which.upper not in ("FIRST", "LAST"):
                        raise self.malformed(which)
                    nulls_first = which.upper == "FIRST"
                query.order.append((fld, desc, nulls_first))
                if self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                    self.next()
                    continue
                break
        if self.at_kw("LIMIT"):
            self.next()
            query.limit = self.integer()
        if self.at_kw("OFFSET"):
            self.next()
            query.offset = self.integer()
        if self.peek() is not None:
            raise self.malformed(self.peek())
        return query

    def integer(self) -> int:
        tok = self.next()
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.malformed(tok)
        return int(tok.text)

    def resolve(self, obj: SfObject, tok: _Tok) -> SfField:
        if tok.kind != "ident" or tok.upper in _KEYWORDS:
            raise self.malformed(tok)
        if "." in tok.text:
            raise self.malformed(tok, "sandbox SOQL: relationship fields are not supported")
        fld = obj.field(tok.text)
        if fld is None:
            raise SoqlError(
                "INVALID_FIELD",
                self._located(
                    tok,
                    f"No such column '{tok.text}' on entity '{obj.name}'. If you are attempting to use a "
                    "custom field, be sure to append the '__c' after the custom field name. Please reference "
                    "your WSDL or the describe call for the appropriate names.",
                ),
            )
        return fld

    def condition(self, obj: SfObject) -> Condition:
        tok = self.peek()
        if tok is not None and tok.kind == "punct" and tok.text == "(":
            raise self.malformed(tok, "sandbox SOQL: parenthesised conditions are not supported")
        if self.at_kw("NOT"):
            raise self.malformed(self.peek(), "sandbox SOQL: NOT before a condition is not supported")
        fld = self.resolve(obj, self.next())
        op_tok = self.next()
        if op_tok.kind == "op":
            op = "!=" if op_tok.text == "<>" else op_tok.text
            return Condition(fld, op, [self.literal(fld)])
        if op_tok.kind == "ident" and op_tok.upper == "LIKE":
            lit = self.literal(fld)
            if lit.kind != "string":
                raise self.malformed(op_tok)
            return Condition(fld, "LIKE", [lit])
        negate = False
        if op_tok.kind == "ident" and op_tok.upper == "NOT":
            negate = True
            op_tok = self.next()
        if op_tok.kind == "ident" and op_tok.upper == "IN":
            self.expect_punct("(")
            values = [self.literal(fld)]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                values.append(self.literal(fld))
            self.expect_punct(")")
            return Condition(fld, "NOT IN" if negate else "IN", values)
        raise self.malformed(op_tok)

    def literal(self, fld: SfField) -> Literal:
        tok = self.next()
        if tok.kind == "string":
            value = re.sub(
                r"\\(.)",
                lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)),
                tok.text[1:-1],
            )
            lit = Literal("string", value)
        elif tok.kind == "number":
            lit = Literal("number", float(tok.text) if "." in tok.text else int(tok.text))
        elif tok.kind == "datetime":
            lit = Literal("datetime" if "T" in tok.text else "date", tok.text)
        elif tok.kind == "ident" and tok.upper in ("TRUE", "FALSE"):
            lit = Literal("bool", tok.upper == "TRUE")
        elif tok.kind == "ident" and tok.upper == "NULL":
            lit = Literal("null", None)
        else:
            raise self.malformed(tok)
        self._check_type(fld, lit, tok)
        return lit

    def _check_type(self, fld: SfField, lit: Literal, tok: _Tok) -> None:
        if lit.kind == "null":
            return
        expected = {"boolean": "bool", "int": "number", "date": "date", "datetime": "datetime"}.get(
            fld.type, "string"
        )
        if lit.kind == expected:
            return
        if fld.type == "boolean":
            message = (
                f"value of filter criterion for field '{fld.name}' must be of type boolean and should "
                "not be enclosed in quotes"
            )
        elif expected == "string":
            message = (
                f"value of filter criterion for field '{fld.name}' must be of type string and should "
                "be enclosed in quotes"
            )
        elif expected == "number":
            message = (
                f"value of filter criterion for field '{fld.name}' must be of type integer and should "
                "not be enclosed in quotes"
            )
        else:
            message = (
                f"value of filter criterion for field '{fld.name}' must be of type {fld.type} and "
                "should not be enclosed in quotes"
            )
        raise SoqlError("INVALID_FIELD", self._located(tok, message))


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "unexpected end of query")
    return _Parser(text).parse()


# --------------------------------------------------------------------------------------------
# Evaluation over rendered records
# --------------------------------------------------------------------------------------------


def _norm(fld: SfField, value: Any, id15: Callable[[str], str]) -> Any:
    if value is None:
        return None
    if fld.type in ("id", "reference") and isinstance(value, str):
        return id15(value).lower() if len(value) in (15, 18) else value.lower()
    if fld.type == "datetime" and isinstance(value, str):
        return parse_iso_datetime(value) or value
    if isinstance(value, str):
        return value.lower()
    return value


def _like(pattern: str) -> re.Pattern[str]:
    out = []
    for char in pattern:
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _matches(cond: Condition, record: dict[str, Any], id15: Callable[[str], str]) -> bool:
    value = _norm(cond.field, record.get(cond.field.name), id15)
    lits = [_norm(cond.field, lit.value, id15) for lit in cond.values]
    if cond.op in ("IN", "NOT IN"):
        found = value in lits
        return found if cond.op == "IN" else not found
    if cond.op == "LIKE":
        return value is not None and bool(
            _like(str(cond.values[0].value)).match(str(record.get(cond.field.name)))
        )
    lit = lits[0]
    if cond.op == "=":
        return value == lit
    if cond.op == "!=":
        return value != lit
    if value is None or lit is None:
        return False
    try:
        return {"<": value < lit, "<=": value <= lit, ">": value > lit, ">=": value >= lit}[cond.op]
    except TypeError:
        return False


def run(query: Query, records: list[dict[str, Any]], id15: Callable[[str], str]) -> list[dict[str, Any]]:
    """Filter, order and page ``records`` (rendered field dicts) as ``query`` says."""
    rows = [r for r in records if all(_matches(c, r, id15) for c in query.conditions)]
    for fld, desc, nulls_first in reversed(query.order):
        present = [r for r in rows if r.get(fld.name) is not None]
        missing = [r for r in rows if r.get(fld.name) is None]
        present.sort(key=lambda r, f=fld: _norm(f, r.get(f.name), id15), reverse=desc)
        rows = missing + present if nulls_first else present + missing
    rows = rows[query.offset :]
    if query.limit is not None:
        rows = rows[: query.limit]
    return rows
