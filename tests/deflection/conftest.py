"""A hub on SQLite and PostgreSQL with a fake CRM, the shipped mappings, and helpers to post and offer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.bootstrap import Hub, build_hub
from hub.domain.consent import ConsentDecision
from hub.store.consent import record_consent
from hub.web import create_app
from tests.e2e.conftest import TOKEN, Poster, settings
from tests.fakes import FakeCRM

PHONE = "(415) 555-0100"
E164 = "+14155550100"
# The shipped deflection.yaml reads the new-york schedule (Mon-Fri 09:00-17:00, America/New_York).
SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10:00 in New York, closed


@pytest.fixture
def fake_crm() -> FakeCRM:
    return FakeCRM()


@pytest.fixture
def hub(engine, clock, fake_crm) -> Iterator[Hub]:
    yield build_hub(settings(), clock=clock, crm=fake_crm, engine=engine)


@pytest.fixture
def app(hub: Hub) -> Flask:
    app = create_app(hub=hub)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def post(client: FlaskClient, clock) -> Poster:
    return Poster(client, clock)


def busy(**changes: Any) -> dict[str, Any]:
    """An offer request for a busy voice queue in business hours."""
    body: dict[str, Any] = {
        "intent": "password_reset",
        "phone": PHONE,
        "estimated_wait_seconds": 420,
        "agents_available": 0,
        "service_level": 0.62,
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


class Offers:
    """Asks for offers the way an IVR does, and reads the trail the way a widget does."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def __call__(self, body: dict[str, Any] | None = None, *, token: str | None = TOKEN, **changes: Any):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/v1/deflection/offer", json=body or busy(**changes), headers=headers)

    def ok(self, **changes: Any) -> dict[str, Any]:
        response = self(**changes)
        assert response.status_code == 200, response.json
        return response.json

    def context(self, token: str):
        return self.client.get(f"/v1/context/{token}")


@pytest.fixture
def offers(client: FlaskClient) -> Offers:
    return Offers(client)


def link_all(hub: Hub) -> int:
    return hub.new_worker().drain()


def grant_sms(hub: Hub, granted: bool = True, *, at: datetime | None = None) -> None:
    with hub.engine.begin() as connection:
        record_consent(
            connection,
            ConsentDecision("sms", E164, granted, at or hub.clock.now(), "test", None),
            now=hub.clock.now(),
        )
