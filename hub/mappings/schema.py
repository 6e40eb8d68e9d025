"""The JSON Schemas of the admin files, and their errors as readable file:line problems.

The schemas live in ``mappings/schemas/`` beside the files they describe (editors read them through
the ``# yaml-language-server: $schema=...`` line). The loader validates against the copy that ships
with this code, so the checks always match the code that reads the data; a mappings directory
outside the source tree falls back to its own ``schemas/``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from hub.mappings.yaml_lines import JsonPath, LinedDocument

# The project's own mappings/schemas (source tree or editable install).
BUNDLED_SCHEMA_DIR = Path(__file__).resolve().parents[2] / "mappings" / "schemas"

SCHEMA_KINDS = ("intents", "dispositions", "fields", "sla", "routing")


def schema_path(kind: str, directory: Path) -> Path | None:
    """Where the schema of ``kind`` is: the bundled copy first, then ``<directory>/schemas``."""
    for folder in (BUNDLED_SCHEMA_DIR, directory / "schemas"):
        candidate = folder / f"{kind}.schema.json"
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _validator(path: Path, mtime_ns: int) -> Draft202012Validator:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validator_for(path: Path) -> Draft202012Validator:
    return _validator(path, path.stat().st_mtime_ns)


def schema_errors(validator: Draft202012Validator, document: LinedDocument) -> Iterator[tuple[int, str]]:
    """Every schema violation in ``document`` as (line, message), in no particular order."""
    for error in validator.iter_errors(document.data):
        yield from _describe(error, document)


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def _type_word(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    return type(value).__name__


def dotted(path: Sequence[str | int]) -> str:
    """``('dispositions', 3, 'zendesk')`` -> ``dispositions[3].zendesk``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _where(path: JsonPath) -> str:
    return f"{dotted(path)}: " if path else ""


def _describe(error: ValidationError, document: LinedDocument) -> Iterator[tuple[int, str]]:
    path: JsonPath = tuple(error.absolute_path)
    line = document.line_of(path)
    kind = error.validator
    instance = error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = list(error.schema.get("properties", {}))
        for key in instance:
            if key not in known:
                yield (
                    document.line_of((*path, key)),
                    f"{_where(path)}unknown key {key!r}; expected one of: {', '.join(known)}",
                )
        return
    if "propertyNames" in error.schema_path:
        # jsonschema reports the key itself as the instance, at the mapping's path.
        yield (
            document.line_of((*path, instance)),
            f"{_where(path)}key {instance!r} must be text; quote it in YAML "
            "(unquoted yes/no/on/off/true/false read as booleans, digits as numbers)",
        )
        return
    if kind == "required" and isinstance(instance, dict):
        for key in error.validator_value:
            if key not in instance:
                yield line, f"{_where(path)}missing required key {key!r}"
        return
    if kind == "enum":
        title = error.schema.get("title", "value")
        allowed = ", ".join(str(v) for v in error.validator_value)
        yield line, f"{_where(path)}unknown {title} {instance!r}; expected one of: {allowed}"
        return
    if kind == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_TYPE_WORDS.get(name, name) for name in names)
        if not path and instance is None:
            yield line, "the file is empty"
        else:
            yield line, f"{_where(path)}expected {wanted}, got {_type_word(instance)}"
        return
    if kind == "const":
        note = error.schema.get("description")
        yield (
            line,
            f"{_where(path)}expected {error.validator_value!r}, got {instance!r}"
            + (f"; {note}" if note else ""),
        )
        return
    if kind == "pattern":
        title = error.schema.get("title")
        what = f"not a valid {title}" if title else "has the wrong form"
        yield line, f"{_where(path)}{instance!r} is {what} (must match {error.validator_value})"
        return
    yield line, f"{_where(path)}{error.message}"
