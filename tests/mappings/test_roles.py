"""mappings/roles.yaml: the documented rule from CRM identity to hub roles, and its errors."""

from __future__ import annotations

import shutil

import pytest

from hub.domain.errors import ConfigError
from hub.domain.roles import RoleRules
from hub.mappings import validate_mappings
from hub.mappings.roles import load_role_rules
from tests.conftest import MAPPINGS


def test_the_shipped_file_equals_the_built_in_defaults():
    shipped = load_role_rules(MAPPINGS)
    defaults = RoleRules()
    assert dict(shipped.zendesk_roles) == dict(defaults.zendesk_roles)
    assert dict(shipped.salesforce_permissions) == dict(defaults.salesforce_permissions)


def test_without_the_file_the_defaults_apply(tmp_path):
    rules = load_role_rules(tmp_path)
    assert rules.for_zendesk("1", "admin") == {"agent", "operations", "admin"}
    assert rules.for_zendesk("1", "end-user") == frozenset()


def test_salesforce_roles_come_from_held_custom_permissions_only():
    rules = RoleRules()
    held = {"CTI_Hub_Agent": True, "CTI_Hub_Admin": False, "CTI_Hub_Operations": "true"}
    assert rules.for_salesforce("005000000000001AAA", held) == {"agent"}
    assert rules.for_salesforce("005000000000001AAA", {}) == frozenset()


def test_named_users_add_roles_by_15_or_18_character_id(tmp_path):
    (tmp_path / "roles.yaml").write_text(
        'users:\n  "salesforce:005000000000001": [operations]\n  "zendesk:381": [admin]\n'
    )
    rules = load_role_rules(tmp_path)
    assert rules.for_salesforce("005000000000001AAA", {"CTI_Hub_Agent": True}) == {"agent", "operations"}
    assert rules.for_zendesk("381", "agent") == {"agent", "admin"}
    assert rules.for_zendesk("382", None) == frozenset()


def test_a_section_left_out_keeps_its_default(tmp_path):
    (tmp_path / "roles.yaml").write_text("zendesk:\n  roles:\n    agent: [agent, operations]\n")
    rules = load_role_rules(tmp_path)
    assert rules.for_zendesk("1", "agent") == {"agent", "operations"}
    assert rules.for_zendesk("1", "admin") == frozenset()
    assert rules.for_salesforce("005000000000001AAA", {"CTI_Hub_Admin": True}) == {"admin"}


def test_problems_name_the_file_and_line(tmp_path):
    (tmp_path / "roles.yaml").write_text(
        "zendesk:\n  roles:\n    agent: [agent]\n    admin: [superuser]\nsalesforce:\n  profiles: {}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_role_rules(tmp_path)
    paths = [problem.path for problem in caught.value.problems]
    assert f"{tmp_path / 'roles.yaml'}:4" in paths
    assert f"{tmp_path / 'roles.yaml'}:6" in paths


def test_validate_mappings_includes_the_roles_file(tmp_path):
    shutil.copytree(MAPPINGS, tmp_path / "m")
    (tmp_path / "m" / "roles.yaml").write_text("users:\n  alice: [admin]\n")
    problems = validate_mappings(tmp_path / "m")
    assert any(p.path.endswith("roles.yaml:2") for p in problems)
