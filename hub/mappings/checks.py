"""Checks a JSON Schema cannot express, each reported at the line of the offending node.

Every function takes parsed documents that may be malformed in any way (the schema problems are
reported separately), so each check looks only at the parts that have the expected shape and never
raises on bad input.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hub.domain.catalog import ANY_CHANNEL, Catalog
from hub.domain.mapping import METADATA_PREFIX, REQUIRED_OPTIONS, SOURCE_FIELDS, TRANSFORMS, is_known_source
from hub.mappings.yaml_lines import JsonPath, LinedDocument

MIN_INTENTS = 8
MAX_INTENTS = 15

# Rule keys that are transform options, and the transforms that read each one (``default`` is read
# by every transform when the source is empty).
OPTION_KEYS = ("max_length", "values", "default", "value", "separator")
OPTION_USERS: dict[str, frozenset[str] | None] = {
    "max_length": frozenset({"truncate"}),
    "values": frozenset({"value_map"}),
    "value": frozenset({"constant"}),
    "separator": frozenset({"join"}),
    "default": None,
}
# Sources whose value is a list; a rule copying or slugging one writes a list target (e.g. tags).
LIST_SOURCES = frozenset({"disposition.tags"})
LIST_TRANSFORMS = frozenset({"copy", "slug"})


@dataclass(frozen=True)
class Document:
    """One parsed admin file: ``display`` is how problems name it (``mappings/intents.yaml``)."""

    display: str
    lined: LinedDocument

    @property
    def data(self) -> Any:
        return self.lined.data

    def line(self, *path: str | int) -> int:
        return self.lined.line_of(path)


Finding = tuple[int, str]  # (line, message) within one document


def items(data: Any, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, item) for the mapping items of the list ``data[key]``; anything else is skipped."""
    if isinstance(data, dict) and isinstance(data.get(key), list):
        for index, item in enumerate(data[key]):
            if isinstance(item, dict):
                yield index, item


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# --- intents.yaml -------------------------------------------------------------------------------


def check_intents(doc: Document) -> Iterator[Finding]:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("intents"), list):
        return  # the schema reports the shape
    count = len(data["intents"])
    if not MIN_INTENTS <= count <= MAX_INTENTS:
        yield (
            doc.line("intents"),
            f"intents: {count} intents; the taxonomy needs {MIN_INTENTS} to {MAX_INTENTS} "
            "(fewer hides distinct problems, more makes tagging unreliable)",
        )
    first: dict[str, int] = {}
    for index, item in items(data, "intents"):
        code = _text(item.get("code"))
        if code is None:
            continue
        line = doc.line("intents", index, "code")
        if code in first:
            yield line, f"intents[{index}].code: duplicate intent code {code!r} (first at line {first[code]})"
        else:
            first[code] = line


# --- dispositions.yaml --------------------------------------------------------------------------


def check_dispositions(doc: Document, configured_crms: tuple[str, ...]) -> Iterator[Finding]:
    data = doc.data
    first_code: dict[str, int] = {}
    claimed: dict[tuple[str, str], tuple[str, int]] = {}
    for index, item in items(data, "dispositions"):
        code = _text(item.get("code"))
        where = f"dispositions[{index}]"
        if code is not None:
            line = doc.line("dispositions", index, "code")
            if code in first_code:
                yield (
                    line,
                    f"{where}.code: duplicate disposition code {code!r} (first at line {first_code[code]})",
                )
            else:
                first_code[code] = line
        name = code or where
        for d_index, default in items(item, "defaults"):
            pair = (default.get("channel"), default.get("outcome"))
            if not all(isinstance(part, str) for part in pair):
                continue
            line = doc.line("dispositions", index, "defaults", d_index)
            if pair in claimed and claimed[pair][0] != name:
                other, other_line = claimed[pair]
                yield (
                    line,
                    f"{where}.defaults[{d_index}]: {pair[0]}/{pair[1]} is already the default of {other} "
                    f"(line {other_line}); one (channel, outcome) pair can derive only one code",
                )
            else:
                claimed.setdefault(pair, (name, line))
        for crm in configured_crms:
            # A block without "value" or of the wrong type is the schema's to report.
            if crm not in item:
                message = f"{where}: {name} has no {crm} value, but fields.{crm}.yaml configures {crm}"
                yield doc.line("dispositions", index), message


def check_coverage(doc: Document, catalog: Catalog) -> Iterator[Finding]:
    """Every (channel, outcome) pair must derive some disposition, reported once at line 1."""
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("dispositions"), list):
        return
    uncovered = catalog.uncovered_outcomes()
    if uncovered:
        pairs = ", ".join(f"{channel}/{outcome}" for channel, outcome in uncovered)
        yield (
            1,
            f"no default disposition for {len(uncovered)} (channel, outcome) pair(s): {pairs}; "
            f'add a default for each (channel "{ANY_CHANNEL}" covers every channel)',
        )


# --- fields.<crm>.yaml --------------------------------------------------------------------------


def check_fields(doc: Document, crm: str) -> Iterator[Finding]:
    data = doc.data
    if not isinstance(data, dict):
        return
    named = data.get("crm")
    if isinstance(named, str) and named != crm:
        yield (
            doc.line("crm"),
            f"crm: the file is fields.{crm}.yaml but says crm: {named}; the two must agree",
        )
    for part in ("case", "activity"):
        mapping = data.get(part)
        if isinstance(mapping, dict):
            yield from _check_object(doc, part, mapping)


def _check_object(doc: Document, part: str, mapping: dict[str, Any]) -> Iterator[Finding]:
    targets: dict[str, list[tuple[int, bool]]] = {}
    for index, rule in items(mapping, "fields"):
        base: JsonPath = (part, "fields", index)
        where = f"{part}.fields[{index}]"
        transform = rule.get("transform", "copy")
        known_transform = isinstance(transform, str) and transform in TRANSFORMS
        source = rule.get("source")
        if isinstance(source, str):
            if not is_known_source(source):
                yield (
                    doc.line(*base, "source"),
                    f"{where}.source: unknown source {source!r}{_suggest(source)}",
                )
        elif source is None and known_transform and transform != "constant":
            yield (
                doc.line(*base),
                f"{where}: a {transform} rule needs a source (only constant rules have none)",
            )
        if known_transform:
            for option in REQUIRED_OPTIONS.get(transform, ()):
                if option not in rule:
                    yield doc.line(*base), f"{where}: transform {transform} needs option {option!r}"
            values = rule.get("values")
            if transform == "value_map" and isinstance(values, dict) and not values:
                yield doc.line(*base, "values"), f"{where}.values: a value_map needs at least one value"
            for option in OPTION_KEYS:
                users = OPTION_USERS[option]
                if option in rule and users is not None and transform not in users:
                    yield (
                        doc.line(*base, option),
                        f"{where}.{option}: option {option!r} has no effect with transform {transform} "
                        f"(it is read by {', '.join(sorted(users))})",
                    )
        target = rule.get("target")
        if isinstance(target, str):
            targets.setdefault(target, []).append((doc.line(*base, "target"), _writes_list(rule)))
    for target, uses in targets.items():
        if len(uses) < 2 or all(is_list for _, is_list in uses):
            continue  # list targets such as tags merge several rules
        first_line = uses[0][0]
        for line, _ in uses[1:]:
            yield (
                line,
                f"{part}: duplicate target {target!r} (first at line {first_line}); "
                "only list targets such as tags may have several rules",
            )


def _writes_list(rule: dict[str, Any]) -> bool:
    transform = rule.get("transform", "copy")
    if transform == "constant":
        return isinstance(rule.get("value"), list)
    source = rule.get("source")
    return (
        isinstance(source, str)
        and source in LIST_SOURCES
        and isinstance(transform, str)
        and transform in LIST_TRANSFORMS
    )


def _suggest(source: str) -> str:
    close = difflib.get_close_matches(source, sorted(SOURCE_FIELDS), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint}; expected a canonical field or {METADATA_PREFIX}<key>"
