"""Bounded work per event: ``occurred_at`` (and a consent's ``captured_at``) must be near now.

Default window: at most 30 days old, at most 5 minutes ahead (``CTIHUB_MAX_EVENT_AGE_DAYS``,
``CTIHUB_MAX_CLOCK_SKEW_SECONDS``), judged by the hub's injected clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.bootstrap import build_hub
from hub.settings import Settings
from hub.web import create_app
from tests.e2e.conftest import Poster, outcome, settings


def iso(moment) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def details(response) -> list[dict]:
    return response.get_json()["error"]["details"]


@pytest.mark.parametrize(
    "offset",
    [timedelta(days=-30), timedelta(minutes=5), timedelta(0), timedelta(days=-29, hours=-23)],
)
def test_times_inside_the_window_are_accepted(post, clock, offset):
    response = post(outcome(occurred_at=iso(clock.now() + offset)))
    assert response.status_code == 202, response.get_json()


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (timedelta(days=-30, seconds=-1), "more than 30 days in the past"),
        (timedelta(days=-365 * 500), "more than 30 days in the past"),
        (timedelta(minutes=5, seconds=1), "more than 5 minutes in the future"),
        (timedelta(days=365 * 3), "more than 5 minutes in the future"),
    ],
)
def test_times_outside_the_window_are_422_naming_occurred_at(post, clock, hub, offset, words):
    response = post(outcome(occurred_at=iso(clock.now() + offset)))
    assert response.status_code == 422
    [problem] = details(response)
    assert problem["path"] == "$.occurred_at"
    assert words in problem["message"]
    with hub.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM inbox").scalar() == 0


def test_a_consent_captured_in_the_future_is_422(post, clock):
    """A future captured_at would outrank every later consent decision in the ledger."""
    event = outcome(consent={"sms": True, "captured_at": iso(clock.now() + timedelta(days=400))})
    response = post(event)
    assert response.status_code == 422
    assert [p["path"] for p in details(response)] == ["$.consent.captured_at"]


def test_the_window_is_configurable(sqlite_engine, clock, fake_crm):
    configured = Settings.from_env(
        {"CTIHUB_MAX_EVENT_AGE_DAYS": "1", "CTIHUB_MAX_CLOCK_SKEW_SECONDS": "0"},
        **{
            k: v
            for k, v in settings().__dict__.items()
            if k in ("webhook_secret", "api_token", "mappings_dir")
        },
    )
    hub = build_hub(configured, clock=clock, crm=fake_crm, engine=sqlite_engine)
    app = create_app(hub=hub)
    poster = Poster(app.test_client(), clock)
    assert poster(outcome(occurred_at=iso(clock.now() - timedelta(days=2)))).status_code == 422
    assert (
        poster(outcome(event_id="e2", occurred_at=iso(clock.now() + timedelta(seconds=1)))).status_code == 422
    )
    assert (
        poster(outcome(event_id="e3", occurred_at=iso(clock.now() - timedelta(hours=23)))).status_code == 202
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("MAX_EVENT_AGE_DAYS", "0"), ("MAX_CLOCK_SKEW_SECONDS", "-1"), ("MAX_EVENT_AGE_DAYS", "x")],
)
def test_a_bad_window_setting_stops_the_start(name, value):
    from hub.domain.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        Settings.from_env({f"CTIHUB_{name}": value})
    assert f"CTIHUB_{name}" in str(raised.value.problems) or f"CTIHUB_{name}" in str(raised.value)
