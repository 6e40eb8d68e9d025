"""``mappings/routing.yaml``: the checks a JSON Schema cannot express, and building the ``RoutingConfig``.

The loader (``hub.mappings.loader``) reads the file and its schema like every other admin file, then
calls ``check`` (findings at their lines) and, when nothing is wrong anywhere, ``build``. The file is
optional: without it ``Mappings.routing`` is None and every case lands unassigned, as before.

Whether each target exists in the CRM (and a queue takes Cases) is the live check's to say
(``hub.services.routing_check``, ``ctihub crm check``): this file is checked offline.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from hub.domain.routing import TARGET_KINDS, UNASSIGNED, RoutingConfig, RoutingRule, language_matches
from hub.mappings.checks import Document, Finding, items

FILE = "routing.yaml"
KIND = "routing"
CONDITIONS = ("intent", "priority", "channel", "language")


def check(doc: Document, intents: Collection[str] = ()) -> Iterator[Finding]:
    """Unknown intents, rules naming no target, and rules an earlier rule makes unreachable."""
    data = doc.data
    if not isinstance(data, dict):
        return
    seen: list[tuple[int, dict[str, Any]]] = []
    for index, rule in items(data, "rules"):
        where = f"rules[{index}]"
        if not any(crm in rule for crm in TARGET_KINDS):
            yield (
                doc.line("rules", index),
                f"{where}: names no target; add zendesk: {{group: <name or id>}} "
                "and/or salesforce: {queue: <DeveloperName or Id>} (or 'unassigned')",
            )
        when = rule.get("when")
        wanted = when.get("intent") if isinstance(when, dict) else None
        if intents and isinstance(wanted, list):
            for position, code in enumerate(wanted):
                if isinstance(code, str) and code not in intents:
                    close = difflib.get_close_matches(code, sorted(intents), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    yield (
                        doc.line("rules", index, "when", "intent", position),
                        f"{where}.when.intent: unknown intent {code!r}{hint}; "
                        f"expected one of: {', '.join(intents)}",
                    )
        yield from _unreachable(doc, index, rule, seen)
        seen.append((index, rule))


def _unreachable(
    doc: Document, index: int, rule: dict[str, Any], earlier: list[tuple[int, dict[str, Any]]]
) -> Iterator[Finding]:
    """A rule whose every case an earlier rule (naming the same CRM) already takes never applies."""
    for crm in TARGET_KINDS:
        if crm not in rule:
            continue
        for before_index, before in earlier:
            if crm in before and _covers(before.get("when"), rule.get("when")):
                yield (
                    doc.line("rules", index),
                    f"rules[{index}]: never applies to {crm}: rules[{before_index}] "
                    f"(line {doc.line('rules', before_index)}) matches every event it does; "
                    "put the narrower rule first",
                )
                break


def _covers(broad: Any, narrow: Any) -> bool:
    """Whether conditions ``broad`` match every event conditions ``narrow`` match."""
    broad = broad if isinstance(broad, dict) else {}
    narrow = narrow if isinstance(narrow, dict) else {}
    for name in CONDITIONS:
        wide = broad.get(name)
        if not isinstance(wide, list):
            continue  # absent: any value
        tight = narrow.get(name)
        if not isinstance(tight, list):
            return False
        if name == "language":
            if not all(any(language_matches(str(w), str(t).lower()) for w in wide) for t in tight):
                return False
        elif not set(map(str, tight)) <= set(map(str, wide)):
            return False
    return True


def _target(block: Any, crm: str) -> str | None:
    """A CRM target as text (a Zendesk group id is written as a number), None for unassigned."""
    if block == UNASSIGNED or not isinstance(block, dict):
        return None
    value = block.get(TARGET_KINDS[crm])
    return None if value is None else str(value)


def _rule(doc: Document, path: tuple[str | int, ...], label: str, data: Mapping[str, Any]) -> RoutingRule:
    when = data.get("when") or {}
    line = doc.line(*path)
    return RoutingRule(
        label=label,
        line=line,
        targets=MappingProxyType({crm: _target(data[crm], crm) for crm in TARGET_KINDS if crm in data}),
        name=data.get("name"),
        intents=frozenset(when.get("intent") or ()),
        priorities=frozenset(when.get("priority") or ()),
        channels=frozenset(when.get("channel") or ()),
        languages=tuple(str(tag).lower() for tag in when.get("language") or ()),
        target_lines=MappingProxyType({crm: doc.line(*path, crm) for crm in TARGET_KINDS if crm in data}),
    )


def build(doc: Document) -> RoutingConfig:
    """Only called on a file that passed every check."""
    data = doc.data if isinstance(doc.data, dict) else {}
    rules = tuple(
        _rule(doc, ("rules", index), f"rules[{index}]", rule) for index, rule in items(data, "rules")
    )
    default = data.get("default")
    return RoutingConfig(
        rules=rules,
        default=_rule(doc, ("default",), "default", default) if isinstance(default, dict) else None,
    )
