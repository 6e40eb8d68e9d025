"""The live check of ``routing.yaml``: every group/queue a rule names, against the CRM's own list.

``ctihub crm check`` and the admin console's check (``GET /v1/admin/config/<n>/crm-check``) list
each target that does not exist, or a Salesforce queue that does not support Cases, as an error with
its fix, placed at the rule's ``routing.yaml:<line>``. The same lookup decides at link time
(``hub.services.routing.find_target``), so what the check passes is what linking assigns; what it
flags, linking leaves unassigned (with a warning in the log) rather than failing the outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub.domain.routing import TARGET_KINDS, RoutingConfig
from hub.mappings.routing import FILE
from hub.ports import RoutingTarget
from hub.services.crm_check import ERROR, Finding
from hub.services.routing import find_target


def check_routing(config: RoutingConfig, crm: str, targets: Sequence[RoutingTarget]) -> list[Finding]:
    """One error per rule whose ``crm`` target the CRM cannot take; ``rule`` is ``routing.yaml:<line>``
    of the target (the rule's ``zendesk:``/``salesforce:`` line)."""
    kind = TARGET_KINDS.get(crm, "target")
    listed = list(targets)
    findings = []
    for rule, wanted in config.targets(crm):
        found, problem = find_target(crm, wanted, listed)
        if found is not None:
            continue
        findings.append(
            Finding(
                severity=ERROR,
                where=f"{FILE} {rule.label}" + (f" ({rule.name})" if rule.name else ""),
                problem=problem or f"{kind} {wanted!r} not found",
                hint=_hint(crm, wanted, problem or "", listed),
                rule=f"{FILE}:{rule.target_lines.get(crm, rule.line)}",
            )
        )
    return findings


def _hint(crm: str, wanted: str, problem: str, targets: list[RoutingTarget]) -> str:
    if crm == "salesforce":
        if "does not support Cases" in problem:
            return (
                f"add Case to the Supported Objects of queue {wanted!r} (Setup > Queues), "
                "or route to a queue that has it"
            )
        names = ", ".join(sorted(t.developer_name or t.id for t in targets if t.accepts_cases)) or "none"
        return f"create the queue (Setup > Queues, with Case supported) or use one of: {names}"
    if "groups are named" in problem:
        return "write the group's id instead of its name"
    names = ", ".join(sorted(t.name for t in targets)) or "none"
    return f"create the group (Admin Center > People > Groups) or use one of: {names}"


def render_routing(findings: Sequence[Finding], *, checked: int) -> list[str]:
    """The check's lines for routing: one per finding with its fix, then a summary line."""
    lines = [f"  {f.severity.upper():7} {f.where} [{f.rule}]: {f.problem} -> fix: {f.hint}" for f in findings]
    errors = len(findings)
    lines.append(
        f"{checked} routing target{'s' * (checked != 1)} checked: {errors} error{'s' * (errors != 1)}"
    )
    return lines
