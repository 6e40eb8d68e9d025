"""Decoding an untrusted request body: the one JSON decoder of the web and webhook paths.

Every hostile body must end as a 4xx with the hub's error body, never a 5xx:

- not UTF-8 (``json.loads`` on bytes silently accepts UTF-16 and UTF-32; RFC 8259 §8.1 requires
  UTF-8 between systems), invalid UTF-8, a byte-order mark, unparseable JSON, nesting deep enough to
  raise RecursionError, an integer over Python's 4,300-digit conversion limit (ValueError): all
  :class:`Unparseable` (HTTP 400);
- a string (key or value) holding NUL or a lone surrogate (reachable through ``\\u0000`` and
  ``\\ud800`` escapes): JSON allows both, but PostgreSQL text refuses them at insert, so they are a
  :class:`ValidationFailed` (HTTP 422) naming the JSON path, found before anything is stored.

:func:`clean_text` applies the same character rule to text that did not come through JSON (form
fields, XML values).
"""

from __future__ import annotations

import json
import re
from typing import Any

from hub.domain.errors import Problem, ValidationFailed

MAX_DEPTH = 64  # the contract's deepest object is 3 levels; well below the interpreter's limit
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")
# In strict UTF-8 text parsed by ``json.loads`` (strict: no raw control characters in strings), a NUL
# or a surrogate can only come from a ``\u0000`` or ``\uD800``-``\uDFFF`` escape. A text without one
# (and with too few brackets to nest past MAX_DEPTH) needs no walk of the parsed value.
_MAY_BE_FORBIDDEN = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class Unparseable(ValidationFailed):
    """The body cannot be read at all (HTTP 400), as opposed to readable input that is invalid (422)."""

    code = "malformed_body"


def forbidden_character(text: str) -> str | None:
    """A description of the first character no store can keep (NUL, a lone surrogate), else None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    what = "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"
    return f"contains {what} at offset {found.start()}"


def clean_text(value: str, path: str) -> str:
    """``value`` unchanged, or ValidationFailed naming ``path`` when it holds a forbidden character."""
    problem = forbidden_character(value)
    if problem:
        raise ValidationFailed(f"{path} {problem}", [Problem(path, problem)])
    return value


def _key_path(parent: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key, ensure_ascii=True)}]"


def text_problems(payload: Any, root: str = "$") -> list[Problem]:
    """Every string (key or value) in ``payload`` that holds a forbidden character, with its path.

    Iterative (no recursion), and it gives up below :data:`MAX_DEPTH` levels as "too deep".
    """
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(payload, root, 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(Problem(path, f"is nested more than {MAX_DEPTH} levels deep"))
            continue
        if isinstance(value, str):
            problem = forbidden_character(value)
            if problem:
                problems.append(Problem(path, problem))
        elif isinstance(value, dict):
            for key, item in value.items():
                key_problem = forbidden_character(key)
                safe_key = key if key_problem is None else key.encode("utf-8", "backslashreplace").decode()
                child = _key_path(path, safe_key)
                if key_problem:
                    problems.append(Problem(child, f"its name {key_problem}"))
                stack.append((item, child, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))
    return sorted(problems, key=lambda p: p.path)


def _needs_walk(text: str) -> bool:
    """Whether the parsed value of ``text`` may hold a forbidden character or nest too deep (the
    walk in ``text_problems`` answers which); False only when it certainly does not."""
    return text.count("{") + text.count("[") > MAX_DEPTH or _MAY_BE_FORBIDDEN.search(text) is not None


def decode_text(body: bytes, what: str = "the body", error: type[Unparseable] = Unparseable) -> str:
    """``body`` as strict UTF-8 (no byte-order mark), else ``error`` (an Unparseable)."""
    if body.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        raise error(f"{what} starts with a byte-order mark: send UTF-8 without one", [Problem("$", "BOM")])
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8", [Problem("$", f"invalid byte at offset {exc.start}")]) from exc


def parse_json(body: bytes, error: type[Unparseable] = Unparseable) -> Any:
    """The JSON value of an untrusted body; Unparseable (400) or ValidationFailed (422), never more.

    NUL characters and lone surrogates anywhere in the value are refused here, so no caller can
    store one.
    """
    text = decode_text(body, error=error)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"the body is not valid JSON at character {exc.pos}", [Problem("$", exc.msg)]) from exc
    except RecursionError as exc:
        raise error("the body is nested too deeply", [Problem("$", "too deeply nested")]) from exc
    except ValueError as exc:  # e.g. an integer over sys.get_int_max_str_digits() digits
        raise error("the body holds a number the hub cannot read", [Problem("$", str(exc))]) from exc
    problems = text_problems(payload) if _needs_walk(text) else []
    if problems:
        count = len(problems)
        raise ValidationFailed(
            f"the body has {count} string{'s' if count > 1 else ''} no store can keep", problems
        )
    return payload
