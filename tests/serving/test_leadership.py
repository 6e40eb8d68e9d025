"""Leadership on one database: a lease row (any backend) and PostgreSQL's advisory lock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.services.leader import AdvisoryLockLeadership, LeaseLeadership, leadership_for
from hub.services.scheduler import build_scheduler
from hub.store import leases


def test_a_lease_has_one_holder_until_it_runs_out(engine, clock):
    ttl = timedelta(seconds=30)
    first = LeaseLeadership(engine, clock, ttl=ttl, owner="first")
    second = LeaseLeadership(engine, clock, ttl=ttl, owner="second")
    assert first.check() and not second.check()
    clock.advance(seconds=20)
    assert first.check()  # renewed until +50 s
    clock.advance(seconds=20)
    assert not second.check()
    clock.advance(seconds=11)  # the first stopped renewing (killed): its lease ran out
    assert second.check() and second.leading
    assert not first.check() and not first.leading
    with engine.connect() as connection:
        assert leases.holder(connection, "scheduler", now=clock.now()) == "second"


def test_a_released_lease_is_free_at_once(engine, clock):
    first = LeaseLeadership(engine, clock, ttl=timedelta(seconds=30), owner="first")
    second = LeaseLeadership(engine, clock, ttl=timedelta(seconds=30), owner="second")
    assert first.check()
    first.release()
    assert second.check()


@pytest.mark.postgres
def test_the_advisory_lock_has_one_holder_and_is_freed_with_its_connection(postgres_engine):
    first, second = AdvisoryLockLeadership(postgres_engine), AdvisoryLockLeadership(postgres_engine)
    try:
        assert first.check() and first.check()  # keeps it
        assert not second.check()
        assert first.connection is not None
        first.connection.invalidate()  # the leader's connection breaks (as when it is killed)
        assert not first.check() and not first.leading
        assert second.check()
        assert not first.check()
    finally:
        first.release()
        second.release()
    third = AdvisoryLockLeadership(postgres_engine)
    assert third.check()
    third.release()


def test_leadership_follows_the_backend(sqlite_engine, clock):
    chosen = leadership_for(sqlite_engine, clock, 60)
    assert isinstance(chosen, LeaseLeadership) and chosen.ttl == timedelta(seconds=30)


def test_only_the_leader_runs_ticks(sqlite_engine, clock):
    ran: list[str] = []
    leader = LeaseLeadership(sqlite_engine, clock, ttl=timedelta(seconds=30), owner="leader")
    follower = LeaseLeadership(sqlite_engine, clock, ttl=timedelta(seconds=30), owner="follower")
    assert leader.check()
    for who, leadership in (("leader", leader), ("follower", follower)):
        scheduler = build_scheduler({"tick": lambda who=who: ran.append(who)}, leadership=leadership)
        scheduler.get_job("leadership").func()  # the periodic check, run by hand
        scheduler.get_job("tick").func()
    assert ran == ["leader"]
