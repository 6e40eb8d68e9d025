"""Shared by the Salesforce and Zendesk adapter tests: a strict ``responses`` mock, the timeout every
request must carry, no sleeping, and a checker of Zendesk request bodies against the Zendesk Support
OpenAPI spec (``CTIHUB_TEST_ZENDESK_OAS`` or the shared fixtures copy; skipped when absent)."""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

TIMEOUT = (3.5, 12.0)  # (connect, read): every request must carry exactly this
OAS_PATH = Path(
    os.environ.get("CTIHUB_TEST_ZENDESK_OAS", "/work/shared/fixtures/specs/zendesk-support-oas.yaml")
)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """Every request must be registered, and every registered answer must be used."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _no_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """zenpy sleeps on 429 unless stopped, and a RetryPolicy without an injected ``sleep`` waits
    for real: an adapter that sleeps fails the test instead."""
    import zenpy.lib.api

    import adapters.http

    def refuse(seconds: float) -> None:
        raise AssertionError(f"the adapter slept {seconds}s")

    monkeypatch.setattr(zenpy.lib.api, "sleep", refuse)
    monkeypatch.setattr(adapters.http, "nap", refuse)


@pytest.fixture(autouse=True)
def _warn_legacy_again() -> Iterator[None]:
    """The legacy-login warning is logged once per process; each test starts afresh."""
    from adapters.salesforce import auth

    auth._warned.clear()
    yield
    auth._warned.clear()


class FakeTime:
    """A clock and a sleep that advances it, recording every wait (for RetryPolicy and adapters)."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def timeouts() -> tuple[float, float]:
    return TIMEOUT


@pytest.fixture
def sent(mocked: responses.RequestsMock) -> Callable[[], list[tuple[str, str]]]:
    """(method, url) of every request sent so far, after checking each carried our timeout."""

    def calls() -> list[tuple[str, str]]:
        for call in mocked.calls:
            assert call.request.req_kwargs["timeout"] == TIMEOUT, call.request.url
        return [(call.request.method, call.request.url) for call in mocked.calls]

    return calls


# -- the Zendesk Support OAS ------------------------------------------------------------------------


class ZendeskSpec:
    """Operations and their request-body schemas by (method, path), from the official Zendesk
    Support OAS."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = document["components"]
        self.routes: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for template, item in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    self.routes.append((method.upper(), pattern, operation))
        # Literal paths before templated ones (``/tickets/show_many`` is not ``/tickets/{ticket_id}``).
        self.routes.sort(key=lambda route: "[^/]+" in route[1].pattern)

    def operation(self, method: str, url: str) -> dict[str, Any]:
        path = re.sub(r"^https://[^/]+", "", url.split("?")[0]).removesuffix(".json")
        found = [op for m, pattern, op in self.routes if m == method and pattern.match(path)]
        assert found, f"no operation for {method} {path} in the OAS"
        return found[0]

    def schema(self, name: str) -> dict[str, Any]:
        return self.components["schemas"][name]

    def check(self, method: str, url: str, body: Any) -> str:
        """Validate ``body`` against the operation's request schema; returns the operationId.

        The OAS ticket and user schemas allow any extra property, so every property we send is also
        checked against the declared ones (plus ``additional_tags``/``remove_tags``, which the OAS
        documents on the ticket objects of TicketsUpdateRequest).
        """
        import jsonschema

        operation = self.operation(method, url)
        if "requestBody" not in operation:  # e.g. GET, or the screen pop's POST ... /display
            assert body in (None, b"", ""), f"{operation['operationId']} takes no request body"
            return str(operation["operationId"])
        ref = operation["requestBody"]["content"]["application/json"]["schema"]
        jsonschema.Draft7Validator({**ref, "components": self.components}).validate(body)
        if "ticket" in body:
            known = set(self.schema("TicketObject")["properties"]) | {"additional_tags", "remove_tags"}
            assert set(body["ticket"]) <= known, set(body["ticket"]) - known
            comment_known = set(self.schema("TicketCommentObject")["properties"])
            assert set(body["ticket"].get("comment", {})) <= comment_known
        if "user" in body:
            known = set(self.schema("UserCreateInput")["properties"])
            assert set(body["user"]) <= known, set(body["user"]) - known
        return str(operation["operationId"])


@functools.cache
def load_zendesk_spec() -> ZendeskSpec | None:
    """The Zendesk Support OAS (read once per test run), or None when the file is not there."""
    if not OAS_PATH.exists():
        return None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(loader):  # type: ignore[misc,valid-type]
        """The OAS has ``change: =`` values, which YAML 1.1 reads as the ``value`` tag."""

    Loader.add_constructor("tag:yaml.org,2002:value", lambda self, node: self.construct_scalar(node))
    with OAS_PATH.open(encoding="utf-8") as stream:
        return ZendeskSpec(yaml.load(stream, Loader=Loader))  # noqa: S506 - a SafeLoader subclass


@pytest.fixture(scope="session")
def _zendesk_spec() -> ZendeskSpec | None:
    return load_zendesk_spec()


@pytest.fixture
def zendesk_oas(_zendesk_spec: ZendeskSpec | None) -> Callable[[Any], str | None]:
    """``zendesk_oas(call)`` checks a recorded request: its operation exists in the OAS and its JSON
    body (or the absence of one) fits that operation; a no-op without the spec."""

    def check(call: Any) -> str | None:
        if _zendesk_spec is None:
            return None
        body = json.loads(call.request.body) if call.request.body else None
        return _zendesk_spec.check(call.request.method, call.request.url, body)

    return check
