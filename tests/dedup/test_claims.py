"""The per-episode case-creation claim, on both databases, and the linker's use of it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from hub.bootstrap import build_hub
from hub.domain.errors import CrmRetryable
from hub.ports import RecordRef
from hub.services.link import CaseBeingCreated
from hub.settings import Settings
from hub.store import customers, episodes, inbox, links
from hub.store.dedup_tables import case_claims
from hub.store.tables import event_links
from tests.conftest import MAPPINGS, T0
from tests.fakes import FakeCRM

TTL = timedelta(seconds=120)


def new_episode(engine, episode_id: str = "ep_1") -> str:
    with engine.begin() as connection:
        key = customers.resolve_customer(connection, [], name=None, fallback_key="cus_x", now=T0)
        episodes.claim_episode(
            connection,
            customer_key=key,
            family="billing",
            intent="billing",
            occurred_at=T0,
            window=timedelta(hours=72),
            new_id=episode_id,
            now=T0,
        )
    return episode_id


def claim(engine, inbox_id: int, owner: str, at=T0) -> links.CaseClaim:
    with engine.begin() as connection:
        return links.claim_case_creation(
            connection, "ep_1", "zendesk", inbox_id=inbox_id, owner=owner, now=at, ttl=TTL
        )


def test_one_creator_per_episode_others_wait_then_find_the_case(engine):
    new_episode(engine)
    assert claim(engine, 1, "w1") == links.CaseClaim(mine=True)
    waiting = claim(engine, 2, "w2")
    assert (waiting.mine, waiting.holder, waiting.expires_at) == (False, "w1", T0 + TTL)
    case = RecordRef("zendesk", "ticket", "42", True)
    with engine.begin() as connection:
        links.record_episode_case(connection, "ep_1", case, T0)
    assert claim(engine, 2, "w2").case == RecordRef("zendesk", "ticket", "42", True)


def test_a_failed_creator_releases_and_its_own_retry_or_another_event_takes_over(engine):
    new_episode(engine)
    claim(engine, 1, "w1")
    assert claim(engine, 1, "w1") == links.CaseClaim(mine=True, takeover=True)  # its own retry
    with engine.begin() as connection:
        links.release_case_claim(connection, "ep_1", "zendesk", inbox_id=1, now=T0)
    assert claim(engine, 2, "w2") == links.CaseClaim(mine=True, takeover=True)
    assert not claim(engine, 3, "w3").mine


def test_a_dead_creator_is_taken_over_when_its_claim_expires(engine):
    new_episode(engine)
    claim(engine, 1, "w1")
    assert not claim(engine, 2, "w2", at=T0 + TTL - timedelta(seconds=1)).mine
    assert claim(engine, 2, "w2", at=T0 + TTL) == links.CaseClaim(mine=True, takeover=True)
    with engine.connect() as connection:
        row = connection.execute(select(case_claims)).one()
    assert (row.inbox_id, row.owner, row.takeovers, row.state) == (2, "w2", 1, "creating")


# -- the linker ---------------------------------------------------------------------------------------


class RecordingCRM(FakeCRM):
    def __init__(self) -> None:
        super().__init__()
        self.retrying: list[bool] = []
        self.during_create = None

    def create_case(self, case, activity, *, retrying):
        self.retrying.append(retrying)
        if self.during_create is not None:
            hook, self.during_create = self.during_create, None
            hook()
        return super().create_case(case, activity, retrying=retrying)


@pytest.fixture
def crm() -> RecordingCRM:
    return RecordingCRM()


@pytest.fixture
def hub(sqlite_engine, clock, crm):
    settings = Settings(mappings_dir=MAPPINGS, crm="zendesk", webhook_secret="s", api_token="t")
    return build_hub(settings, clock=clock, crm=crm, engine=sqlite_engine)


def two_events_claimed(hub) -> list[inbox.InboxRow]:
    for n, channel in enumerate(("chat", "sms")):
        hub.ingest.accept(
            json.dumps(
                {
                    "event_id": f"e{n}",
                    "source": channel,
                    "occurred_at": "2026-11-23T14:00:00Z",
                    "channel": channel,
                    "customer": {"phone": "+14155550100"},
                    "intent": "billing",
                    "outcome": "failed",
                }
            ).encode()
        )
    with hub.engine.begin() as connection:
        return inbox.claim_due(connection, owner="w", now=hub.clock.now(), lease=TTL, limit=10)


def test_an_event_arriving_while_its_case_is_created_waits_and_then_appends(hub, crm):
    first, second = two_events_claimed(hub)
    waited = []

    def second_event_meanwhile():
        with pytest.raises(CaseBeingCreated) as raised:
            hub.linker.link(second, owner="w")
        waited.append(raised.value)

    crm.during_create = second_event_meanwhile
    hub.linker.link(first, owner="w")
    assert waited and waited[0].action.value == "retry"
    linked = hub.linker.link(second, owner="w")
    assert [c[0] for c in crm.calls] == ["create_case", "append_activity"]
    assert len(crm.cases) == 1 and linked.result.case.created is False
    with hub.engine.connect() as connection:
        created = dict(connection.execute(select(event_links.c.inbox_id, event_links.c.case_created)).all())
    assert created == {first.id: True, second.id: False}


def test_a_creator_that_fails_lets_the_next_event_create_with_retrying(hub, crm):
    first, second = two_events_claimed(hub)
    crm.fail_next = [CrmRetryable("zendesk 503", crm="zendesk", status=503)]
    with pytest.raises(CrmRetryable):
        hub.linker.link(first, owner="w")
    hub.linker.link(second, owner="w")  # takes the released claim over: the first try may have landed
    assert crm.retrying == [False, True]
    assert len(crm.cases) == 1


def test_the_worker_retries_an_event_whose_case_is_being_created(hub, crm, clock):
    first, second = two_events_claimed(hub)
    with hub.engine.begin() as connection:  # hand the second event back to the queue
        inbox.mark_retry(connection, second.id, owner="w", error="x", at=clock.now(), count_attempt=False)
    crm.during_create = lambda: hub.new_worker().drain()  # another worker takes it meanwhile
    hub.linker.link(first, owner="w")
    with hub.engine.connect() as connection:
        status = inbox.event_status(connection, "sms", "e1")
    # waiting for the case is no failure: still pending, and no attempt is spent on it
    assert status["status"] == "pending" and "CaseBeingCreated" in status["last_error"]
    assert status["attempts"] == 0
    clock.advance(seconds=1)
    hub.new_worker().drain()
    with hub.engine.connect() as connection:
        assert inbox.event_status(connection, "sms", "e1")["status"] == "linked"
    assert len(crm.cases) == 1
