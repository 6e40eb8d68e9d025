"""Apps for the web UI tests: a sandbox hub or a production-like one, each on its own SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hub.bootstrap import build_hub
from hub.settings import Settings
from hub.web import create_app
from tests.conftest import MAPPINGS
from tests.fakes import FakeCRM

TOKEN = "test-api-token"
SESSION_SECRET = "test-session-secret-0123456789abcdef"


def web_settings(
    *,
    sandbox: bool = False,
    crm: str = "zendesk",
    env: dict[str, str] | None = None,
    crm_settings: dict[str, dict[str, str]] | None = None,
) -> Settings:
    return Settings(
        webhook_secret="test-webhook-secret-0123456789abcdef",
        api_token=TOKEN,
        session_secret=SESSION_SECRET,
        mappings_dir=MAPPINGS,
        crm=crm,
        sandbox=sandbox,
        environment={k if k.startswith("CTIHUB_") else "CTIHUB_" + k: v for k, v in (env or {}).items()},
        crm_settings=crm_settings or {},
    )


@pytest.fixture
def make_app(sqlite_engine, clock) -> Iterator[Callable[..., Flask]]:
    hubs: list[Any] = []

    def make(**kwargs: Any) -> Flask:
        settings = web_settings(**kwargs)
        crm = None if settings.sandbox else FakeCRM()
        hub = build_hub(settings, clock=clock, crm=crm, engine=sqlite_engine)
        hubs.append(hub)
        app = create_app(hub=hub)
        app.config["TESTING"] = True
        return app

    yield make
    for hub in hubs:
        if hub.sandbox is not None:
            hub.sandbox.reset()


@pytest.fixture
def sandbox_app(make_app) -> Flask:
    return make_app(sandbox=True)


@pytest.fixture
def prod_app(make_app) -> Flask:
    return make_app(sandbox=False)


@pytest.fixture
def client(prod_app: Flask) -> FlaskClient:
    return prod_app.test_client()
