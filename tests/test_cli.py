"""The ctihub command, through click's runner."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.store import migrate
from hub.store.db import make_engine
from tests.conftest import MAPPINGS


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in (
        "CTIHUB_DATABASE_URL",
        "CTIHUB_WEBHOOK_SECRET",
        "CTIHUB_API_TOKEN",
        "CTIHUB_CRM",
        "CTIHUB_SANDBOX",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    return CliRunner()


def test_mappings_validate_accepts_the_shipped_files(runner):
    result = runner.invoke(main, ["mappings", "validate", str(MAPPINGS)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(": OK")


def test_mappings_validate_prints_file_and_line_and_fails(runner, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(MAPPINGS, broken)
    text = (broken / "intents.yaml").read_text()
    (broken / "intents.yaml").write_text(text.replace("channels: [", "channels: [fax, ", 1))
    result = runner.invoke(main, ["mappings", "validate", str(broken)])
    assert result.exit_code == 1
    line = next(n for n, content in enumerate(text.splitlines(), 1) if "channels: [" in content)
    assert f"intents.yaml:{line}: " in result.output
    assert "fax" in result.output


def test_db_upgrade_then_current(runner, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("CTIHUB_DATABASE_URL", url)
    assert runner.invoke(main, ["db", "current"]).exit_code == 1
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert migrate.is_current(make_engine(url))
    assert runner.invoke(main, ["db", "current"]).exit_code == 0


def test_worker_refuses_an_unmigrated_shared_database_and_says_what_to_run(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'shared.db'}")
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 2
    assert "ctihub db upgrade" in result.output


def test_bad_settings_are_named(runner, monkeypatch):
    monkeypatch.setenv("CTIHUB_CRM", "hubspot")
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 2
    assert "CTIHUB_CRM: must be one of zendesk, salesforce" in result.output


def test_secret_files_are_read_and_never_echoed(tmp_path, monkeypatch):
    from hub.settings import Settings

    secret = tmp_path / "secret"
    secret.write_text("from-a-file-0123456789abcdef-0123\n")
    settings = Settings.from_env(
        {"CTIHUB_WEBHOOK_SECRET_FILE": str(secret), "CTIHUB_ZENDESK_API_TOKEN": "zd"}
    )
    assert settings.webhook_secret == "from-a-file-0123456789abcdef-0123"
    assert settings.crm_settings["zendesk"]["api_token"] == "zd"
    assert "from-a-file" not in repr(settings) and "zd" not in repr(settings)


def test_every_secret_shorter_than_its_minimum_stops_the_start_naming_it():
    from hub.domain.errors import ConfigError
    from hub.settings import SECRET_MINIMUMS, Settings

    environment = {f"CTIHUB_{name}": "x" * (minimum - 1) for name, minimum in SECRET_MINIMUMS.items()}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(environment)
    named = {p.path for p in caught.value.problems}
    assert named == {f"CTIHUB_{name}" for name in SECRET_MINIMUMS}
    assert all("x" * 10 not in p.message for p in caught.value.problems)  # the value is never echoed
    Settings.from_env({f"CTIHUB_{name}": "x" * minimum for name, minimum in SECRET_MINIMUMS.items()})


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
def test_demo_links_every_outcome_of_its_day_and_says_so(runner, crm):
    result = runner.invoke(main, ["demo", "--crm", crm, "--events", "60"])
    assert result.exit_code == 0, result.output
    assert "accepted (202)       60" in result.output
    assert "linked               60" in result.output
    assert "not linked           0" in result.output
    noun = "tickets" if crm == "zendesk" else "cases"
    created = int(result.output.split(f"{noun} created")[1].split()[0])
    attached = int(result.output.split(f"{noun} attached")[1].split()[0])
    assert created + attached == 60
    assert attached > 0  # repeat customers land on their open case
    panel = result.output.strip().splitlines()[-1].strip()  # the demo ends with one record's panel URL
    assert panel.startswith("http://127.0.0.1:") and f"/panel/{crm}/{noun}/" in panel


def test_a_second_demo_run_starts_from_a_fresh_day(runner):
    assert runner.invoke(main, ["demo", "--events", "20"]).exit_code == 0
    result = runner.invoke(main, ["demo", "--events", "20"])
    assert result.exit_code == 0, result.output
    assert "linked               20" in result.output


@pytest.mark.parametrize("command", [["serve", "--sandbox"], ["worker", "--once"], ["scheduler"]])
def test_a_start_with_a_broken_admin_document_names_the_problem_at_its_line(
    runner, tmp_path, monkeypatch, command
):
    """A schedule named in deflection.yaml but missing from sla.yaml used to start the hub and crash
    each web worker later with `1 problem1 problem in mappings`; now nothing starts and the problem
    is printed as `ctihub mappings validate` prints it."""
    broken = tmp_path / "broken"
    shutil.copytree(MAPPINGS, broken)
    text = (broken / "deflection.yaml").read_text()
    assert "\nbusiness_hours: new-york" in text
    broken_text = text.replace("\nbusiness_hours: new-york", "\nbusiness_hours: nope", 1)
    (broken / "deflection.yaml").write_text(broken_text)
    line = next(n for n, content in enumerate(text.splitlines(), 1) if content.startswith("business_hours:"))
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(broken))
    monkeypatch.setenv("CTIHUB_SANDBOX", "true")
    result = runner.invoke(main, command)
    assert result.exit_code == 2, result.output
    assert "1 problem in the admin documents" in result.output
    assert f"deflection.yaml:{line}: business_hours: no schedule 'nope' in sla.yaml" in result.output
    assert "listening" not in result.output
