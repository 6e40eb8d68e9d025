"""Browser fixtures: a real hub over HTTP on the sandbox (``live_hub``) and a headless Chromium page.

``live_hub`` serves ``create_app`` with werkzeug's ``make_server`` on 127.0.0.1 (port 0) in a
thread. It is a sandbox hub on SQLite in ``tmp_path`` for Zendesk; choose Salesforce with
``@pytest.mark.parametrize("live_hub", ["salesforce"], indirect=True)``. Its clock is a
``FixedClock`` started at the real time (tests may advance it); nothing runs the worker or the
scheduler in the background: call ``live_hub.drain()``.

Chromium treats ``http://127.0.0.1`` as a secure context, so the session cookie (``Secure``,
``SameSite=None``) is stored and sent over plain HTTP there (``test_shell.py`` proves it).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from hub.bootstrap import Hub, build_hub
from hub.services.clock import FixedClock
from hub.settings import Settings
from hub.store import migrate
from hub.store.db import make_engine
from tests.conftest import MAPPINGS
from webhooks.generic import HEADER, sign

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WEBHOOK_SECRET = "browser-webhook-secret"
API_TOKEN = "browser-api-token"
SESSION_SECRET = "browser-session-secret-0123456789abcdef"

try:
    import playwright  # noqa: F401
except ImportError:  # the browser fixture fails under CI; elsewhere the tests are not collected
    if not IN_CI:
        collect_ignore_glob = ["test_*.py"]


@dataclass
class LiveHub:
    url: str
    hub: Hub
    app: Flask
    clock: FixedClock
    server: BaseWSGIServer
    thread: threading.Thread
    _session: requests.Session = field(default_factory=requests.Session)

    def post_outcome(self, event: dict[str, Any]) -> requests.Response:
        """Sign ``event`` as a platform does and POST it to ``/v1/outcomes``."""
        body = json.dumps(event).encode()
        headers = {
            HEADER: sign(WEBHOOK_SECRET, body, int(self.clock.now().timestamp())),
            "Content-Type": "application/json",
        }
        return self._session.post(f"{self.url}/v1/outcomes", data=body, headers=headers, timeout=10)

    def drain(self) -> int:
        """Link every due event now (what the worker thread does in ``ctihub serve``)."""
        return self.hub.new_worker().drain()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)
        self._session.close()
        self.hub.close()


def live_settings(crm: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": "sqlite://",  # replaced by the engine passed to build_hub
        "webhook_secret": WEBHOOK_SECRET,
        "api_token": API_TOKEN,
        "session_secret": SESSION_SECRET,
        "mappings_dir": MAPPINGS,
        "crm": crm,
        "sandbox": True,
    }
    values.update(overrides)
    return Settings(**values)


def start_live_hub(tmp_path: Path, crm: str = "zendesk", **overrides: Any) -> LiveHub:
    from hub.web import create_app

    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    migrate.upgrade(engine)
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    hub = build_hub(live_settings(crm, **overrides), clock=clock, engine=engine)
    app = create_app(hub=hub)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-hub", daemon=True)
    thread.start()
    return LiveHub(f"http://127.0.0.1:{server.port}", hub, app, clock, server, thread)


@pytest.fixture
def live_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveHub]:
    crm = getattr(request, "param", "zendesk")
    live = start_live_hub(tmp_path, crm)
    try:
        yield live
    finally:
        live.close()


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"headless Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if IN_CI:
        pytest.fail(message + " and CI=true")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _need_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if IN_CI:
            pytest.fail("the playwright package is not installed and CI=true")
        pytest.skip("the playwright package is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A fresh page (own context: no cookies) in headless Chromium; fails under CI=true without it."""
    page = browser_context.new_page()
    page.set_default_timeout(10_000)
    yield page
    page.close()
