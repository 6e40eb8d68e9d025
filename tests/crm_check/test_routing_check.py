"""``ctihub crm check`` on routing.yaml: the shipped targets exist in both sandbox CRMs; a missing
group, a queue that does not take Cases, and a queue named by its label are errors at their
routing.yaml line with a fix, and make the command exit 1."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from tests.conftest import MAPPINGS


def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm: str, routing: str | None = None, *args: str):
    directory = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, directory, ignore=shutil.ignore_patterns("schemas"))
    if routing is not None:
        (directory / "routing.yaml").write_text(routing)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(directory))
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    return CliRunner().invoke(main, ["crm", "check", "--crm", crm, "--sandbox", *args])


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
def test_the_shipped_targets_exist_in_the_sandbox(tmp_path, monkeypatch, crm: str) -> None:
    result = run(tmp_path, monkeypatch, crm)
    assert result.exit_code == 0, result.output
    assert "4 routing targets checked: 0 errors" in result.output


BROKEN = """\
rules:
  - when: {intent: [billing]}
    zendesk: {group: Billing Team}
    salesforce: {queue: Leads_Queue}
  - when: {priority: [urgent]}
    salesforce: {queue: Escalations}
default:
  zendesk: {group: "360000000501"}
  salesforce: {queue: Support_Queue}
"""


def test_a_missing_group_is_an_error_at_its_line(tmp_path, monkeypatch) -> None:
    result = run(tmp_path, monkeypatch, "zendesk", BROKEN)
    assert result.exit_code == 1, result.output
    assert (
        "ERROR   routing.yaml rules[0] [routing.yaml:3]: no group 'Billing Team' in Zendesk -> fix: create "
        "the group (Admin Center > People > Groups) or use one of: Billing, Escalations, "
        "Soporte en español, Support" in result.output
    )  # the default, named by id, is found
    assert "2 routing targets checked: 1 error" in result.output


def test_queues_without_cases_or_named_by_label_are_errors(tmp_path, monkeypatch) -> None:
    result = run(tmp_path, monkeypatch, "salesforce", BROKEN, "--json")
    assert result.exit_code == 1, result.output
    findings = json.loads(result.output)["routing"]["findings"]
    assert [(f["rule"], f["problem"]) for f in findings] == [
        ("routing.yaml:4", "queue 'Leads_Queue' does not support Cases"),
        (
            "routing.yaml:6",
            "no queue 'Escalations' in Salesforce; its label matches queue 'Escalations_Queue': "
            "use that DeveloperName",
        ),
    ]
    assert findings[0]["hint"].startswith("add Case to the Supported Objects of queue 'Leads_Queue'")
