"""A published configuration reaches a running `ctihub worker` (another process) without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.bootstrap import build_hub
from hub.live_config import config_versions
from hub.services.config_versions import Actor
from hub.settings import Settings
from hub.store.tables import inbox
from tests.conftest import MAPPINGS, _truncate

pytestmark = pytest.mark.postgres
APPLY_WITHIN_SECONDS = 10.0
ADMIN = Actor("zendesk:user:9", "Ada Admin")
OLD_TAGS = "value: [ctihub]}"
NEW_TAGS = "value: [ctihub, config-v2]}"


def wait_for(condition: Callable[[], object], seconds: float, what: str) -> object:
    """Poll another process's effect (the only way to observe it) until it shows or time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


@pytest.fixture
def world(postgres_url: str, postgres_engine, tmp_path: Path) -> Iterator[dict]:
    _truncate(postgres_engine)
    env = {
        "CTIHUB_DATABASE_URL": postgres_url,
        "CTIHUB_SANDBOX": "true",
        "CTIHUB_CRM": "zendesk",
        "CTIHUB_MAPPINGS": str(MAPPINGS),
        "CTIHUB_WEBHOOK_SECRET": "live-apply-webhook-secret-0123456789abcdef",
        "CTIHUB_API_TOKEN": "live-apply-api-token-0123456789abcdefghij",
        "CTIHUB_SESSION_SECRET": "live-apply-session-secret-0123456789",
        "CTIHUB_CONFIG_POLL_SECONDS": "1",
        "CTIHUB_WORKER_POLL_SECONDS": "0.2",
        "CTIHUB_LINK_BATCH_WINDOW_SECONDS": "0",
    }
    settings = Settings.from_env(env)
    hub = build_hub(settings, engine=postgres_engine)  # seeds version 1 from mappings/
    hub.sandbox.reset()
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("ctihub")), "worker"],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "worker.log", "w"),  # noqa: SIM115 - closed with the process
    )
    try:
        yield {"hub": hub, "worker": worker, "settings": settings}
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        hub.sandbox.reset()
        _truncate(postgres_engine)


def linked(hub, event_id: str) -> Callable[[], tuple | None]:
    def check() -> tuple | None:
        with hub.engine.connect() as connection:
            row = connection.execute(
                select(inbox.c.status, inbox.c.config_version).where(inbox.c.event_id == event_id)
            ).first()
        return tuple(row) if row and row.status == "linked" else None

    return check


def send(hub, n: int) -> str:
    event_id = f"live-{n}-{uuid.uuid4().hex[:8]}"
    body = {
        "event_id": event_id,
        "occurred_at": "2026-12-06T20:00:00Z",
        "channel": "chat",
        "customer": {"email": f"customer{n}-{event_id}@example.com", "name": f"Customer {n}"},
        "intent": "billing",
        "outcome": "failed",
        "summary": "Charged twice.",
    }
    hub.ingest.accept(json.dumps(body).encode())
    return event_id


def tags_of_ticket_for(hub, event_id: str) -> list[str]:
    tickets = hub.sandbox.records("zendesk", "ticket")
    mine = [t for t in tickets if event_id.split("-")[2] in json.dumps(t)]
    assert len(mine) == 1, f"expected the one ticket of {event_id}"
    return sorted(mine[0]["tags"])


def test_publish_applies_in_a_running_worker_and_rollback_too(world):
    hub, settings = world["hub"], world["settings"]
    versions = config_versions(settings, hub.engine)
    first = send(hub, 1)
    assert wait_for(linked(hub, first), 30, "the worker links the first event") == ("linked", 1)
    assert "config-v2" not in tags_of_ticket_for(hub, first)

    documents = dict(versions.get(1).documents)
    assert OLD_TAGS in documents["fields.zendesk.yaml"]
    documents["fields.zendesk.yaml"] = documents["fields.zendesk.yaml"].replace(OLD_TAGS, NEW_TAGS)
    draft, problems = versions.save_draft(documents, actor=ADMIN, based_on=1, note="tag v2")
    assert problems == []
    versions.publish(draft, base_version=1, actor=ADMIN)
    published_at = time.monotonic()

    second = send(hub, 2)
    assert wait_for(linked(hub, second), APPLY_WITHIN_SECONDS, "linked with version 2") == ("linked", draft)
    assert time.monotonic() - published_at < APPLY_WITHIN_SECONDS
    assert "config-v2" in tags_of_ticket_for(hub, second)
    assert world["worker"].poll() is None  # the same process: no restart

    back = versions.rollback(1, actor=ADMIN)
    third = send(hub, 3)
    assert wait_for(linked(hub, third), APPLY_WITHIN_SECONDS, "linked after the rollback") == (
        "linked",
        back.id,
    )
    assert "config-v2" not in tags_of_ticket_for(hub, third)


def test_scheduler_ticks_use_the_services_of_the_applied_version(sqlite_engine, clock, monkeypatch):
    """The scheduler's ticks are resolved from the Hub again once a new version is applied."""
    from hub.live_config import CurrentTicks
    from hub.services.recovery import RecoveryService
    from tests.web.conftest import web_settings

    seen: list[int] = []
    monkeypatch.setattr(RecoveryService, "tick", lambda self: seen.append(id(self)))
    hub = build_hub(web_settings(sandbox=True), clock=clock, engine=sqlite_engine)
    try:
        runners = CurrentTicks(hub).all()
        runners["recovery"]()
        runners["recovery"]()
        assert len(set(seen)) == 1  # built once per version, not per firing
        versions = config_versions(hub.settings, hub.engine, clock)
        documents = dict(versions.get(1).documents)
        documents["recovery.yaml"] += "\n# reviewed\n"
        draft, _ = versions.save_draft(documents, actor=ADMIN, based_on=1)
        versions.publish(draft, base_version=1, actor=ADMIN)
        assert hub.refresh_config(force=True) and hub.config_version == draft
        runners["recovery"]()
        assert len(set(seen)) == 2  # the recovery service of the new version
    finally:
        hub.sandbox.reset()
