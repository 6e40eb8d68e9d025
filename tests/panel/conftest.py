"""Panel fixtures: a hub (sandbox CRM or a fake one) with the web app, and an agent signed in."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.bootstrap import Hub, build_hub
from hub.services.clock import FixedClock
from hub.settings import Settings
from hub.web import create_app
from hub.web.session import Principal, sign_in
from tests.conftest import MAPPINGS, T0
from tests.fakes import FakeCRM
from webhooks.generic import HEADER, sign

SECRET = "panel-webhook-secret"
TOKEN = "panel-api-token"
SESSION_SECRET = "panel-session-secret-0123456789abcdef"
AGENT = Principal(
    subject="zendesk:user:381",
    name="Ana Agent",
    crm="zendesk",
    roles=frozenset({"agent"}),
    time_zone="America/New_York",
)


def settings(crm: str, *, sandbox: bool) -> Settings:
    return Settings(
        webhook_secret=SECRET,
        api_token=TOKEN,
        session_secret=SESSION_SECRET,
        mappings_dir=MAPPINGS,
        crm=crm,
        sandbox=sandbox,
    )


@dataclass
class World:
    hub: Hub
    app: Flask
    clock: FixedClock
    crm: str

    @property
    def noun(self) -> str:
        return "tickets" if self.crm == "zendesk" else "cases"

    def client(self, principal: Principal | None = AGENT) -> FlaskClient:
        client = self.app.test_client()
        if principal is not None:
            client.post("/test/panel-sign-in", json={**principal.as_dict()})
        return client

    def post(self, **changes: Any) -> None:
        event: dict[str, Any] = {
            "event_id": "evt-1",
            "source": "web-chat",
            "occurred_at": self.clock.now().isoformat().replace("+00:00", "Z"),
            "channel": "chat",
            "customer": {"phone": "(415) 555-0100", "name": "Jane Doe", "email": "Jane.Doe@Example.com"},
            "intent": "billing",
            "outcome": "abandoned",
            "summary": "Charged twice for October.",
        }
        event.update(changes)
        body = json.dumps(event).encode()
        headers = {
            HEADER: sign(SECRET, body, int(self.clock.now().timestamp())),
            "Content-Type": "application/json",
        }
        answer = self.app.test_client().post("/v1/outcomes", data=body, headers=headers)
        assert answer.status_code == 202, answer.get_data(as_text=True)

    def drain(self) -> int:
        return self.hub.new_worker().drain()

    def case_id(self) -> str:
        from sqlalchemy import select

        from hub.store.tables import episode_cases

        with self.hub.engine.connect() as connection:
            rows = connection.execute(select(episode_cases.c.linked_at, episode_cases.c.case_id)).all()
        assert rows, "no case linked yet"
        # The newest: a SELECT without ORDER BY has no order (PostgreSQL returns an updated row last),
        # and the fixed clock can give two cases one linked_at; the sandbox's ids grow with time.
        return max(rows, key=lambda row: (row.linked_at, len(row.case_id), row.case_id)).case_id

    def path(self, case_id: str) -> str:
        return f"/v1/panel/{self.crm}/{self.noun}/{case_id}"

    def page(self, case_id: str) -> str:
        return f"/panel/{self.crm}/{self.noun}/{case_id}"

    def three_channels(self) -> str:
        """A self-service failure, an abandoned chat, then an SMS: one problem, one case."""
        self.post(
            event_id="ss-1",
            source="ivr",
            channel="self_service",
            outcome="failed",
            occurred_at=(self.clock.now() - timedelta(minutes=30)).isoformat(),
            summary="Could not verify the charge in the IVR.",
        )
        self.post(
            event_id="chat-1",
            channel="chat",
            outcome="abandoned",
            occurred_at=(self.clock.now() - timedelta(minutes=20)).isoformat(),
            transcript=[
                {"from": "customer", "text": "I was charged twice"},
                {"from": "bot", "text": "Let me get an agent"},
            ],
        )
        self.post(
            event_id="sms-1",
            source="twilio-sms",
            channel="sms",
            outcome="no_response",
            occurred_at=(self.clock.now() - timedelta(minutes=10)).isoformat(),
            customer={"phone": "+1 415 555 0100"},
            summary="Texted back, no answer.",
        )
        assert self.drain() == 3
        return self.case_id()


def csrf_of(client: FlaskClient, path: str = "/") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, page[:500]
    return found.group(1)


def _install_sign_in(app: Flask) -> None:
    @app.post("/test/panel-sign-in")
    def _panel_sign_in() -> str:  # test-only door: the real sign-ins are ui-shell's
        from flask import request

        data = request.get_json()
        sign_in(Principal.from_dict(data))
        return "ok"


def make_world(engine, crm: str, *, sandbox: bool) -> World:
    clock = FixedClock(T0)
    hub = build_hub(
        settings(crm, sandbox=sandbox), clock=clock, crm=None if sandbox else FakeCRM(name=crm), engine=engine
    )
    app = create_app(hub=hub)
    app.config["TESTING"] = True
    _install_sign_in(app)
    return World(hub, app, clock, crm)


@pytest.fixture(params=["zendesk", "salesforce"])
def sandbox_world(request, sqlite_engine) -> Iterator[World]:
    world = make_world(sqlite_engine, request.param, sandbox=True)
    yield world
    world.hub.sandbox.reset()


@pytest.fixture
def world(engine) -> World:
    """A fake CRM (Zendesk) on SQLite and PostgreSQL."""
    return make_world(engine, "zendesk", sandbox=False)
