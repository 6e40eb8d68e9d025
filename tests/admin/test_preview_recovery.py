"""The recovery plan in the preview: the real engine's plan for the event under the published version
and under a draft, the guard that would block an attempt, the customer's standing consent carried
over from the ledger, and nothing written anywhere (API and ``ctihub mappings preview``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from hub.cli import main
from hub.domain.consent import ConsentDecision
from hub.store import consent as consent_store
from hub.store.recovery_tables import recovery_attempts, recovery_plans
from hub.store.tables import consent_ledger, customers, inbox
from tests.conftest import MAPPINGS, T0
from tests.web.conftest import TOKEN

BEARER = {"Authorization": f"Bearer {TOKEN}"}
PHONE = "+12125550100"  # New York
# Self-service failed at 09:58 New York time (T0 is Monday 10:00 EST), SMS consent only.
EVENT = {
    "event_id": "recovery-preview-1",
    "source": "ivr",
    "occurred_at": "2026-11-23T14:58:00Z",
    "channel": "self_service",
    "customer": {"phone": PHONE, "name": "Pat Preview"},
    "intent": "billing",
    "outcome": "failed",
    "summary": "Payment page failed.",
    "consent": {"sms": True},
}


@pytest.fixture
def app(prod_app):
    return prod_app


@pytest.fixture
def client(app):
    return app.test_client()


def count(app, table) -> int:
    with app.extensions["ctihub"].engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def published_documents(client) -> dict[str, str]:
    return client.get("/v1/admin/config/1", headers=BEARER).json["documents"]


def preview(client, event=EVENT, version=None) -> dict:
    answer = client.post("/v1/admin/preview", json={"event": event, "version": version}, headers=BEARER)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_the_plan_lists_each_attempt_with_its_local_time_and_the_guard_that_blocks_it(client, app):
    plan = preview(client)["published"]["recovery"]
    assert (plan["status"], plan["policy"], plan["policy_enabled"]) == (
        "planned",
        "Self-service failed",
        True,
    )
    sms, callback = plan["attempts"]
    assert sms == {
        "attempt": 1,
        "action": "sms",
        "channel": "sms",
        "planned_for": "2026-11-23T15:08:00Z",
        "at": "2026-11-23T15:08:00Z",
        "local_time": "Mon 2026-11-23 10:08 EST",
        "time_zone": "America/New_York",
        "status": "planned",
        "reason": None,
        "guard": None,
        "detail": None,
    }
    assert (callback["action"], callback["channel"], callback["at"]) == (
        "callback",
        "voice",
        "2026-11-23T17:58:00Z",
    )
    assert callback["local_time"] == "Mon 2026-11-23 12:58 EST"
    assert (callback["status"], callback["reason"], callback["guard"]) == ("blocked", "no_consent", "consent")
    assert callback["detail"] == "no voice consent on record"
    # Nothing written: no event, customer, plan, attempt or consent in the hub's database.
    for table in (inbox, customers, recovery_plans, recovery_attempts, consent_ledger):
        assert count(app, table) == 0, table.name


def test_the_customers_standing_consent_in_the_ledger_is_carried_into_the_plan(client, app):
    with app.extensions["ctihub"].engine.begin() as connection:
        decision = ConsentDecision("voice", PHONE, True, T0 - timedelta(days=30), "event:ivr", None)
        consent_store.record_consent(connection, decision, now=T0 - timedelta(days=30))
    sms, callback = preview(client)["published"]["recovery"]["attempts"]
    assert (sms["status"], callback["status"], callback["reason"]) == ("planned", "planned", None)
    assert count(app, consent_ledger) == 1  # still only the decision recorded above


def test_a_draft_recovery_change_shows_beside_the_published_plan(client):
    documents = published_documents(client)
    changed = documents["recovery.yaml"].replace(
        "- {action: sms, after_minutes: 10}", "- {action: sms, after_minutes: 120}", 1
    )
    assert changed != documents["recovery.yaml"]
    draft = client.post(
        "/v1/admin/config", json={"documents": {**documents, "recovery.yaml": changed}}, headers=BEARER
    ).json
    assert draft["problems"] == []
    result = preview(client, version=draft["version"])
    assert result["published"]["recovery"]["attempts"][0]["at"] == "2026-11-23T15:08:00Z"
    sms = result["draft"]["recovery"]["attempts"][0]
    assert (sms["planned_for"], sms["at"], sms["status"]) == ("2026-11-23T16:58:00Z",) * 2 + ("planned",)
    assert sms["local_time"] == "Mon 2026-11-23 11:58 EST"


def test_no_policy_disabled_and_not_a_failure_say_so(client):
    chat_failed = {**EVENT, "event_id": "recovery-preview-2", "channel": "chat"}
    plan = preview(client, chat_failed)["published"]["recovery"]
    assert (plan["status"], plan["attempts"]) == ("no_policy", [])
    assert "channel chat" in plan["detail"]

    resolved = {**EVENT, "event_id": "recovery-preview-3", "outcome": "resolved"}
    assert preview(client, resolved)["published"]["recovery"]["status"] == "not_a_failure"

    documents = published_documents(client)
    off = documents["recovery.yaml"].replace("enabled: true", "enabled: false", 1)
    draft = client.post(
        "/v1/admin/config", json={"documents": {**documents, "recovery.yaml": off}}, headers=BEARER
    ).json["version"]
    plan = preview(client, version=draft)["draft"]["recovery"]
    assert (plan["status"], plan["policy_enabled"]) == ("disabled", False)
    assert plan["attempts"]  # what it would make if enabled, shown as such


def test_the_schema_endpoint_serves_each_documents_json_schema(client):
    fields = client.get("/v1/admin/schemas/fields.zendesk.yaml", headers=BEARER)
    assert fields.status_code == 200 and fields.mimetype == "application/schema+json"
    assert set(fields.json["required"]) == {"crm", "case", "activity"}
    recovery = client.get("/v1/admin/schemas/recovery.yaml", headers=BEARER).json
    assert "policies" in recovery["properties"]
    unknown = client.get("/v1/admin/schemas/passwords.yaml", headers=BEARER)
    assert unknown.status_code == 404 and "passwords.yaml" in unknown.json["error"]["message"]
    assert client.get("/v1/admin/schemas/sla.yaml").status_code == 401


def test_the_openapi_document_describes_the_recovery_plan_and_the_schema_endpoint(client):
    spec = client.get("/v1/admin/openapi.json", headers=BEARER).json
    assert "/v1/admin/schemas/{document}" in spec["paths"]
    side = spec["components"]["schemas"]["PreviewSide"]["properties"]
    plan = spec["components"]["schemas"]["RecoveryPlan"]
    assert side["recovery"]["$ref"] == "#/components/schemas/RecoveryPlan"
    attempt = plan["properties"]["attempts"]["items"]["properties"]
    assert {"local_time", "time_zone", "status", "reason", "guard", "detail"} <= set(attempt)


def test_the_command_line_preview_prints_the_recovery_plan(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("CTIHUB_WEBHOOK_SECRET", "CTIHUB_API_TOKEN", "CTIHUB_SESSION_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    monkeypatch.setenv("CTIHUB_SANDBOX", "true")
    monkeypatch.setenv("CTIHUB_CRM", "zendesk")
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)  # the CLI's clock is real
    event = {**EVENT, "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%SZ")}
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(main, ["mappings", "preview", str(path)])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)["published"]["recovery"]
    assert plan["policy"] == "Self-service failed"
    sms, callback = plan["attempts"]
    assert sms["status"] in ("planned", "rescheduled")  # the real time of day decides
    assert (callback["status"], callback["reason"]) == ("blocked", "no_consent")
