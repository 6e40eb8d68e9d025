"""The field sync's claims, failures and wanted values under review: two schedulers never write the same
change twice nor release each other's claim; every failure is counted and given up visibly; a case
that can no longer be linked stops being waited for; an unmapped episode wants nothing. SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import update

from hub.services.clock import FixedClock
from hub.services.episode_events import AGENT_REPLY
from hub.services.sla import SlaService, SlaSettings
from hub.store import sla as store
from hub.store.schema import metadata
from hub.store.tables import episodes
from tests.fakes import FakeCRM
from tests.sla.conftest import contact, ny, seed_episode
from tests.sla.test_field_sync import DUE, FRT_DUE, WAIT_DUE, linked, row
from tests.sla.test_service import webhook

LEASE = 120.0  # SlaSettings.action_lease_seconds


def replied(engine, service, *episode_ids: str) -> None:
    """Linked at 09:00 (the link wrote the fields), answered at 09:30: each is to be written."""
    for number, episode_id in enumerate(episode_ids, start=101):
        linked(engine, service, episode_id, case_id=str(number))
        webhook(engine, episode_id, AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)


def updates(*crms: FakeCRM) -> list[str]:
    """Every case written, by every scheduler."""
    return sorted(case_id for crm in crms for case_id, _, _ in crm.case_updates)


@dataclass
class SlowCRM(FakeCRM):
    """Each ``update_case`` takes ``seconds`` of the clock; during the ``during``-th, ``meanwhile`` runs."""

    clock: FixedClock | None = None
    seconds: float = 0.0
    during: int = 0
    meanwhile: Any = None
    started: int = 0

    def update_case(self, case_id, fields, *, key):
        self.started += 1
        assert self.clock is not None
        self.clock.advance(seconds=self.seconds)
        if self.started == self.during and self.meanwhile is not None:
            self.meanwhile()
        super().update_case(case_id, fields, key=key)


# --- 1. one holder per claim --------------------------------------------------------------------


def test_later_claims_do_not_run_out_while_earlier_writes_are_made(engine, shipped_sla, sla_clock):
    """A tick's writes run one after another: a lease counted from the tick's start ran out before
    the last rows' turn, another scheduler took them over, and both wrote them."""
    crm = SlowCRM(clock=sla_clock, seconds=0.6 * LEASE, during=2)
    first = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=crm)
    other_crm = FakeCRM()
    other = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=other_crm)
    replied(engine, first, "ep-1", "ep-2", "ep-3")
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    crm.meanwhile = other.tick  # 1.2 leases after the first tick began, ep-2 being written

    synced = first.tick().synced

    assert updates(crm, other_crm) == ["101", "102", "103"]  # each once, by one scheduler or the other
    assert synced + len(other_crm.case_updates) == 3
    assert other_crm.case_updates and all(case_id == "103" for case_id, _, _ in other_crm.case_updates)
    for episode_id in ("ep-1", "ep-2", "ep-3"):
        written = row(engine, episode_id)
        assert (written["pending"], written["claimed_until"], written["claimed_by"]) == (False, None, None)


def test_a_claim_taken_over_after_its_lease_ran_out_is_not_written_by_its_first_holder(
    engine, service, sla_clock, crm, monkeypatch
):
    other_crm = FakeCRM()
    other = SlaService(engine=engine, config=service.config, clock=sla_clock, crm=other_crm)
    replied(engine, service, "ep-1")
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    claim_one = service._claim_field_write
    claims = []

    def claim_then_stall(crm_name):  # the first holder stalls between its claim and its write
        claim = claim_one(crm_name)
        if claim is not None and not claims:
            claims.append(claim)
            sla_clock.advance(seconds=LEASE + 1)
            assert other.tick().synced == 1  # the lease ran out: the other scheduler claims and writes
        return claim

    monkeypatch.setattr(service, "_claim_field_write", claim_then_stall)

    assert service.tick().synced == 0

    assert claims and crm.case_updates == []
    assert updates(crm, other_crm) == ["101"]
    assert (row(engine)["written"], row(engine)["pending"]) == (store.canonical({DUE: WAIT_DUE}), False)


def test_a_late_finisher_records_its_write_but_leaves_the_new_holders_claim(engine, shipped_sla, sla_clock):
    crm = SlowCRM(clock=sla_clock, seconds=LEASE + 1, during=1)  # the write outlasts the lease
    first = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=crm)
    other_crm = FakeCRM()
    other = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=other_crm)
    replied(engine, first, "ep-1")
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    taken: list[store.FieldWrite] = []

    def other_claims() -> None:  # while the first write is still on its way
        now = sla_clock.now()
        with engine.begin() as connection:
            taken.extend(
                store.claim_field_writes(connection, "zendesk", now, now + timedelta(seconds=LEASE), 10)
            )

    crm.meanwhile = other_claims

    assert first.tick().synced == 1

    [second] = taken
    held = row(engine)
    assert held["claimed_until"] == sla_clock.now() + timedelta(seconds=LEASE)  # not released
    assert (held["claimed_by"], held["written_by"], held["pending"]) == (second.owner, "sync", False)
    assert other._sync_one(second) == 0  # it sees the values written: no second write
    assert updates(crm, other_crm) == ["101"]
    assert (row(engine)["claimed_by"], row(engine)["claimed_until"]) == (None, None)


def test_only_the_holder_of_a_claim_extends_finishes_or_retries_it(engine, service, sla_clock):
    replied(engine, service, "ep-1")
    now = ny(2026, 11, 23, 9, 31)
    with engine.begin() as connection:
        service.refresh(connection, "ep-1", now)
    lease = timedelta(seconds=LEASE)
    later = now + lease + timedelta(seconds=1)
    text = store.canonical({DUE: WAIT_DUE})
    with engine.begin() as connection:
        [first] = store.claim_field_writes(connection, "zendesk", now, now + lease, 10)
    with engine.begin() as connection:
        [second] = store.claim_field_writes(connection, "zendesk", later, later + lease, 10)
    assert first.owner != second.owner

    with engine.begin() as connection:
        assert store.hold_field_write(connection, first, later, later + lease, text) == store.LOST
        assert not store.retry_field_write(connection, first, later, "late")
        assert not store.finish_field_write(connection, first, later, note="late")
        assert store.hold_field_write(connection, second, later, later + 2 * lease, text) == store.HELD
        third_try = later + lease + timedelta(seconds=1)  # past the first lease of the second claim
        assert store.claim_field_writes(connection, "zendesk", third_try, third_try + lease, 10) == []
    held = row(engine)
    assert (held["claimed_by"], held["claimed_until"], held["pending"], held["last_error"]) == (
        second.owner,
        later + 2 * lease,
        True,
        None,
    )
    with engine.begin() as connection:
        store.fields_written(connection, "ep-1", "zendesk", text, later, by=store.ACTION)
        assert store.hold_field_write(connection, second, later, later + lease, text) == store.ALREADY_WRITTEN
        assert store.finish_field_write(connection, second, later)
    assert (row(engine)["claimed_by"], row(engine)["pending"]) == (None, False)


# --- 2. every failure is counted; no case forever is not waited for -------------------------------


def test_an_unexpected_error_is_counted_and_given_up_visibly_after_the_last_attempt(
    engine, shipped_sla, sla_clock, crm, caplog
):
    service = SlaService(
        engine=engine, config=shipped_sla, clock=sla_clock, crm=crm, settings=SlaSettings(max_attempts=2)
    )
    replied(engine, service, "ep-1")
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    crm.fail_next += [RuntimeError("a bug"), RuntimeError("a bug")]

    assert service.tick().synced == 0
    failed = row(engine)
    assert (failed["pending"], failed["attempts"], failed["claimed_until"], failed["last_error"]) == (
        True,
        1,
        None,
        "RuntimeError: a bug",
    )
    assert failed["next_attempt_at"] > sla_clock.now()  # backoff, not the lease
    sla_clock.advance(minutes=5)
    with caplog.at_level(logging.ERROR, logger="hub.services.sla"):
        assert service.tick().synced == 0
    assert any("given up after 2 attempts" in record.getMessage() for record in caplog.records)
    given_up = row(engine)
    assert (given_up["pending"], given_up["claimed_until"], given_up["last_error"]) == (
        False,
        None,
        "gave up: RuntimeError: a bug",
    )
    sla_clock.advance(hours=1)
    assert service.tick().synced == 0
    assert [call for call in crm.calls if call[0] == "update_case"] == [("update_case", "101")] * 2


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "closed"}, "the episode is closed"),
        ({"closes_at": ny(2026, 11, 23, 9, 35)}, "the episode's window has passed"),
    ],
)
def test_a_case_that_can_no_longer_be_linked_is_not_waited_for(engine, service, sla_clock, crm, change, why):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))  # never linked
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    sla_clock.set(ny(2026, 11, 23, 9, 31))
    assert service.tick().synced == 0
    assert row(engine)["last_error"] == "no zendesk case linked yet"
    with engine.begin() as connection:
        connection.execute(update(episodes).where(episodes.c.id == "ep-1").values(**change))

    sla_clock.advance(seconds=service.settings.missing_case_retry_seconds + 1)
    assert service.tick().synced == 0

    given_up = row(engine)
    assert (given_up["pending"], given_up["claimed_until"], given_up["next_attempt_at"]) == (
        False,
        None,
        None,
    )
    assert given_up["last_error"] == f"gave up: no zendesk case linked and {why}"
    with engine.begin() as connection:  # nothing left to claim, however long we wait
        later = sla_clock.now() + timedelta(days=30)
        assert store.claim_field_writes(connection, "zendesk", later, later, 10) == []
    assert crm.case_updates == []


# --- 3. wanted follows the mapping --------------------------------------------------------------


def test_a_mapping_removed_then_restored_with_the_same_value_is_written(engine, shipped_sla, sla_clock, crm):
    service = SlaService(engine=engine, config=shipped_sla, clock=sla_clock, crm=crm)
    unmapped = SlaService(
        engine=engine,
        config=replace(shipped_sla, crm={k: v for k, v in shipped_sla.crm.items() if k != "zendesk"}),
        clock=sla_clock,
        crm=crm,
    )
    replied(engine, service, "ep-1")
    now = ny(2026, 11, 23, 9, 31)
    sla_clock.set(now)
    with engine.begin() as connection:
        service.refresh(connection, "ep-1", now)  # the reply changed the due time: to be written
    assert (row(engine)["wanted"], row(engine)["pending"]) == (store.canonical({DUE: WAIT_DUE}), True)

    assert unmapped.tick().synced == 0  # the admin removed the mapping meanwhile
    unmapped_row = row(engine)
    assert (unmapped_row["wanted"], unmapped_row["pending"], unmapped_row["last_error"]) == (
        store.canonical({}),  # nothing wanted any more, not the value wanted before
        False,
        "no SLA fields",
    )
    assert unmapped_row["written"] == store.canonical({DUE: FRT_DUE})

    sla_clock.advance(minutes=1)  # restored: the next derivation wants the value wanted before
    with engine.begin() as connection:
        service.refresh(connection, "ep-1", sla_clock.now())
    assert service.tick().synced == 1
    assert [fields for _, fields, _ in crm.case_updates] == [{DUE: WAIT_DUE}]
    assert (row(engine)["written"], row(engine)["pending"]) == (store.canonical({DUE: WAIT_DUE}), False)


def test_the_migrations_create_exactly_the_table_the_metadata_describes(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if "sla_field_writes" in repr(d)] == []
