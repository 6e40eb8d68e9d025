"""How the Hub gets recovery: the tick, the sender for the settings, the settings, the email task."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.sms.sandbox import SandboxSms
from adapters.sms.twilio import TwilioSms
from hub.bootstrap import build_hub
from hub.domain.errors import ConfigError
from hub.domain.recovery import Policy, Step
from hub.services.recovery import RecoveryService, RecoverySettings
from tests.e2e.conftest import settings
from tests.fakes import FakeCRM

TWILIO = {
    "CTIHUB_TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "CTIHUB_TWILIO_AUTH_TOKEN": "token",
    "CTIHUB_TWILIO_FROM_NUMBER": "+15005550006",
}


def hub_with(engine, clock, **environment):
    values = settings(environment=environment)
    return build_hub(values, clock=clock, crm=FakeCRM(), engine=engine)


def test_the_scheduler_ticks_recovery_with_the_configured_sender(sqlite_engine, clock, caplog):
    hub = hub_with(sqlite_engine, clock, **TWILIO)
    assert "recovery" in hub.scheduled_ticks()
    assert isinstance(RecoveryService.for_hub(hub).sender, TwilioSms)
    sandbox = build_hub(settings(sandbox=True), clock=clock, engine=sqlite_engine)
    assert isinstance(RecoveryService.for_hub(sandbox).sender, SandboxSms)
    with caplog.at_level(logging.WARNING, logger="hub.services.recovery"):
        assert RecoveryService.for_hub(hub_with(sqlite_engine, clock)).sender is None
    assert "no sender is configured" in caplog.text


def test_without_recovery_yaml_there_is_no_tick(sqlite_engine, clock, tmp_path):
    import shutil

    from tests.conftest import MAPPINGS

    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    (tmp_path / "mappings" / "recovery.yaml").unlink()
    hub = build_hub(
        settings(mappings_dir=tmp_path / "mappings"), clock=clock, crm=FakeCRM(), engine=sqlite_engine
    )
    assert "recovery" not in hub.scheduled_ticks()


def test_recovery_settings_come_from_the_environment(sqlite_engine, clock):
    hub = hub_with(sqlite_engine, clock, CTIHUB_RECOVERY_BATCH="25", CTIHUB_RECOVERY_LEASE_SECONDS="90.5")
    assert RecoverySettings.from_settings(hub.settings) == RecoverySettings(batch=25, lease_seconds=90.5)
    with pytest.raises(ConfigError) as raised:
        RecoverySettings.from_settings(hub_with(sqlite_engine, clock, CTIHUB_RECOVERY_BATCH="lots").settings)
    assert raised.value.problems[0].path == "CTIHUB_RECOVERY_BATCH"


def test_an_email_step_is_a_task_for_an_agent(harness):
    config = replace(
        harness.service.config,
        policies=(Policy("email", ("failed",), (Step("email", timedelta(minutes=30)),)),),
    )
    service = harness.recovery(config)
    harness.link(customer={"phone": "+12125550100", "email": "Jo@Example.com", "name": "Jo"})
    harness.tick(service)
    harness.advance(minutes=30)
    harness.tick(service)
    [attempt] = harness.attempts()
    assert (attempt["action"], attempt["channel"], attempt["address"], attempt["status"]) == (
        "email",
        "email",
        "jo@example.com",
        "sent",
    )
    task = harness.crm.cases[attempt["key"]]
    assert task["fields"]["subject"] == "Recovery: Email Jo about Billing question"
    assert task["fields"]["type"] == "task"


def test_twilio_is_asked_for_delivery_statuses_at_the_public_url(sqlite_engine, clock):
    def sender(**environment):
        return RecoveryService.for_hub(hub_with(sqlite_engine, clock, **TWILIO, **environment)).sender

    public = sender(CTIHUB_PUBLIC_URL="https://hub.example.com/")
    assert public.settings.status_callback_url == "https://hub.example.com/webhooks/twilio/sms"
    explicit = sender(
        CTIHUB_PUBLIC_URL="https://hub.example.com",
        CTIHUB_TWILIO_STATUS_CALLBACK_URL="https://edge.example.com/twilio-status",
    )
    assert explicit.settings.status_callback_url == "https://edge.example.com/twilio-status"
    assert sender().settings.status_callback_url is None  # no public URL: no StatusCallback is sent
