"""``ctihub dedup`` through click's runner, on the sandbox."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from hub.cli import main
from tests.dedup.conftest import make_world


@pytest.fixture
def cli(tmp_path, monkeypatch, sqlite_engine, clock):
    world = make_world(sqlite_engine, clock, tmp_path, "zendesk", {"billing": "merge"})
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "CTIHUB_DATABASE_URL": str(sqlite_engine.url),
        "CTIHUB_MAPPINGS": str(tmp_path / "mappings"),
        "CTIHUB_CRM": "zendesk",
        "CTIHUB_SANDBOX": "1",
        "CTIHUB_WEBHOOK_SECRET": "dedup-cli-webhook-secret-0123456789",
        "CTIHUB_API_TOKEN": "dedup-cli-api-token-0123456789abcd",
    }.items():
        monkeypatch.setenv(name, value)
    return world, CliRunner()


def test_scan_dry_run_then_apply_with_yes_then_undo(cli):
    world, runner = cli
    world.event()
    world.link()
    jane = world.zd_user_id("jane@example.com")
    duplicate = world.zd_ticket(jane, "billing", "By hand")

    dry = runner.invoke(main, ["dedup", "scan", "--dry-run", "--apply"])
    assert dry.exit_code == 0, dry.output
    assert "IRREVERSIBLE" in dry.output and f"ticket {duplicate}" in dry.output
    assert "dry run: nothing was written and nothing applied" in dry.output
    assert world.dedup_rows()["dedup_audit"] == 0

    unconfirmed = runner.invoke(main, ["dedup", "scan", "--apply"])  # no terminal, no --yes: skipped
    assert "skipped, irreversible" in unconfirmed.output
    assert world.zd_get(duplicate)["status"] == "open"

    applied = runner.invoke(main, ["dedup", "scan", "--apply", "--yes"])
    assert applied.exit_code == 0, applied.output
    plan_id = re.search(r"plan (dd_\w+): applied", applied.output).group(1)
    assert world.zd_get(duplicate)["status"] == "closed"

    undone = runner.invoke(main, ["dedup", "undo", plan_id])
    assert undone.exit_code == 0, undone.output
    assert "hub links restored" in undone.output and "cannot be undone" in undone.output
    assert runner.invoke(main, ["dedup", "undo", plan_id]).exit_code == 1

    counters = runner.invoke(main, ["dedup", "counters"])
    assert '"duplicates_merged": 0' in counters.output


def test_ambiguous_lists_what_an_agent_has_to_choose(cli):
    world, runner = cli
    world.event(customer={"phone": "+14155550100"})
    world.event(customer={"email": "bob@example.com"})
    world.event(customer={"phone": "+14155550100", "email": "bob@example.com"})
    world.link()
    result = runner.invoke(main, ["dedup", "ambiguous"])
    assert result.exit_code == 0, result.output
    assert "conflicting_customers" in result.output and "1 ambiguous match" in result.output
