"""The /metrics counters that grow with what is stored (SLA actions, recovery attempts and blocks)
come from the rollup tick's snapshot while it is fresh, and are counted live when it is not (no
scheduler running), on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

from hub.mappings import load_mappings
from hub.services.deflection_rollup import DeflectionRollup
from hub.services.scrape import SNAPSHOT_MAX_AGE, exposition
from hub.store.sla_tables import sla_actions
from tests.conftest import MAPPINGS

CATALOG = load_mappings(MAPPINGS).catalog


def breaches(engine: Any, clock: Any) -> float:
    body, _ = exposition(engine, clock.now)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "ctihub_sla_actions_total" and sample.labels == {"kind": "breach"}:
                return sample.value
    raise AssertionError("no ctihub_sla_actions_total{kind=breach} in the scrape")


def breach(engine: Any, clock: Any, number: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(sla_actions).values(
                episode_id=f"ep{number}", metric="first_reply_time", instance=1, kind="breach",
                key=f"sla_{number}", created_at=clock.now(),
            )
        )  # fmt: skip


def test_the_scrape_reads_the_ticks_snapshot_while_fresh_and_counts_live_after(engine, clock) -> None:
    rollup = DeflectionRollup(engine=engine, catalog=CATALOG, clock=clock)
    breach(engine, clock, 1)
    assert breaches(engine, clock) == 1  # no tick yet: counted live
    rollup.tick()
    breach(engine, clock, 2)
    clock.advance(minutes=1)
    assert breaches(engine, clock) == 1  # the tick's snapshot, a minute old
    clock.advance(seconds=SNAPSHOT_MAX_AGE.total_seconds())
    assert breaches(engine, clock) == 2  # the snapshot is too old: counted live
    rollup.tick()
    breach(engine, clock, 3)
    assert breaches(engine, clock) == 2  # the new snapshot
    clock.set(clock.now() - timedelta(minutes=1))  # a clock behind the snapshot: not trusted
    assert breaches(engine, clock) == 3
