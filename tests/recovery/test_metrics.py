"""Recovery metrics from the tables, and ``GET /v1/metrics/recovery``."""

from __future__ import annotations

from hub.bootstrap import build_hub
from hub.services.recovery_metrics import recovery_metrics
from hub.web import create_app
from tests.e2e.conftest import TOKEN, settings
from tests.fakes import FakeCRM
from tests.recovery.conftest import T0


def scenario(harness):
    """Three customers: one comes back after the SMS, one opts out after it, one never consented."""
    back, stop, never = "+12125550101", "+12125550102", "+12125550103"
    for phone in (back, stop, never):
        harness.link(
            customer={"phone": phone}, consent={} if phone == never else {"sms": True, "voice": True}
        )
    harness.tick()
    harness.advance(minutes=10)
    harness.tick()
    harness.advance(hours=1)
    harness.link(customer={"phone": back}, channel="chat", outcome="in_progress", source="web-chat")
    harness.consent("sms", stop, False, source="twilio:STOP")
    harness.tick()
    return back, stop, never


def test_the_figures(harness):
    scenario(harness)
    metrics = recovery_metrics(harness.engine)
    assert metrics["attempts"]["by_result"] == {"sent": 2, "blocked": 1, "cancelled": 1, "pending": 2}
    assert metrics["attempts"]["by_action"] == {
        "sms": {"sent": 2, "blocked": 1},
        "callback": {"cancelled": 1, "pending": 2},  # the opted-out and the never-consented
    }
    assert metrics["attempts"]["touches"] == 2
    assert metrics["blocked"]["by_reason"] == {"no_consent": 1, "customer_came_back": 1}
    assert metrics["plans"] == {"touched": 2, "recovered": 1}
    assert metrics["connect_rate"] == 0.5
    assert metrics["touches_per_resolution"] == 1.0
    assert metrics["opt_out_rate_per_touch"] == {"all": 0.5, "sms": 0.5}
    assert recovery_metrics(harness.engine, since=T0.replace(year=2027))["attempts"]["touches"] == 0


def test_the_endpoint_needs_the_token(sqlite_engine, clock):
    hub = build_hub(settings(), clock=clock, crm=FakeCRM(), engine=sqlite_engine)
    client = create_app(hub=hub).test_client()
    assert client.get("/v1/metrics/recovery").status_code == 401
    answer = client.get("/v1/metrics/recovery", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.get_json()["attempts"] == {"by_action": {}, "by_result": {}, "touches": 0}
    bad = client.get("/v1/metrics/recovery?since=yesterday", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 422
