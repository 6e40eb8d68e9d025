"""Routing end to end through the sandbox CRMs: outcomes linked by the worker land in the group/queue
routing.yaml names (single and batched creates), the CRM's list is read once for many outcomes, a
case an agent moved is never reassigned, an unknown target leaves the case unassigned (and is the
live check's error, at its line), and the admin preview shows the decision linking then makes."""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox.routing_targets import SEEDED_GROUPS
from hub.bootstrap import build_hub
from hub.domain.errors import CrmRetryable
from hub.live_config import config_versions
from hub.services.config_preview import compare
from hub.services.config_preview import crm_check as admin_crm_check
from tests.conftest import MAPPINGS
from tests.web.conftest import web_settings

GROUPS = {group.name: group.id for group in SEEDED_GROUPS}


def event(event_id: str, email: str, intent: str = "billing", **extra: Any) -> bytes:
    return json.dumps(
        {
            "event_id": event_id,
            "occurred_at": "2026-11-23T14:30:00Z",
            "channel": "chat",
            "customer": {"email": email, "name": "Pat Example"},
            "intent": intent,
            "outcome": "failed",
            "summary": "Charged twice for October.",
            **extra,
        }
    ).encode()


def hub_for(engine, clock, crm: str, mappings: Path = MAPPINGS) -> Any:
    settings = dataclasses.replace(web_settings(sandbox=True, crm=crm), mappings_dir=mappings)
    return build_hub(settings, clock=clock, engine=engine)


@pytest.fixture
def zendesk_hub(sqlite_engine, clock):
    hub = hub_for(sqlite_engine, clock, "zendesk")
    yield hub
    hub.sandbox.reset()


@pytest.fixture
def salesforce_hub(sqlite_engine, clock):
    hub = hub_for(sqlite_engine, clock, "salesforce")
    yield hub
    hub.sandbox.reset()


def groups_listed(hub) -> int:
    return sum(
        1 for method, path in hub.sandbox.request_log if method == "GET" and path.endswith("/groups.json")
    )


def test_zendesk_tickets_land_in_the_routed_groups_and_the_list_is_read_once(zendesk_hub) -> None:
    hub = zendesk_hub
    hub.ingest.accept(event("z-1", "ana@example.com"))  # billing -> Billing
    hub.ingest.accept(event("z-2", "bo@example.com", intent="order_status"))  # -> default Support
    hub.ingest.accept(event("z-3", "cy@example.com", intent="order_status", priority="urgent"))  # Escalations
    hub.ingest.accept(event("z-4", "di@example.com", metadata={"language": "es-MX"}))  # Soporte en español
    assert hub.new_worker().drain() == 4  # one batch: tickets/create_many carries each group_id

    by_subject_key = {t["external_id"]: t["group_id"] for t in hub.sandbox.records("zendesk", "ticket")}
    assert sorted(by_subject_key.values()) == sorted(
        [GROUPS["Billing"], GROUPS["Support"], GROUPS["Escalations"], GROUPS["Soporte en español"]]
    )
    assert groups_listed(hub) == 1
    assert hub.sandbox.request_counts()["POST tickets/create_many"] >= 1  # the batch path carried them


def test_a_ticket_an_agent_moved_keeps_its_group_when_the_next_outcome_appends(zendesk_hub) -> None:
    hub = zendesk_hub
    hub.ingest.accept(event("m-1", "ana@example.com"))
    assert hub.new_worker().drain() == 1
    [ticket] = hub.sandbox.records("zendesk", "ticket")
    assert ticket["group_id"] == GROUPS["Billing"]
    hub.crm.update_case(str(ticket["id"]), {"group_id": GROUPS["Escalations"]}, key="agent-move")  # the agent

    hub.ingest.accept(event("m-2", "ana@example.com", priority="urgent"))  # same episode: appended
    assert hub.new_worker().drain() == 1

    [ticket] = hub.sandbox.records("zendesk", "ticket")
    assert ticket["group_id"] == GROUPS["Escalations"]
    assert len(hub.sandbox.records("zendesk", "comment")) == 2


def test_salesforce_cases_are_owned_by_the_routed_queue_and_a_moved_case_stays(salesforce_hub) -> None:
    hub = salesforce_hub
    queues = {q["DeveloperName"]: q["Id"] for q in hub.sandbox.salesforce.queue_records("Group")}
    hub.ingest.accept(event("s-1", "ana@example.com"))
    hub.ingest.accept(event("s-2", "bo@example.com", intent="order_status"))
    assert hub.new_worker().drain() == 2
    owners = sorted(case["OwnerId"] for case in hub.sandbox.records("salesforce", "Case"))
    assert owners == sorted([queues["Billing_Queue"], queues["Support_Queue"]])

    billing = next(
        c for c in hub.sandbox.records("salesforce", "Case") if c["OwnerId"] == queues["Billing_Queue"]
    )
    hub.crm.update_case(billing["Id"], {"OwnerId": queues["Escalations_Queue"]}, key="agent-move")
    hub.ingest.accept(event("s-3", "ana@example.com", priority="urgent"))
    assert hub.new_worker().drain() == 1
    moved = next(c for c in hub.sandbox.records("salesforce", "Case") if c["Id"] == billing["Id"])
    assert moved["OwnerId"] == queues["Escalations_Queue"]


def broken_routing(tmp_path: Path) -> Path:
    directory = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, directory, ignore=shutil.ignore_patterns("schemas"))
    text = (directory / "routing.yaml").read_text()
    (directory / "routing.yaml").write_text(text.replace("group: Billing}", "group: Billing Team}"))
    return directory


def test_an_unknown_group_leaves_the_ticket_unassigned_and_is_a_check_error(
    sqlite_engine, clock, tmp_path, caplog
) -> None:
    directory = broken_routing(tmp_path)
    hub = hub_for(sqlite_engine, clock, "zendesk", directory)
    try:
        hub.ingest.accept(event("u-1", "ana@example.com"))
        with caplog.at_level(logging.WARNING, logger="hub.services.routing"):
            assert hub.new_worker().drain() == 1  # linked, not failed
        [ticket] = hub.sandbox.records("zendesk", "ticket")
        assert ticket["group_id"] is None
        assert any("'Billing Team'" in r.getMessage() for r in caplog.records)

        documents = {p.name: p.read_text() for p in directory.glob("*.yaml") if p.name != "metrics.yaml"}
        report = admin_crm_check(hub.crm, documents)
        line = next(n for n, t in enumerate(documents["routing.yaml"].splitlines(), 1) if "Billing Team" in t)
        [finding] = [f for f in report["findings"] if f["path"].startswith("routing.yaml")]
        assert finding["path"] == f"routing.yaml:{line}"
        assert finding["problem"] == "no group 'Billing Team' in Zendesk"
        assert "Admin Center > People > Groups" in finding["hint"] and "Billing" in finding["hint"]
        assert report["ok"] is False
    finally:
        hub.sandbox.reset()


def test_the_preview_shows_the_group_and_its_id_and_linking_then_uses_it(zendesk_hub) -> None:
    hub = zendesk_hub
    versions = config_versions(hub.settings, hub.engine, hub.clock)
    payload = json.loads(event("p-1", "pat@example.com"))
    published = compare(hub, versions, payload, None)["published"]
    assert published["case"]["routing"] == {
        "kind": "group",
        "target": "Billing",
        "id": str(GROUPS["Billing"]),
        "rule": "rules[2]",
        "path": f"routing.yaml:{published['case']['routing']['path'].split(':')[1]}",
        "problem": None,
    }
    line = next(
        n
        for n, t in enumerate((MAPPINGS / "routing.yaml").read_text().splitlines(), 1)
        if "- name: money" in t
    )
    assert published["case"]["routing"]["path"] == f"routing.yaml:{line}"
    assert hub.sandbox.records("zendesk", "ticket") == []  # the preview wrote nothing

    hub.ingest.accept(json.dumps(payload).encode())
    assert hub.new_worker().drain() == 1
    [ticket] = hub.sandbox.records("zendesk", "ticket")
    assert str(ticket["group_id"]) == published["case"]["routing"]["id"]


def test_a_preview_whose_listing_fails_never_lists_again_inside_its_transaction(zendesk_hub) -> None:
    """The listing is made before the preview's rolled-back transaction opens (a sandbox CRM on the
    same SQLite database could not answer inside it); when it fails, prepare gets that failure, not
    a second listing."""
    hub = zendesk_hub
    calls: list[int] = []

    def timing_out() -> list:
        calls.append(1)
        raise CrmRetryable("timed out", crm="zendesk")

    hub.linker.router.directory.list_targets = timing_out
    versions = config_versions(hub.settings, hub.engine, hub.clock)
    with pytest.raises(CrmRetryable):
        compare(hub, versions, json.loads(event("p-2", "pat@example.com")), None)
    assert len(calls) == 1
