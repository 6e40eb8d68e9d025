"""Browser fixtures for the console bridge tests: headless Chromium and two local servers.

``hub`` serves ``hub/web/static`` (bridge.js and its hosts, as the hub ships them) and a minimal
test panel page; ``console`` serves the stand-in hosts of ``tests/browser/hosts``. They listen on
different ports of 127.0.0.1, so a panel framed by a stand-in console is really cross-origin.
The browser is the session one of ``tests/browser/conftest.py`` (one Playwright session per run).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, abort, request, send_from_directory
from werkzeug.serving import make_server

from hub.panel_package import build_salesforce, parse_public_url

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "hub" / "web" / "static"
HOSTS = ROOT / "tests" / "browser" / "hosts"


class Server:
    def __init__(self, app: Flask) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


@dataclass
class Consoles:
    """The two servers; ``host_origins`` is what the panel page renders as data-host-origins
    (None: no attribute, so each host falls back to its platform's domains)."""

    hub: Server
    console: Server
    host_origins: str | None = None
    lwc_source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def panel_url(self, host: str, **query: str) -> str:
        parts = [f"host={host}", *(f"{key}={value}" for key, value in query.items())]
        return f"{self.hub.url}/hosts/panel?" + "&".join(parts)


def _hub_app(state: dict[str, Any]) -> Flask:
    app = Flask("bridge-test-hub", static_folder=str(STATIC), static_url_path="/static")
    template = (HOSTS / "panel.html").read_text()

    @app.after_request
    def csp(response: Response) -> Response:
        consoles: Consoles = state["consoles"]
        console = consoles.console.url
        # What the hub's pages send: scripts from the hub itself, plus the Salesforce domain that
        # serves opencti_min.js; framed only by the configured consoles.
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self' {console}; frame-ancestors 'self' {console}"
        )
        return response

    def panel_page() -> str:
        consoles: Consoles = state["consoles"]
        origins = request.args.get("origins", consoles.host_origins)
        scripts = ""
        if request.args.get("fake") == "zaf":
            scripts = '<script src="/hosts/fake_zaf_client.js"></script>'
        return template.format(
            host=request.args.get("host", ""),
            origins_attribute="" if origins is None else f' data-host-origins="{origins}"',
            extra_scripts=scripts,
        )

    app.add_url_rule("/hosts/panel", "panel", panel_page)
    app.add_url_rule("/panel/salesforce", "panel_salesforce", panel_page)
    app.add_url_rule("/panel/salesforce/cases/<case_id>", "panel_case", lambda case_id: panel_page())

    @app.get("/hosts/<path:name>")
    def host_file(name: str) -> Response:
        return send_from_directory(HOSTS, name)

    return app


def _console_app(state: dict[str, Any]) -> Flask:
    app = Flask("bridge-test-console")

    @app.get("/support/api/<version>/lightning/opencti_min.js")
    def opencti(version: str) -> Response:
        if not re.fullmatch(r"\d+\.0", version):
            abort(404)
        return send_from_directory(HOSTS, "fake_opencti_min.js")

    @app.get("/hosts/<path:name>")
    def host_file(name: str) -> Response:
        return send_from_directory(HOSTS, name)

    @app.get("/lwc/ctiHubPanel.js")
    def lwc_component() -> Response:
        consoles: Consoles = state["consoles"]
        return Response(consoles.lwc_source, mimetype="text/javascript")

    return app


def strip_decorators(source: str) -> str:
    """Chromium runs no decorators yet; Lightning compiles them away, so does this."""
    source = re.sub(r"^(\s*)@api\s+", r"\1", source, flags=re.MULTILINE)
    return re.sub(r"^\s*@wire\([^)]*\)\s*\n", "", source, flags=re.MULTILINE)


@pytest.fixture(scope="session")
def consoles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consoles]:
    state: dict[str, Any] = {}
    hub = Server(_hub_app(state))
    console = Server(_console_app(state))
    tree = build_salesforce(parse_public_url(hub.url), tmp_path_factory.mktemp("sfdx"))
    source = (tree / "force-app/main/default/lwc/ctiHubPanel/ctiHubPanel.js").read_text()
    state["consoles"] = Consoles(hub=hub, console=console, lwc_source=strip_decorators(source))
    yield state["consoles"]
    hub.close()
    console.close()


@pytest.fixture(autouse=True)
def _reset_origins(consoles: Consoles) -> Iterator[None]:
    consoles.host_origins = consoles.console.url
    yield
    consoles.host_origins = consoles.console.url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.page_errors = errors
    yield opened
    context.close()


CONNECTED = "() => window.__panel && (window.__panel.ready || window.__panel.error !== null)"


@pytest.fixture
def open_panel(page: Any) -> Any:
    """Open the test panel at a URL (top level); returns what its bridge reported on connecting."""

    def opener(url: str) -> dict[str, Any]:
        page.goto(url)
        page.wait_for_function(CONNECTED)
        return page.evaluate(
            "({ready: __panel.ready, error: __panel.error, host: __panel.bridge && __panel.bridge.host})"
        )

    return opener


@pytest.fixture
def open_framed(page: Any, consoles: Consoles) -> Any:
    """Open a stand-in console page that frames the panel; returns the panel's frame, connected."""

    def opener(url: str) -> Any:
        page.goto(url)
        frame = page.wait_for_selector("iframe").content_frame()
        frame.wait_for_url(f"{consoles.hub.url}/**")
        frame.wait_for_load_state()
        frame.wait_for_function(CONNECTED)
        return frame

    return opener
