"""Read ``mappings/roles.yaml`` into ``RoleRules``; problems as file:line.

    rules = load_role_rules(Path("mappings"))    # ConfigError listing every problem
    problems = role_problems(Path("mappings"))   # same checks; [] when valid or absent, never raises

An absent file means the built-in defaults (``RoleRules()``); a section left out keeps its default.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from hub.domain.errors import ConfigError, Problem
from hub.domain.roles import RoleRules
from hub.mappings import schema
from hub.mappings.area_file import FileProblems, read_document

ROLES_FILE = "roles.yaml"
KIND = "roles"


def role_problems(directory: Path) -> list[Problem]:
    return _load(Path(directory))[1]


def load_role_rules(directory: Path) -> RoleRules:
    rules, problems = _load(Path(directory))
    if rules is None:
        count = len(problems)
        raise ConfigError(
            f"{Path(directory) / ROLES_FILE}: {count} problem{'s' if count != 1 else ''}", problems=problems
        )
    return rules


def _load(directory: Path) -> tuple[RoleRules | None, list[Problem]]:
    path = directory / ROLES_FILE
    if not path.exists():
        return RoleRules(), []
    found = FileProblems(display=str(path))
    document = read_document(path, found)
    if document is None:
        return None, found.sorted()
    found.document = document
    for duplicate in document.duplicate_keys:
        where = f"{schema.dotted(duplicate.path)}: " if duplicate.path else ""
        found.add(
            duplicate.line,
            f"{where}duplicate key {duplicate.key!r} (first at line {duplicate.first_line}); "
            "YAML keeps only the last",
        )
    schema_file = schema.schema_path(KIND, directory)
    if schema_file is None:
        found.add(None, f"cannot check it: {KIND}.schema.json not found")
    elif document.data is not None:
        for line, message in schema.schema_errors(schema.validator_for(schema_file), document):
            found.add(line, message)
    if found.problems:
        return None, found.sorted()
    return _build(document.data or {}), []


def _table(data: Any) -> MappingProxyType[str, frozenset[str]]:
    return MappingProxyType({str(key): frozenset(value) for key, value in (data or {}).items()})


def _build(data: dict[str, Any]) -> RoleRules:
    defaults = RoleRules()
    zendesk = data.get("zendesk", {})
    salesforce = data.get("salesforce", {})
    return RoleRules(
        zendesk_roles=_table(zendesk["roles"]) if "roles" in zendesk else defaults.zendesk_roles,
        salesforce_permissions=(
            _table(salesforce["custom_permissions"])
            if "custom_permissions" in salesforce
            else defaults.salesforce_permissions
        ),
        users=_table(data.get("users")),
    )
