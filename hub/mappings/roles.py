"""Read ``mappings/roles.yaml`` into ``RoleRules``; problems as file:line.

    rules = load_role_rules(Path("mappings"))    # ConfigError listing every problem
    problems = role_problems(Path("mappings"))   # same checks; [] when valid or absent, never raises

An absent file means the built-in defaults (``RoleRules()``); a section left out keeps its default.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

from hub.domain.errors import Problem
from hub.domain.roles import RoleRules
from hub.mappings.area_file import FileProblems, check_document, problems_error, read_document

ROLES_FILE = "roles.yaml"
KIND = "roles"


def role_problems(directory: Path) -> list[Problem]:
    return _load(Path(directory))[1]


def load_role_rules(directory: Path) -> RoleRules:
    rules, problems = _load(Path(directory))
    if rules is None:
        raise problems_error(Path(directory) / ROLES_FILE, problems)
    return rules


def _load(directory: Path) -> tuple[RoleRules | None, list[Problem]]:
    path = directory / ROLES_FILE
    if not path.exists():
        return RoleRules(), []
    found = FileProblems(display=str(path))
    document = read_document(path, found)
    if document is None:
        return None, found.sorted()
    check_document(found, document, KIND, directory)
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
