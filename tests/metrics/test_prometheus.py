"""``GET /metrics``: authentication, the exposition format, and that each figure moves when what it
counts happens (deltas: the in-process instruments are shared by every test of the session)."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hub.bootstrap import build_hub
from hub.domain.errors import CrmQuotaExhausted, CrmRecordRejected
from hub.services.telemetry import InstrumentedCRM
from hub.web import create_app
from tests.fakes import FakeCRM
from tests.metrics.conftest import TOKEN, hub_settings
from webhooks.generic import HEADER, sign

METRICS_TOKEN = "scraper-token"
SECRET = "secret"
ZENDESK_SECRET = "zendesk-signing-secret-0123456789abcdef"


@pytest.fixture
def setup(engine, clock):
    crm = FakeCRM()
    hub = build_hub(
        hub_settings(
            metrics_token=METRICS_TOKEN, environment={"CTIHUB_ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET}
        ),
        clock=clock,
        crm=crm,
        engine=engine,
    )
    return hub, crm, create_app(hub=hub).test_client()


def scrape(client, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def post(client, clock, event_id: str, **changes) -> int:
    event = {
        "event_id": event_id,
        "occurred_at": "2026-11-23T14:55:00Z",
        "channel": "chat",
        "customer": {"phone": "+14155550100"},
        "intent": "billing",
        "outcome": "failed",
        **changes,
    }
    body = json.dumps(event).encode()
    headers = {HEADER: sign(SECRET, body, int(clock.now().timestamp())), "Content-Type": "application/json"}
    return client.post("/v1/outcomes", data=body, headers=headers).status_code


def test_metrics_needs_a_token(setup):
    _, _, client = setup
    answer = client.get("/metrics")
    assert answer.status_code == 401
    assert answer.json["error"]["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    scrape(client, METRICS_TOKEN)
    scrape(client, TOKEN)


def test_events_inbox_crm_link_and_dead_letters_are_counted(setup, clock):
    hub, crm, client = setup
    before = scrape(client)
    assert post(client, clock, "m1") == 202
    assert post(client, clock, "m1") == 200
    assert post(client, clock, "m2", intent="no-such-intent") == 422
    body = b'{"event_id": "x"}'
    bad = client.post(
        "/v1/outcomes", data=body, headers={HEADER: "t=1,v1=00", "Content-Type": "application/json"}
    )
    assert bad.status_code == 401
    clock.advance(seconds=90)
    after = scrape(client)
    delta = lambda name, **labels: value(after, name, **labels) - value(before, name, **labels)  # noqa: E731
    assert delta("ctihub_events_received_total", result="accepted", reason="") == 1
    assert delta("ctihub_events_received_total", result="duplicate", reason="") == 1
    assert delta("ctihub_events_received_total", result="rejected", reason="validation_failed") == 1
    assert delta("ctihub_events_received_total", result="rejected", reason="unauthorized") == 1
    assert value(after, "ctihub_inbox_events", status="pending") == 1
    assert value(after, "ctihub_inbox_oldest_pending_age_seconds") == 90

    assert hub.new_worker().drain() == 1
    linked = scrape(client)
    assert value(linked, "ctihub_inbox_events", status="pending") == 0
    assert value(linked, "ctihub_inbox_oldest_pending_age_seconds") == 0
    assert (
        value(linked, "ctihub_crm_requests_total", system="zendesk", operation="create_case", result="ok")
        - value(after, "ctihub_crm_requests_total", system="zendesk", operation="create_case", result="ok")
        == 1
    )
    assert (
        value(linked, "ctihub_link_duration_seconds_count")
        - value(after, "ctihub_link_duration_seconds_count")
        == 1
    )
    assert (
        value(linked, "ctihub_crm_request_duration_seconds_count", system="zendesk", operation="create_case")
        - value(after, "ctihub_crm_request_duration_seconds_count", system="zendesk", operation="create_case")
        == 1
    )

    crm.fail_next.append(CrmRecordRejected("bad field", crm="zendesk", crm_code="InvalidValue"))
    assert post(client, clock, "m3", customer={"phone": "+14155550199"}) == 202
    hub.new_worker().drain()
    crm.fail_next.append(CrmQuotaExhausted("quota", crm="zendesk", crm_code="429", retry_after=60))
    assert post(client, clock, "m4", customer={"phone": "+14155550188"}) == 202
    hub.new_worker().drain()
    final = scrape(client)
    assert (
        value(final, "ctihub_dead_letters_total", reason="record_rejected")
        - value(linked, "ctihub_dead_letters_total", reason="record_rejected")
        == 1
    )
    assert value(final, "ctihub_inbox_events", status="dead") == 1
    assert (
        value(final, "ctihub_crm_quota_pauses_total", system="zendesk")
        - value(linked, "ctihub_crm_quota_pauses_total", system="zendesk")
        == 1
    )
    assert (
        value(
            final,
            "ctihub_crm_requests_total",
            system="zendesk",
            operation="create_case",
            result="fail_record",
        )
        - value(
            linked,
            "ctihub_crm_requests_total",
            system="zendesk",
            operation="create_case",
            result="fail_record",
        )
        == 1
    )


def test_webhook_signature_failures_are_counted_by_source(setup):
    _, _, client = setup
    before = scrape(client)
    answer = client.post("/webhooks/zendesk", data=b"{}", headers={"Content-Type": "application/json"})
    assert answer.status_code == 401
    after = scrape(client)
    assert (
        value(after, "ctihub_webhook_deliveries_total", source="zendesk", result="signature_failed")
        - value(before, "ctihub_webhook_deliveries_total", source="zendesk", result="signature_failed")
        == 1
    )


def test_names_follow_the_conventions(setup):
    _, _, client = setup
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    families = {family.name: family for family in text_string_to_metric_families(text)}
    ours = {name: family for name, family in families.items() if name.startswith("ctihub_")}
    assert {
        "ctihub_events_received", "ctihub_webhook_deliveries", "ctihub_crm_requests",
        "ctihub_crm_request_duration_seconds", "ctihub_link_duration_seconds", "ctihub_dead_letters",
        "ctihub_crm_quota_pauses", "ctihub_inbox_events", "ctihub_inbox_oldest_pending_age_seconds",
        "ctihub_sla_actions", "ctihub_recovery_attempts", "ctihub_recovery_blocks",
    } <= set(ours)  # fmt: skip
    for family in ours.values():
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), family.name
        for sample in family.samples:
            assert not {"phone", "email", "customer", "case", "case_id", "episode"} & set(sample.labels)


def test_the_crm_wrapper_passes_everything_else_through():
    crm = FakeCRM()
    wrapped = InstrumentedCRM(crm)
    assert wrapped.name == "zendesk" and wrapped.cases is crm.cases
    assert getattr(wrapped, "without_retries", None) is None  # the fake has none: still none
    with pytest.raises(AttributeError):
        wrapped.write_batch  # noqa: B018
