"""A hub linking into the sandbox CRM (SQLite), and helpers to make duplicates behind its back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from adapters.sandbox import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL
from hub.bootstrap import Hub, build_hub
from hub.commands.dedup import repair_for
from hub.services.dedup import DedupService
from hub.settings import Settings
from hub.store.dedup_tables import ambiguous_matches, dedup_audit, dedup_links, shared_identifiers
from hub.store.tables import episode_cases, event_links
from tests.conftest import MAPPINGS

INTENT_FIELD = 360000000002
SF = f"{SALESFORCE_INSTANCE_URL}/services/data/v59.0"
ZD = f"{ZENDESK_BASE_URL}/api/v2"


def copy_mappings(directory: Path, policies: dict[str, str] | None = None) -> Path:
    """The shipped mapping files with ``duplicate_policy`` set per intent code."""
    directory.mkdir(parents=True, exist_ok=True)
    for source in MAPPINGS.glob("*.yaml"):
        shutil.copy(source, directory / source.name)
    text = (directory / "intents.yaml").read_text()
    text = text.replace("    duplicate_policy: link_only\n", "")
    for code, policy in (policies or {}).items():
        marker = f"  - code: {code}\n"
        assert marker in text
        text = text.replace(marker, f"{marker}    duplicate_policy: {policy}\n")
    (directory / "intents.yaml").write_text(text)
    return directory


class World:
    """The hub, its sandbox CRM, and a CRM agent who creates cases by hand."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sb = hub.sandbox
        self.crm = hub.settings.crm
        self.http = self.sb.session()
        self.sleeps: list[float] = []
        self._events = 0

    # -- the hub's side ------------------------------------------------------------------------

    def event(self, **changes: Any) -> str:
        self._events += 1
        event: dict[str, Any] = {
            "event_id": f"ev-{self._events}",
            "source": "web-chat",
            "occurred_at": "2026-11-23T14:00:00Z",
            "channel": "chat",
            "customer": {"email": "jane@example.com", "name": "Jane Doe"},
            "intent": "billing",
            "outcome": "failed",
            "summary": "Charged twice.",
        }
        event.update(changes)
        self.hub.ingest.accept(json.dumps(event).encode())
        return event["event_id"]

    def link(self) -> int:
        return self.hub.new_worker().drain()

    def service(self) -> DedupService:
        repair = repair_for(self.hub)
        if hasattr(repair, "sleep"):
            repair.sleep = self.sleeps.append
        return DedupService(self.hub.engine, repair, self.hub.mappings.catalog, self.hub.clock)

    def episode_cases(self) -> dict[str, str]:
        with self.hub.engine.connect() as connection:
            return dict(connection.execute(select(episode_cases.c.episode_id, episode_cases.c.case_id)).all())

    def event_cases(self) -> dict[int, str]:
        with self.hub.engine.connect() as connection:
            return dict(connection.execute(select(event_links.c.inbox_id, event_links.c.case_id)).all())

    def dedup_rows(self) -> dict[str, int]:
        with self.hub.engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in (dedup_audit, dedup_links, shared_identifiers, ambiguous_matches)
            }

    # -- the CRM agent's side (straight to the sandbox API, as a person or another tool would) ---

    def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        if self.crm == "zendesk":
            kwargs.setdefault("auth", ("agent@example.com/token", "t"))
        else:
            kwargs.setdefault("headers", {"Authorization": "Bearer agent"})
        response = self.http.request(method, url, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else {}

    def zd_user(self, email: str | None = None, phone: str | None = None, name: str = "Someone") -> str:
        user = {"name": name, "email": email, "phone": phone, "role": "end-user"}
        return str(self._call("POST", f"{ZD}/users.json", json={"user": user})["user"]["id"])

    def zd_user_id(self, email: str) -> str:
        users = self._call("GET", f"{ZD}/users/search.json", params={"query": f"email:{email}"})["users"]
        return str(users[0]["id"])

    def zd_ticket(
        self, requester_id: str, intent: str, subject: str = "Called in", status: str = "open"
    ) -> str:
        ticket = {
            "subject": subject,
            "comment": {"body": f"{subject} (made by an agent)"},
            "requester_id": int(requester_id),
            "status": status,
            "custom_fields": [{"id": INTENT_FIELD, "value": intent}],
        }
        if status in ("solved", "closed"):
            ticket["assignee_id"] = int(self.zd_user(email="agent2@example.com", name="Agent"))
        return str(self._call("POST", f"{ZD}/tickets.json", json={"ticket": ticket})["ticket"]["id"])

    def zd_get(self, ticket_id: str) -> dict[str, Any]:
        return self._call("GET", f"{ZD}/tickets/{ticket_id}.json")["ticket"]

    def sf_contact(self, email: str | None = None, phone: str | None = None, last: str = "Doe") -> str:
        body = {"LastName": last, "Email": email, "Phone": phone}
        return self._call("POST", f"{SF}/sobjects/Contact/", json={k: v for k, v in body.items() if v})["id"]

    def sf_case(
        self, intent: str, *, contact: str | None = None, email: str | None = None, subject: str = "x"
    ) -> str:
        body: dict[str, Any] = {"Subject": subject, "CTI_Hub_Intent__c": intent, "Origin": "Phone"}
        if contact:
            body["ContactId"] = contact
        if email:
            body["SuppliedEmail"] = email
        return self._call("POST", f"{SF}/sobjects/Case/", json=body)["id"]

    def sf_update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self._call("PATCH", f"{SF}/sobjects/{sobject}/{record_id}", json=fields)

    def sf_get(self, sobject: str, record_id: str) -> dict[str, Any]:
        return self._call("GET", f"{SF}/sobjects/{sobject}/{record_id}")

    def sf_comments(self, case_id: str) -> list[str]:
        return [
            c["CommentBody"] for c in self.sb.records("salesforce", "CaseComment") if c["ParentId"] == case_id
        ]

    def hub_case(self) -> str:
        [case_id] = set(self.episode_cases().values())
        return case_id


def make_world(
    engine: Engine,
    clock: Any,
    tmp_path: Path,
    crm: str,
    policies: dict[str, str],
    closed_status: str | None = "Closed",
) -> World:
    settings = Settings(
        database_url="sqlite://",
        crm=crm,
        sandbox=True,
        mappings_dir=copy_mappings(tmp_path / "mappings", policies),
        webhook_secret="secret",
        api_token="token",
        crm_settings={"salesforce": {"dedup_closed_status": closed_status}} if closed_status else {},
    )
    return World(build_hub(settings, clock=clock, engine=engine))


@pytest.fixture(params=["zendesk", "salesforce"])
def crm(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def policies() -> dict[str, str]:
    return {}


@pytest.fixture
def world(
    sqlite_engine: Engine, clock: Any, tmp_path: Path, crm: str, policies: dict[str, str]
) -> Iterator[World]:
    yield make_world(sqlite_engine, clock, tmp_path, crm, policies)
