"""Preview: what linking would write under a draft versus the published version, writing nothing;
and it is exactly what linking then writes to the sandbox CRM."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.bootstrap import build_hub
from hub.live_config import config_versions
from hub.services.config_preview import compare
from hub.services.config_versions import Actor
from hub.store import inbox as inbox_store
from hub.store.tables import customers, inbox
from tests.web.conftest import web_settings

ADMIN = Actor("zendesk:user:9", "Ada Admin")
EVENT = {
    "event_id": "preview-1",
    "occurred_at": "2026-11-23T14:30:00Z",
    "channel": "chat",
    "customer": {"email": "preview.customer@example.com", "name": "Pat Preview"},
    "intent": "billing",
    "outcome": "failed",
    "summary": "Charged twice for October.",
}


@pytest.fixture
def hub(sqlite_engine, clock):
    hub = build_hub(web_settings(sandbox=True), clock=clock, engine=sqlite_engine)
    yield hub
    hub.sandbox.reset()


def count(hub, table) -> int:
    with hub.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def ticket_fields(ticket: dict) -> dict:
    """The sandbox ticket in the mapping's field names (``custom_fields.<id>``)."""
    fields = {key: ticket[key] for key in ("subject", "priority") if key in ticket}
    fields["tags"] = sorted(ticket["tags"])
    for custom in ticket.get("custom_fields") or []:
        if custom.get("value") is not None:
            fields[f"custom_fields.{custom['id']}"] = custom["value"]
    return fields


def test_preview_writes_nothing_and_equals_what_linking_then_writes(hub):
    versions = config_versions(hub.settings, hub.engine, hub.clock)
    documents = dict(versions.get(1).documents)
    documents["fields.zendesk.yaml"] = documents["fields.zendesk.yaml"].replace(
        "value: [ctihub]}", "value: [ctihub, previewed]}"
    )
    draft, problems = versions.save_draft(documents, actor=ADMIN, based_on=1)
    assert problems == []

    result = compare(hub, versions, EVENT, draft)
    assert "previewed" not in result["published"]["case"]["fields"]["tags"]
    assert "previewed" in result["draft"]["case"]["fields"]["tags"]
    assert result["draft"]["case"]["action"] == "create"
    assert result["draft"]["disposition"]["values"]["zendesk"]
    assert result["draft"]["sla_policy"]
    assert (count(hub, inbox), count(hub, customers)) == (0, 0)  # nothing written
    assert hub.sandbox.records("zendesk", "ticket") == []

    versions.publish(draft, base_version=1, actor=ADMIN)
    hub.ingest.accept(json.dumps(EVENT).encode())
    assert hub.new_worker().drain() == 1
    with hub.engine.connect() as connection:
        episode_id, version = connection.execute(select(inbox.c.episode_id, inbox.c.config_version)).one()
    assert version == draft
    with hub.engine.connect() as connection:  # GET /v1/outcomes/<source>/<event_id> shows it
        assert inbox_store.event_status(connection, "generic", EVENT["event_id"])["config_version"] == draft
    [ticket] = hub.sandbox.records("zendesk", "ticket")
    written = json.dumps(result["draft"]["case"]["fields"]).replace(result["draft"]["episode_id"], episode_id)
    previewed = json.loads(written)  # the episode id is minted at link time; everything else is fixed
    actual = ticket_fields(ticket)
    previewed_tags, actual_tags = set(previewed.pop("tags")), set(actual.pop("tags"))
    assert {key: actual.get(key) for key in previewed} == previewed
    # Zendesk adds a drop-down custom field's value as a tag of its own; nothing else is added.
    assert previewed_tags <= actual_tags
    assert actual_tags - previewed_tags <= {v for k, v in previewed.items() if k.startswith("custom_fields.")}
    [comment] = hub.sandbox.records("zendesk", "comment")
    activity = result["draft"]["activity"]  # the adapter signs the comment with the activity key
    assert comment["body"] == f"{activity['body']}\n\n— CTI Hub · {activity['key']}"
