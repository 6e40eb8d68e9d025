"""Routing: which Zendesk group or Salesforce queue owns a new case, by intent, priority, channel and
language. Pure rules; the names are resolved to the CRM's ids by ``hub.services.routing``.

Rules are tried in order and the first that matches wins, per CRM: a rule that names no target for
a CRM is skipped for it. Nothing matching means the ``default`` (which may be ``unassigned``); a
target of ``unassigned`` leaves the case where the CRM puts it (no group, the API user as owner).

A condition left out matches everything; a condition lists the values it accepts. Languages are
BCP 47 tags compared case-insensitively as RFC 4647 basic filtering does: a rule's ``es`` matches an
event's ``es``, ``es-MX`` and ``es-419``, its ``es-MX`` matches only ``es-MX`` (and its subtags).
The event's language is its ``metadata.language`` (``pt_BR`` is read as ``pt-BR``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

UNASSIGNED = "unassigned"
# The kind of target per CRM, as written in routing.yaml and shown in the preview.
TARGET_KINDS: Mapping[str, str] = MappingProxyType({"zendesk": "group", "salesforce": "queue"})
LANGUAGE_KEY = "language"  # the event's metadata key carrying its BCP 47 language tag


def normalize_language(value: Any) -> str | None:
    """An event's language tag, lowercased with ``-`` separators; None when absent or not text."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().replace("_", "-").lower()


def language_matches(wanted: str, tag: str | None) -> bool:
    """RFC 4647 basic filtering: ``wanted`` equals ``tag`` or is a prefix of it ending at a ``-``."""
    if tag is None:
        return False
    wanted = wanted.lower()
    return tag == wanted or tag.startswith(wanted + "-")


@dataclass(frozen=True)
class RoutingRule:
    """One rule. Empty condition sets match everything; ``targets`` maps a CRM to its target as
    written (a name or an id, text), or to None for ``unassigned``. CRMs absent skip the rule."""

    label: str  # "rules[2]" or "default": where it is in routing.yaml
    line: int
    targets: Mapping[str, str | None]
    name: str | None = None
    intents: frozenset[str] = frozenset()
    priorities: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    languages: tuple[str, ...] = ()
    target_lines: Mapping[str, int] = field(default_factory=dict)  # where each CRM's target is written

    def matches(self, *, intent: str, priority: str, channel: str, language: str | None) -> bool:
        return (
            (not self.intents or intent in self.intents)
            and (not self.priorities or priority in self.priorities)
            and (not self.channels or channel in self.channels)
            and (not self.languages or any(language_matches(want, language) for want in self.languages))
        )


@dataclass(frozen=True)
class Route:
    """The rule's decision for one CRM, before the target is looked up in the CRM."""

    crm: str
    kind: str  # "group" or "queue"
    target: str | None  # None: unassigned
    rule: str  # "rules[2]", "default"
    line: int | None  # the rule's line in routing.yaml (None: no routing.yaml entry decided)
    name: str | None = None  # the rule's own name, when it has one


@dataclass(frozen=True)
class RoutingConfig:
    rules: tuple[RoutingRule, ...] = ()
    default: RoutingRule | None = None

    def route(self, crm: str, *, intent: str, priority: str, channel: str, language: str | None) -> Route:
        """The first rule naming ``crm`` that matches; else the default; else unassigned."""
        kind = TARGET_KINDS.get(crm, "owner")
        for rule in self.rules:
            if crm in rule.targets and rule.matches(
                intent=intent, priority=priority, channel=channel, language=language
            ):
                return Route(crm, kind, rule.targets[crm], rule.label, rule.line, rule.name)
        if self.default is not None and crm in self.default.targets:
            return Route(crm, kind, self.default.targets[crm], "default", self.default.line)
        return Route(crm, kind, None, "default", None)

    def targets(self, crm: str) -> list[tuple[RoutingRule, str]]:
        """Every (rule, target) naming a target in ``crm`` (the default last), for the live check."""
        rules = [*self.rules, *([self.default] if self.default is not None else [])]
        return [(rule, target) for rule in rules if (target := rule.targets.get(crm)) is not None]
