"""A Hub with every channel webhook configured, on SQLite and PostgreSQL, and helpers that post like
each provider does (signed with the provider's algorithm, whose published vectors are tested apart)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from hub.bootstrap import Hub, build_hub
from hub.ports import RecordRef
from hub.settings import Settings
from hub.store import customers, episodes, links
from hub.store.webhook_tables import webhook_deliveries
from hub.web import create_app
from tests.conftest import MAPPINGS, PROJECT_ROOT
from tests.fakes import FakeCRM
from webhooks import twilio_sms, zendesk

SHARED = PROJECT_ROOT.parent / "shared"
PUBLIC_URL = "https://hub.example.com"
TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"  # secrets meet SECRET_MINIMUMS (32, Sunshine 24)
ZENDESK_SECRET = "zendesk-signing-secret-0123456789abcdef"
SUNSHINE_KEY = "sunshine-webhook-secret-0123456789"
SALESFORCE_TOKEN = "salesforce-outbound-token-0123456789"
ORG_ID_15 = "00De0000000pmu1"  # the org of the published State_Province__c outbound message
ORG_ID_18 = "00De0000000pmu1EAA"
CUSTOMER_PHONE = "+14155550100"

CHANNEL_ENV = {
    "CTIHUB_PUBLIC_URL": PUBLIC_URL,
    "CTIHUB_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "CTIHUB_ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
    "CTIHUB_SUNSHINE_API_KEY": SUNSHINE_KEY,
    "CTIHUB_SALESFORCE_ORG_IDS": f"{ORG_ID_15}, 00D000000000001",
    "CTIHUB_SALESFORCE_OUTBOUND_TOKEN": SALESFORCE_TOKEN,
}


def shared_file(relative: str) -> Path:
    """A file of ../shared (the research folder beside the project), or skip when it is not there."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is not present (the shared research folder is optional)")
    return path


def make_settings(crm: str = "zendesk", **environment: str) -> Settings:
    env = {**CHANNEL_ENV, **environment}
    return Settings(
        webhook_secret="test-webhook-secret-0123456789abcdef",
        api_token="test-api-token-0123456789abcdef-0123",
        mappings_dir=MAPPINGS,
        crm=crm,
        environment={k: v for k, v in env.items() if v},
    )


@pytest.fixture
def crm_name() -> str:
    return "zendesk"


@pytest.fixture
def fake_crm(crm_name: str) -> FakeCRM:
    return FakeCRM(name=crm_name)


@pytest.fixture
def environment() -> dict[str, str]:
    """Override per test (e.g. ``{"CTIHUB_TWILIO_AUTH_TOKEN": ""}`` to unset one)."""
    return {}


@pytest.fixture
def hub(
    engine: Engine, clock, fake_crm: FakeCRM, crm_name: str, environment: dict[str, str]
) -> Iterator[Hub]:
    yield build_hub(make_settings(crm_name, **environment), clock=clock, crm=fake_crm, engine=engine)


@pytest.fixture
def client(hub: Hub) -> FlaskClient:
    app = create_app(hub=hub)
    app.config["TESTING"] = True
    return app.test_client()


# --- posting like each provider -------------------------------------------------------------------


class Twilio:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.count = 0

    def form(self, body: str, *, sid: str | None = None, sender: str = CUSTOMER_PHONE, **extra: str) -> list:
        self.count += 1
        params = [
            ("ToCountry", "US"),
            ("SmsMessageSid", sid or f"SM{self.count:032d}"),
            ("NumMedia", "0"),
            ("ToCity", ""),
            ("SmsStatus", "received"),
            ("Body", body),
            ("To", "+12028831111"),
            ("NumSegments", "1"),
            ("MessageSid", sid or f"SM{self.count:032d}"),
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("From", sender),
            ("ApiVersion", "2010-04-01"),
        ]
        params.extend(extra.items())
        return params

    def post(
        self,
        params: list,
        *,
        token: str = TWILIO_TOKEN,
        url: str = f"{PUBLIC_URL}/webhooks/twilio/sms",
        path: str = "/webhooks/twilio/sms",
        signature: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ):
        body = urlencode(params)
        headers = {"Content-Type": content_type}
        headers[twilio_sms.HEADER] = (
            signature if signature is not None else twilio_sms.compute_signature(token, url, params)
        )
        return self.client.post(path, data=body, headers=headers)

    def sms(self, body: str, **kwargs: Any):
        return self.post(self.form(body, **kwargs))


@pytest.fixture
def twilio(client: FlaskClient) -> Twilio:
    return Twilio(client)


class Zendesk:
    def __init__(self, client: FlaskClient, clock) -> None:
        self.client = client
        self.clock = clock

    def post(
        self,
        payload: dict | bytes,
        *,
        secret: str = ZENDESK_SECRET,
        at: datetime | None = None,
        timestamp: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        stamp = timestamp or (at or self.clock.now()).strftime("%Y-%m-%dT%H:%M:%SZ")
        sent = {
            "Content-Type": "application/json",
            zendesk.TIMESTAMP_HEADER: stamp,
            zendesk.SIGNATURE_HEADER: zendesk.sign(secret, stamp, body),
        }
        sent.update(headers or {})
        return self.client.post("/webhooks/zendesk", data=body, headers=sent)


@pytest.fixture
def zendesk_hook(client: FlaskClient, clock) -> Zendesk:
    return Zendesk(client, clock)


def ticket_event(kind: str, ticket_id: str, event: dict, *, event_id: str | None = None) -> dict:
    """A Zendesk event-subscription payload (shape of developer.zendesk.com's ticket events)."""
    return {
        "type": f"zen:event-type:ticket.{kind}",
        "account_id": 22129848,
        "id": event_id or f"evt-{kind}-{ticket_id}",
        "subject": f"zen:ticket:{ticket_id}",
        "time": "2026-11-23T14:59:00.123456789Z",
        "zendesk_event_version": "2022-11-06",
        "detail": {"id": ticket_id, "status": "OPEN", "via": {"channel": "web"}},
        "event": event,
    }


# --- state helpers --------------------------------------------------------------------------------


def open_episode(
    engine: Engine, clock, *, crm: str, case_id: str, phone: str = CUSTOMER_PHONE, family="billing"
):
    """An open episode whose case/ticket in ``crm`` is ``case_id`` (as the link worker leaves it)."""
    from hub.domain.identity import PHONE, Identifier

    now = clock.now()
    with engine.begin() as connection:
        key = customers.resolve_customer(
            connection, [Identifier(PHONE, phone, phone)], name=None, fallback_key="x", now=now
        )
        episode, _ = episodes.claim_episode(
            connection,
            customer_key=key,
            family=family,
            intent=family,
            occurred_at=now - timedelta(minutes=5),
            window=timedelta(hours=72),
            new_id=f"ep_{crm}_{case_id}",
            now=now,
        )
        links.record_episode_case(connection, episode.id, RecordRef(crm, "Case", case_id, True), now)
    return episode.id


def episode_row(engine: Engine, episode_id: str):
    from hub.store.tables import episodes as table

    with engine.connect() as connection:
        return connection.execute(select(table).where(table.c.id == episode_id)).one()


def deliveries(engine: Engine, source: str | None = None) -> list:
    query = select(webhook_deliveries).order_by(webhook_deliveries.c.id)
    if source:
        query = query.where(webhook_deliveries.c.source == source)
    with engine.connect() as connection:
        return list(connection.execute(query).all())
