"""The repository suite: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.domain.identity import external, normalize_email
from hub.services.identity import normalize_phone
from hub.store import customers, episodes, inbox
from hub.store.tables import customer_identifiers
from hub.store.tables import episodes as episodes_table
from tests.conftest import T0

WINDOW = timedelta(hours=72)


def add(engine, event_id, source="chat", now=T0):
    with engine.begin() as connection:
        return inbox.add_event(connection, source=source, event_id=event_id, payload="{}", now=now)


def test_an_event_is_stored_once_per_source_and_event_id(engine):
    assert add(engine, "e1") is True
    assert add(engine, "e1") is False
    assert add(engine, "e1", source="sms") is True
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(inbox.inbox)).scalar() == 2


def test_claims_lease_rows_and_a_dead_workers_rows_come_back_after_the_lease(engine):
    for n in range(3):
        add(engine, f"e{n}")
    lease = timedelta(seconds=60)
    with engine.begin() as connection:
        first = inbox.claim_due(connection, owner="a", now=T0, lease=lease, limit=2)
    with engine.begin() as connection:
        second = inbox.claim_due(connection, owner="b", now=T0, lease=lease, limit=10)
    assert [r.event_id for r in first] == ["e0", "e1"]
    assert [r.event_id for r in second] == ["e2"]
    assert all(r.attempts == 1 for r in first + second)
    with engine.begin() as connection:
        assert (
            inbox.claim_due(connection, owner="c", now=T0 + timedelta(seconds=59), lease=lease, limit=10)
            == []
        )
        again = inbox.claim_due(connection, owner="c", now=T0 + timedelta(seconds=61), lease=lease, limit=10)
    assert sorted(r.event_id for r in again) == ["e0", "e1", "e2"]
    assert all(r.attempts == 2 for r in again)
    with engine.begin() as connection:
        # "a" lost its lease: finishing must not overwrite what "c" now owns
        assert not inbox.mark_linked(
            connection, first[0].id, owner="a", now=T0, customer_key="k", episode_id="ep", disposition="X"
        )
        assert inbox.mark_linked(
            connection, first[0].id, owner="c", now=T0, customer_key="k", episode_id="ep", disposition="X"
        )


def test_retry_waits_until_due_and_dead_letters_can_be_replayed(engine):
    add(engine, "e1")
    lease = timedelta(seconds=60)
    with engine.begin() as connection:
        [row] = inbox.claim_due(connection, owner="a", now=T0, lease=lease, limit=1)
        inbox.mark_retry(connection, row.id, owner="a", error="zendesk 503", at=T0 + timedelta(seconds=30))
    with engine.begin() as connection:
        assert (
            inbox.claim_due(connection, owner="a", now=T0 + timedelta(seconds=29), lease=lease, limit=1) == []
        )
        assert inbox.event_status(connection, "chat", "e1")["status"] == "failed"
        [row] = inbox.claim_due(connection, owner="a", now=T0 + timedelta(seconds=30), lease=lease, limit=1)
        inbox.mark_dead(connection, row.id, owner="a", error="zendesk 422 RecordInvalid: bad field")
    with engine.begin() as connection:
        status = inbox.event_status(connection, "chat", "e1")
        assert (status["status"], status["last_error"]) == ("dead", "zendesk 422 RecordInvalid: bad field")
        assert inbox.dead_letters(connection)[0]["event_id"] == "e1"
        assert inbox.claim_due(connection, owner="a", now=T0 + timedelta(days=1), lease=lease, limit=1) == []
        assert inbox.replay_dead(connection, now=T0, source="chat") == 1
        assert inbox.event_status(connection, "chat", "e1")["status"] == "pending"


def resolve(engine, *identifiers, name=None):
    with engine.begin() as connection:
        return customers.resolve_customer(
            connection, list(identifiers), name=name, fallback_key="cus_fallback", now=T0
        )


def test_any_strong_identifier_finds_the_same_customer(engine):
    phone = normalize_phone("(415) 555-0100", "US")
    email = normalize_email("Jane@Example.com")
    first = resolve(engine, phone)
    assert resolve(engine, normalize_phone("+1 415-555-0100", "US"), email) == first
    assert resolve(engine, normalize_email("jane@example.com")) == first  # learned from the second event
    assert resolve(engine, normalize_phone("+1 212 555 0100", "US")) != first


def test_raw_and_normalized_values_are_both_stored(engine):
    resolve(engine, normalize_phone("(415) 555-0100", "US"), normalize_phone("call me", "US"))
    with engine.connect() as connection:
        rows = {(r.kind, r.value, r.raw, r.valid) for r in connection.execute(select(customer_identifiers))}
    assert ("phone", "+14155550100", "(415) 555-0100", True) in rows
    assert ("phone_unparsed", "call me", "call me", False) in rows


def test_weak_identifiers_never_join_customers(engine):
    garbage = normalize_phone("call me", "US")
    with engine.begin() as connection:
        one = customers.resolve_customer(connection, [garbage], name="Al", fallback_key="cus_one", now=T0)
        two = customers.resolve_customer(connection, [garbage], name="Al", fallback_key="cus_two", now=T0)
    assert (one, two) == ("cus_one", "cus_two")


def test_identifiers_pointing_at_two_customers_pick_the_strongest_and_merge_nothing(engine):
    by_phone = resolve(engine, normalize_phone("+14155550100", "US"))
    by_crm = resolve(engine, external("zendesk_user", "77"))
    assert resolve(engine, normalize_phone("+14155550100", "US"), external("zendesk_user", "77")) == by_crm
    assert resolve(engine, normalize_phone("+14155550100", "US")) == by_phone


def claim(engine, key, at, family="billing", new_id="ep_1"):
    with engine.begin() as connection:
        resolve_key = customers.resolve_customer(
            connection, [external("t", key)], name=None, fallback_key="", now=T0
        )
        return episodes.claim_episode(
            connection,
            customer_key=resolve_key,
            family=family,
            intent=family,
            occurred_at=at,
            window=WINDOW,
            new_id=new_id,
            now=at,
        )


def test_events_within_the_window_join_one_episode_and_extend_it(engine):
    _first, created = claim(engine, "c1", T0, new_id="ep_a")
    assert created
    second, created = claim(engine, "c1", T0 + timedelta(hours=70), new_id="ep_b")
    assert (second.id, created) == ("ep_a", False)
    assert second.closes_at == T0 + timedelta(hours=142)
    other_family, created = claim(engine, "c1", T0, family="order_status", new_id="ep_c")
    assert (other_family.id, created) == ("ep_c", True)


def test_an_event_after_the_window_closes_the_old_episode_and_opens_a_new_one(engine):
    claim(engine, "c1", T0, new_id="ep_a")
    later, created = claim(engine, "c1", T0 + WINDOW + timedelta(minutes=1), new_id="ep_b")
    assert (later.id, created) == ("ep_b", True)
    with engine.connect() as connection:
        statuses = dict(connection.execute(select(episodes_table.c.id, episodes_table.c.status)).all())
    assert statuses == {"ep_a": "closed", "ep_b": "open"}


def test_elapsed_episodes_are_closed_by_the_scheduler_tick(engine):
    claim(engine, "c1", T0, new_id="ep_a")
    with engine.begin() as connection:
        assert episodes.close_elapsed(connection, T0 + WINDOW) == 0
        assert episodes.close_elapsed(connection, T0 + WINDOW + timedelta(seconds=1)) == 1


def test_concurrent_claims_for_one_customer_and_family_agree_on_one_episode(engine):
    """Eight threads race to open the same episode; the unique index lets exactly one win."""
    results: list[str] = []
    barrier = threading.Barrier(8)

    def racer(n: int) -> None:
        barrier.wait()
        episode, _ = claim(engine, "racer", T0, new_id=f"ep_{n}")
        results.append(episode.id)

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(set(results)) == 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(episodes_table)).scalar() == 1


@pytest.mark.postgres
def test_skip_locked_claims_never_hand_one_row_to_two_workers(postgres_engine):
    from tests.conftest import _truncate

    _truncate(postgres_engine)
    for n in range(50):
        add(postgres_engine, f"e{n}")
    claimed: list[list[str]] = []
    barrier = threading.Barrier(5)

    def worker(name: str) -> None:
        barrier.wait()
        mine = []
        while True:
            with postgres_engine.begin() as connection:
                rows = inbox.claim_due(connection, owner=name, now=T0, lease=timedelta(minutes=1), limit=3)
            if not rows:
                break
            mine += [r.event_id for r in rows]
        claimed.append(mine)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [e for mine in claimed for e in mine]
    assert sorted(everything) == sorted(f"e{n}" for n in range(50))
    _truncate(postgres_engine)
