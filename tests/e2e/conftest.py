from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.bootstrap import Hub, build_hub
from hub.settings import Settings
from hub.web import create_app
from tests.conftest import MAPPINGS
from tests.fakes import FakeCRM
from webhooks.generic import HEADER, sign

SECRET = "test-webhook-secret-0123456789abcdef"  # every secret meets its minimum (32 characters)
TOKEN = "test-api-token-0123456789abcdef-0123"
CONTEXT_SECRET = "test-context-token-secret-0123456789"


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhook_secret": SECRET,
        "api_token": TOKEN,
        "mappings_dir": MAPPINGS,
        "crm": "zendesk",
    }
    environment = {"CTIHUB_CONTEXT_TOKEN_SECRET": CONTEXT_SECRET, **overrides.pop("environment", {})}
    values.update(overrides)
    return Settings(**values, environment={k: v for k, v in environment.items() if v})


@pytest.fixture
def fake_crm() -> FakeCRM:
    return FakeCRM()


@pytest.fixture
def hub(sqlite_engine, clock, fake_crm) -> Iterator[Hub]:
    yield build_hub(settings(), clock=clock, crm=fake_crm, engine=sqlite_engine)


@pytest.fixture
def app(hub: Hub) -> Flask:
    app = create_app(hub=hub)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def outcome(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": "evt-1",
        "source": "web-chat",
        "occurred_at": "2026-11-23T14:55:00Z",
        "channel": "chat",
        "customer": {"phone": "(415) 555-0100", "name": "Jane Doe"},
        "intent": "billing",
        "outcome": "failed",
        "summary": "Charged twice for October.",
    }
    event.update(changes)
    return event


class Poster:
    """Posts signed events the way a platform does."""

    def __init__(self, client: FlaskClient, clock) -> None:
        self.client = client
        self.clock = clock

    def raw(self, body: bytes, *, secret: str = SECRET, headers: dict[str, str] | None = None, skew: int = 0):
        signed = {
            HEADER: sign(secret, body, int(self.clock.now().timestamp()) + skew),
            "Content-Type": "application/json",
        }
        signed.update(headers or {})
        return self.client.post("/v1/outcomes", data=body, headers=signed)

    def __call__(self, event: dict[str, Any] | None = None, **changes: Any):
        return self.raw(json.dumps(event or outcome(**changes)).encode())

    def status(self, source: str, event_id: str, token: str = TOKEN):
        return self.client.get(
            f"/v1/outcomes/{source}/{event_id}", headers={"Authorization": f"Bearer {token}"}
        )


@pytest.fixture
def post(client: FlaskClient, clock) -> Poster:
    return Poster(client, clock)
