"""``ctihub crm check`` and ``GET /v1/crm/status``: the shipped mappings fit the sandbox's schema for
both CRMs, and broken mappings are reported problem by problem, each with its fix."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from adapters.sandbox import Sandbox
from hub.bootstrap import sandbox_crm_settings
from hub.cli import main
from hub.mappings import load_mappings
from hub.ports import AdapterConfig, CrmMetadata
from hub.services.crm_check import ERROR, WARNING, CheckReport, Finding, check_mapping, render
from tests.conftest import MAPPINGS


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    from sqlalchemy import create_engine

    box = Sandbox(create_engine(f"sqlite:///{tmp_path / 'sandbox.db'}"))
    box.ensure_schema()
    yield box
    box.engine.dispose()


def metadata(sandbox: Sandbox, crm: str, directory: Path = MAPPINGS) -> CrmMetadata:
    from importlib import import_module

    mappings = load_mappings(directory)
    adapter = import_module(f"adapters.{crm}").build_crm(
        AdapterConfig(
            settings=sandbox_crm_settings(crm), mapping=mappings.crm(crm), session=sandbox.session()
        )
    )
    return adapter.metadata()


def copy_mappings(tmp_path: Path) -> Path:
    target = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, target)
    return target


def edit_fields(
    directory: Path, crm: str, part: str, rules: list[dict[str, Any]], **object_keys: Any
) -> None:
    path = directory / f"fields.{crm}.yaml"
    data = yaml.safe_load(path.read_text())
    data[part]["fields"] = rules
    data[part].update(object_keys)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def check(sandbox: Sandbox, crm: str, directory: Path) -> CheckReport:
    mappings = load_mappings(directory)
    return check_mapping(mappings.crm(crm), mappings.catalog, metadata(sandbox, crm, directory))


def found(report: CheckReport, severity: str, where: str, *words: str) -> Finding:
    matches = [
        f
        for f in report.findings
        if f.severity == severity
        and f.where.startswith(where)
        and all(w in f"{f.problem} {f.hint}" for w in words)
    ]
    assert matches, f"no {severity} at {where} with {words}: {[f.as_dict() for f in report.findings]}"
    assert matches[0].hint  # every problem comes with its fix
    return matches[0]


# -- the shipped mappings --------------------------------------------------------------------------------


@pytest.mark.parametrize("crm", ["salesforce", "zendesk"])
def test_the_shipped_mappings_fit_the_sandbox(sandbox: Sandbox, crm: str) -> None:
    mappings = load_mappings(MAPPINGS)
    report = check_mapping(mappings.crm(crm), mappings.catalog, metadata(sandbox, crm))

    assert report.findings == (), [f.as_dict() for f in report.findings]
    assert report.ok and report.checked == len(mappings.crm(crm).case.rules) + len(
        mappings.crm(crm).activity.rules
    )


@pytest.mark.parametrize("crm", ["salesforce", "zendesk"])
def test_the_command_passes_the_shipped_mappings_on_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crm: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("CTIHUB_SANDBOX", "true")

    result = CliRunner().invoke(main, ["crm", "check", "--crm", crm])

    assert result.exit_code == 0, result.output
    assert f"ctihub crm check: {crm} (sandbox)" in result.output
    assert "0 errors, 0 warnings; OK" in result.output


# -- Salesforce problems -----------------------------------------------------------------------------------


def test_salesforce_problems_each_with_its_fix(sandbox: Sandbox, tmp_path: Path) -> None:
    directory = copy_mappings(tmp_path)
    edit_fields(
        directory,
        "salesforce",
        "case",
        [
            {"target": "CTI_Hub_Intnet__c", "source": "intent.code"},  # a typo
            {"target": "Foo__c", "source": "event.summary"},  # no such field
            {"target": "IsClosed", "transform": "constant", "value": True},  # read-only
            {
                "target": "Origin",
                "source": "event.channel",
                "transform": "value_map",
                "values": {"chat": "Live chat", "sms": "SMS"},
                "when": "create",
            },  # restricted picklist
            {"target": "Type", "source": "disposition.value"},  # open picklist, catalog values
            {"target": "Subject", "source": "intent.label", "transform": "truncate", "max_length": 300},
            {"target": "CTI_Hub_SLA_Due__c", "source": "event.summary"},  # text into a datetime
            {"target": "CTI_Hub_Channel__c", "source": "disposition.tags"},  # a list into text
            {"target": "Status", "transform": "constant", "value": "Walking"},  # open picklist: warning
        ],
        key_field="Subject",  # not an External ID, not unique
    )
    edit_fields(
        directory,
        "salesforce",
        "activity",
        [
            {"target": "ActivityDate", "source": "event.summary"},  # text into a date
            {"target": "CallType", "source": "disposition.value"},  # restricted picklist
            {"target": "TaskSubtype", "transform": "constant", "value": "Call"},  # not updateable
            {
                "target": "CallDisposition",
                "source": "intent.label",
                "transform": "truncate",
                "max_length": 255,
            },
        ],
    )

    report = check(sandbox, "salesforce", directory)

    found(report, ERROR, "Case.CTI_Hub_Intnet__c", "no field", "did you mean 'CTI_Hub_Intent__c'")
    found(report, ERROR, "Case.Foo__c", "no field", "create the field")
    found(report, ERROR, "Case.IsClosed", "not createable")
    origin = found(
        report, ERROR, "Case.Origin", "'Live chat'", "restricted picklist", "Setup > Object Manager"
    )
    assert origin.rule == "case.fields[3]"
    found(report, WARNING, "Case.Type", "dispositions.yaml", "not values of the picklist", "inactive")
    found(report, ERROR, "Case.Subject", "truncate keeps 300", "max_length: 255")
    found(report, ERROR, "Case.CTI_Hub_SLA_Due__c", "text value does not fit a datetime", "iso8601")
    found(report, ERROR, "Case.CTI_Hub_Channel__c", "writes a list", "join")
    found(report, WARNING, "Case.Status", "'Walking'", "Setup > Object Manager")
    found(report, ERROR, "Case.Subject", "not an External ID", "External ID")
    found(report, ERROR, "Case.Subject", "not unique", "Unique")
    found(report, ERROR, "Task.ActivityDate", "text value does not fit a date", "transform: date")
    found(report, ERROR, "Task.CallType", "restricted picklist", "dispositions.yaml")
    found(report, WARNING, "Task.TaskSubtype", "cannot be updated", "retried Task upsert")
    assert not report.ok
    lines = render(report)
    assert lines[-1].endswith("the mappings do NOT fit the live schema")
    assert all(" -> fix: " in line for line in lines[1:-1])  # one line per problem, with its fix
    assert len(lines) == len(report.findings) + 2


def test_a_missing_object_or_key_field_is_reported(sandbox: Sandbox, tmp_path: Path) -> None:
    directory = copy_mappings(tmp_path)
    edit_fields(directory, "salesforce", "activity", [{"target": "Subject", "source": "activity.subject"}])
    mappings = load_mappings(directory)
    real = metadata(sandbox, "salesforce", directory)
    case = dict(real.objects["Case"] or {})
    case["fields"] = [f for f in case["fields"] if f["name"] != "CTI_Hub_Key__c"]
    broken = CrmMetadata(crm="salesforce", objects={"Case": case, "Task": None})

    report = check_mapping(mappings.crm("salesforce"), mappings.catalog, broken)

    found(
        report,
        ERROR,
        "Case.CTI_Hub_Key__c",
        "External ID key field does not exist",
        "(Text, External ID, Unique)",
    )
    found(report, ERROR, "Task", "does not exist", "activity.object")


def test_a_disposition_value_too_long_for_its_field_is_an_error(sandbox: Sandbox, tmp_path: Path) -> None:
    directory = copy_mappings(tmp_path)
    edit_fields(
        directory, "salesforce", "case", [{"target": "CTI_Hub_SLA_Status__c", "source": "disposition.value"}]
    )

    report = check(sandbox, "salesforce", directory)

    found(
        report,
        ERROR,
        "Case.CTI_Hub_SLA_Status__c",
        "longer than the field's 20 characters",
        "dispositions.yaml",
    )


# -- Zendesk problems --------------------------------------------------------------------------------------


def test_zendesk_problems_each_with_its_fix(sandbox: Sandbox, tmp_path: Path) -> None:
    directory = copy_mappings(tmp_path)
    dispositions = directory / "dispositions.yaml"
    text = dispositions.read_text().replace("{value: ctihub_sms_resolved,", "{value: ctihub_sms_done,", 1)
    dispositions.write_text(text)
    edit_fields(
        directory,
        "zendesk",
        "case",
        [
            {"target": "custom_fields.360000000001", "source": "disposition.value"},  # an option renamed
            {"target": "custom_fields.360099999999", "source": "intent.code"},  # no such field
            {"target": "custom_fields.360000000003", "source": "event.summary"},  # free text to a drop-down
            {
                "target": "priority",
                "source": "event.priority",
                "transform": "value_map",
                "values": {"low": "p4", "normal": "normal"},
            },
            {"target": "subjet", "source": "intent.label"},  # not a ticket property
            {"target": "tags", "transform": "constant", "value": ["needs follow up", "VIP", "channel_sms"]},
            {"target": "external_id", "source": "episode.id"},
        ],
    )
    edit_fields(
        directory,
        "zendesk",
        "activity",
        [
            {"target": "body", "source": "activity.body"},
            {"target": "public", "transform": "constant", "value": True},
        ],
    )

    report = check(sandbox, "zendesk", directory)

    disposition = found(
        report,
        ERROR,
        "custom_fields.360000000001",
        "'ctihub_sms_done'",
        "dispositions.yaml",
        "drops",
        "Admin Center",
    )
    assert "CTI Hub disposition" in disposition.where and disposition.rule == "case.fields[0]"
    found(report, ERROR, "custom_fields.360099999999", "no ticket field 360099999999", "create the field")
    found(report, WARNING, "custom_fields.360000000003", "free text goes to a drop-down", "value_map")
    found(report, ERROR, "priority", "'p4'", "high, low, normal, urgent")
    found(report, ERROR, "subjet", "not a ticket property", "did you mean 'subject'")
    found(report, ERROR, "tags", "'needs follow up'", "slug")
    found(report, WARNING, "tags", "'VIP'", "lowercase")
    found(report, WARNING, "tags", "'channel_sms'", "CTI Hub channel", "sets that drop-down")
    found(report, WARNING, "external_id", "overwritten", "drop the rule")
    found(report, WARNING, "public", "private notes")
    assert not report.ok


def test_a_disposition_tag_that_is_its_own_value_is_not_flagged(sandbox: Sandbox) -> None:
    """ctihub_escalated is both the drop-down value and a tag of ESCALATED: it changes nothing."""
    mappings = load_mappings(MAPPINGS)
    assert any(
        "ctihub_escalated" in d.crm_tags.get("zendesk", ()) for d in mappings.catalog.dispositions.values()
    )

    report = check_mapping(mappings.crm("zendesk"), mappings.catalog, metadata(sandbox, "zendesk"))

    assert not [f for f in report.findings if "ctihub_escalated" in f.problem]


def test_the_command_reports_problems_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = copy_mappings(tmp_path)
    edit_fields(
        directory, "zendesk", "case", [{"target": "custom_fields.360099999999", "source": "intent.code"}]
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(directory))
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")

    result = CliRunner().invoke(main, ["crm", "check", "--crm", "zendesk", "--sandbox"])
    assert result.exit_code == 1, result.output
    assert (
        "ERROR   custom_fields.360099999999 [fields.zendesk.yaml case.fields[0]]: no ticket field"
        in result.output
    )
    assert "-> fix: create the field" in result.output
    assert "1 error, 0 warnings; the mappings do NOT fit the live schema" in result.output

    as_json = CliRunner().invoke(main, ["crm", "check", "--crm", "zendesk", "--sandbox", "--json"])
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)["findings"][0]["where"] == "custom_fields.360099999999"


def test_the_command_says_when_the_schema_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real Zendesk account that cannot be reached (here: nothing listens) is exit 2, not a crash."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    for name, value in {
        "CTIHUB_ZENDESK_SUBDOMAIN": "127",  # https://127.0.0.1: refused at once, no DNS involved
        "CTIHUB_ZENDESK_DOMAIN": "0.0.1",
        "CTIHUB_ZENDESK_EMAIL": "a@acme.test",
        "CTIHUB_ZENDESK_API_TOKEN": "zd-secret-token",
        "CTIHUB_ZENDESK_RETRY_ATTEMPTS": "1",
        "CTIHUB_CRM_CONNECT_TIMEOUT": "0.5",
    }.items():
        monkeypatch.setenv(name, value)

    result = CliRunner().invoke(main, ["crm", "check", "--crm", "zendesk"])

    assert result.exit_code == 2, result.output
    assert "could not read the zendesk schema" in result.output
    assert "zd-secret-token" not in result.output


# -- GET /v1/crm/status ----------------------------------------------------------------------------------


def test_crm_status_needs_the_token_and_shows_the_adapters_state(
    sandbox: Sandbox, sqlite_engine: Any, clock: Any
) -> None:
    from adapters.salesforce import build_crm
    from hub.bootstrap import build_hub
    from hub.settings import Settings
    from hub.web import create_app

    mappings = load_mappings(MAPPINGS)
    crm = build_crm(
        AdapterConfig(
            settings=sandbox_crm_settings("salesforce"),
            mapping=mappings.crm("salesforce"),
            session=sandbox.session(),
        )
    )
    settings = Settings(webhook_secret="s", api_token="api-token", mappings_dir=MAPPINGS, crm="salesforce")
    client = create_app(hub=build_hub(settings, clock=clock, crm=crm, engine=sqlite_engine)).test_client()

    assert client.get("/v1/crm/status").status_code == 401
    crm.get_case("500000000000000AAA")  # one call: the sandbox reports its API usage
    answer = client.get("/v1/crm/status", headers={"Authorization": "Bearer api-token"})

    assert answer.status_code == 200
    body = answer.get_json()
    assert body["crm"] == "salesforce" and body["state"] == "ok" and body["until"] is None
    assert body["api_usage"]["used"] >= 1 and body["api_usage"]["max"] == 100_000
    assert "sandbox-session" not in answer.get_data(as_text=True)
