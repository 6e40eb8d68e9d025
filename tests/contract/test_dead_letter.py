"""A permanent failure end to end, with the real Salesforce adapter on the sandbox: a mapped value the
org's restricted picklist refuses comes back inside a 200 Composite answer, is classified by the
adapter's table, dead-lettered with Salesforce's own reason, named by ``ctihub crm check``, and
re-run by ``inbox replay`` once the mapping is fixed."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from hub.bootstrap import build_hub
from hub.live_config import config_versions
from hub.services.config_docs import read_directory
from hub.services.config_versions import Actor
from hub.services.crm_check import check_mapping
from hub.store import inbox
from hub.web import create_app
from tests.conftest import MAPPINGS
from tests.e2e.conftest import Poster, settings


def origin_map(directory: Path, chat: str) -> None:
    path = directory / "fields.salesforce.yaml"
    data = yaml.safe_load(path.read_text())
    origin = next(rule for rule in data["case"]["fields"] if rule["target"] == "Origin")
    origin["values"]["chat"] = chat
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def test_a_refused_picklist_value_is_dead_lettered_then_replayed_after_the_fix(
    sqlite_engine: Any, clock: Any, tmp_path: Path
) -> None:
    directory = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, directory)
    origin_map(directory, "Live chat")
    hub = build_hub(
        settings(crm="salesforce", sandbox=True, mappings_dir=directory), clock=clock, engine=sqlite_engine
    )
    post = Poster(create_app(hub=hub).test_client(), clock)

    post(event_id="chat-1", channel="chat", outcome="resolved", customer={"email": "jane@example.com"})
    hub.new_worker().drain()

    assert post.status("web-chat", "chat-1").json["status"] == "dead"
    with sqlite_engine.connect() as connection:
        [dead] = inbox.dead_letters(connection)
    assert dead["last_error"] == (
        "rejected: salesforce 400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: "
        "Case: Case Origin: bad value for restricted picklist field: Live chat (fields: Origin)"
    )
    assert hub.sandbox.records("salesforce", "Case") == []  # allOrNone: no Case without its Task

    report = check_mapping(hub.mappings.crm("salesforce"), hub.mappings.catalog, hub.crm.metadata())
    [problem] = report.errors
    assert problem.where == "Case.Origin" and "'Live chat'" in problem.problem

    origin_map(directory, "Chat")  # the admin's fix, imported and published: no restart needed
    versions = config_versions(hub.settings, sqlite_engine, clock)
    versions.import_documents(read_directory(directory), actor=Actor("test:admin"), publish=True)
    assert hub.refresh_config(force=True)
    fixed = hub
    assert check_mapping(fixed.mappings.crm("salesforce"), fixed.mappings.catalog, fixed.crm.metadata()).ok
    with sqlite_engine.begin() as connection:  # what `ctihub inbox replay` does
        assert inbox.replay_dead(connection, now=clock.now(), source="web-chat") == 1
    assert fixed.new_worker().drain() == 1

    assert post.status("web-chat", "chat-1").json["status"] == "linked"
    [case] = fixed.sandbox.records("salesforce", "Case")
    assert case["Origin"] == "Chat"
    with sqlite_engine.connect() as connection:
        assert connection.execute(select(inbox.inbox.c.status)).scalars().all() == ["linked"]
