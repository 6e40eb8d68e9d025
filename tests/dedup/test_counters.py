"""Counters: duplicates prevented, repaired (merged) and ambiguous; ``GET /v1/metrics/dedup``."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.services.dedup_metrics import dedup_counters
from hub.store.schema import metadata
from hub.web import create_app

DEDUP_TABLES = ("case_claims", "ambiguous_matches", "shared_identifiers", "dedup_links", "dedup_audit")


@pytest.mark.parametrize("crm", ["zendesk"])
@pytest.mark.parametrize("policies", [{"billing": "merge"}])
def test_counters_follow_prevention_repair_undo_and_ambiguity(world):
    empty = dedup_counters(world.hub.engine)
    assert empty == {
        "duplicates_prevented": 0,
        "duplicates_repaired": {"attach": 0, "link_only": 0, "merge": 0},
        "duplicates_merged": 0,
        "ambiguous": 0,
        "ambiguous_by_reason": {},
    }
    for channel in ("chat", "sms", "voice"):  # one problem on three channels: two tickets prevented
        world.event(channel=channel, source=channel)
    world.link()
    jane = world.zd_user_id("jane@example.com")
    world.zd_ticket(jane, "billing")
    service = world.service()
    [plan] = service.scan().plans
    service.apply(plan, confirmed=True)
    world.event(customer={"phone": "+14155550100"}, channel="sms", source="sms")
    world.event(customer={"email": "bob@example.com"}, channel="sms", source="sms")
    world.event(customer={"phone": "+14155550100", "email": "bob@example.com"}, channel="sms", source="sms")
    world.link()
    counters = dedup_counters(world.hub.engine)
    assert counters["duplicates_prevented"] == 2
    assert counters["duplicates_repaired"]["merge"] == counters["duplicates_merged"] == 1
    assert (counters["ambiguous"], counters["ambiguous_by_reason"]) == (1, {"conflicting_customers": 1})

    service.undo(plan.id)  # the hub's links are back; the merge no longer counts as repaired
    assert dedup_counters(world.hub.engine)["duplicates_merged"] == 0

    client = create_app(hub=world.hub).test_client()
    assert client.get("/v1/metrics/dedup").status_code == 401
    answer = client.get("/v1/metrics/dedup", headers={"Authorization": "Bearer token"})
    assert answer.status_code == 200
    assert answer.json == dedup_counters(world.hub.engine)


def test_the_migration_creates_exactly_the_tables_the_metadata_describes(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if any(name in repr(d) for name in DEDUP_TABLES)] == []
