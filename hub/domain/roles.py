"""Which CTI Hub roles a CRM identity gets: agent, operations, admin (``mappings/roles.yaml``).

Roles are additive and flat: a rule grants a set of roles, and a person holds the union of every
rule that matches. Nothing matches, no role: the sign-in is refused (least privilege).

- Zendesk: the user's Zendesk role (``agent``, ``admin``; an ``end-user`` never matches by default).
- Salesforce: custom permissions the user holds (reported by the OpenID userinfo endpoint when the
  ``custom_permissions`` scope is granted). Admins hand them out through permission sets (or
  profiles), so this is how a permission set or a profile maps to a hub role.
- Either CRM: named users (``zendesk:<user id>``, ``salesforce:<18-char user id>``) for exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

ROLES = ("agent", "operations", "admin")


def _frozen(rules: Mapping[str, frozenset[str]]) -> Mapping[str, frozenset[str]]:
    return MappingProxyType(dict(rules))


@dataclass(frozen=True)
class RoleRules:
    zendesk_roles: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: _frozen(
            {"agent": frozenset({"agent"}), "admin": frozenset({"agent", "operations", "admin"})}
        )
    )
    salesforce_permissions: Mapping[str, frozenset[str]] = field(
        default_factory=lambda: _frozen(
            {
                "CTI_Hub_Agent": frozenset({"agent"}),
                "CTI_Hub_Operations": frozenset({"operations"}),
                "CTI_Hub_Admin": frozenset({"admin"}),
            }
        )
    )
    users: Mapping[str, frozenset[str]] = field(default_factory=lambda: _frozen({}))

    def for_zendesk(self, user_id: str, zendesk_role: str | None) -> frozenset[str]:
        granted = set(self.zendesk_roles.get((zendesk_role or "").strip().lower(), frozenset()))
        granted |= self.users.get(f"zendesk:{user_id}", frozenset())
        return frozenset(granted)

    def for_salesforce(self, user_id: str, custom_permissions: Mapping[str, object]) -> frozenset[str]:
        granted: set[str] = set()
        for name, held in custom_permissions.items():
            if held is True:
                granted |= self.salesforce_permissions.get(name, frozenset())
        granted |= self.users.get(f"salesforce:{user_id}", frozenset())
        if len(user_id) == 18:  # Salesforce ids: a rule may name the 15- or the 18-character form
            granted |= self.users.get(f"salesforce:{user_id[:15]}", frozenset())
        return frozenset(granted)
