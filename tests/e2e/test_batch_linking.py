"""A burst through the production path: the worker claims it as one batch, writes it with a few bulk
calls (Salesforce Collections inside Composite, Zendesk jobs), and still makes one case per episode
with every event's activity on it."""

from __future__ import annotations

import threading

import pytest

from hub.bootstrap import build_hub
from hub.services.worker import Worker
from hub.store.tables import event_links, inbox
from hub.web import create_app
from tests.e2e.conftest import Poster, settings


@pytest.fixture(params=["zendesk", "salesforce"])
def burst_hub(request, sqlite_engine, clock):
    hub = build_hub(settings(crm=request.param, sandbox=True), clock=clock, engine=sqlite_engine)
    yield hub
    hub.sandbox.reset()


def records(hub, kind: str) -> list[dict]:
    names = {
        "zendesk": {"case": "ticket", "activity": "comment"},
        "salesforce": {"case": "Case", "activity": "Task"},
    }
    return hub.sandbox.records(hub.settings.crm, names[hub.settings.crm][kind])


def post_burst(post: Poster, customers: int, events_each: int) -> None:
    for n in range(customers):
        for m in range(events_each):
            channel = ("chat", "sms")[m % 2]
            post(
                event_id=f"burst-{n}-{m}",
                source="web-chat" if channel == "chat" else "twilio-sms",
                channel=channel,
                customer={"phone": f"+1 415 555 {n:04d}", "name": f"Customer {n}"},
                outcome="abandoned",
            )


def test_a_burst_is_linked_in_a_few_calls_with_one_case_per_episode(burst_hub, clock) -> None:
    post = Poster(create_app(hub=burst_hub).test_client(), clock)
    post_burst(post, customers=30, events_each=2)
    before = sum(burst_hub.sandbox.request_counts().values())

    worker = burst_hub.new_worker()
    worker.batch_size = 100
    # One claim, one batch. Salesforce: the second event of each customer rides with its new case;
    # Zendesk: it waits a wave (the ticket must exist before a note is added to it).
    assert worker.run_once() == 60

    calls = sum(burst_hub.sandbox.request_counts().values()) - before
    assert len(records(burst_hub, "case")) == 30
    assert len(records(burst_hub, "activity")) == 60
    with burst_hub.engine.connect() as connection:
        statuses = [row.status for row in connection.execute(inbox.select())]
    assert statuses == ["linked"] * 60
    # Salesforce: 2 Composite calls (cases with their events' fields, then tasks); Zendesk: one search
    # for the 30 new phones (once per customer, ever), then requesters, tickets and the appends as
    # jobs. Both: one listing of the groups/queues routing.yaml names (kept for minutes, never one per
    # outcome).
    assert calls <= (3 if burst_hub.settings.crm == "salesforce" else 10), burst_hub.sandbox.request_counts()
    assert sum(n for kind, n in burst_hub.sandbox.request_counts().items() if "groups" in kind) <= 1


def test_events_of_one_episode_in_one_batch_land_in_order_on_its_case(burst_hub, clock) -> None:
    post = Poster(create_app(hub=burst_hub).test_client(), clock)
    post_burst(post, customers=1, events_each=4)

    burst_hub.new_worker().drain()

    [case] = records(burst_hub, "case")
    activities = records(burst_hub, "activity")
    if burst_hub.settings.crm == "zendesk":  # the first note; then one note holding the other three
        text = "\n".join(a["body"] for a in sorted(activities, key=lambda a: a["id"]))
        assert [text.index(f"burst-0-{m}") for m in range(4)] == sorted(
            text.index(f"burst-0-{m}") for m in range(4)
        )
    else:
        assert len(activities) == 4
        assert {t["WhatId"] for t in activities} == {case["Id"]}


def test_the_worker_batches_only_where_the_crm_does(burst_hub, hub) -> None:
    """The sandbox's real adapters batch, so their worker lingers to gather a burst; the fake CRM
    does not, so its worker claims at once and writes one by one."""
    batching = burst_hub.new_worker()
    assert (batching.batch_size, batching.batch_window) == (100, 1.0)
    assert hub.new_worker().batch_window == 0.0


@pytest.mark.parametrize(
    ("name", "value"),
    [("LINK_BATCH_SIZE", "0"), ("LINK_BATCH_SIZE", "5000"), ("LINK_BATCH_WINDOW_SECONDS", "-1")],
)
def test_batch_settings_out_of_range_are_named(name: str, value: str) -> None:
    from hub.domain.errors import ConfigError
    from hub.settings import Settings

    with pytest.raises(ConfigError) as caught:
        Settings.from_env({f"CTIHUB_{name}": value})
    assert [p.path for p in caught.value.problems] == [f"CTIHUB_{name}"]


class _Pauses(threading.Event):
    """A stop event that records the pause the worker asks for, then stops it (no real waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.asked.append(round(timeout or 0.0, 6))
        self.set()
        return True


def _worker(clock, claims: list[tuple[int, float]]) -> Worker:
    """A batching worker whose claims take the given (rows, seconds) on the injected clock."""

    class Scripted(Worker):
        def run_once(self) -> int:
            rows, seconds = claims.pop(0)
            clock.advance(seconds=seconds)
            return rows

    return Scripted(engine=None, linker=None, clock=clock, batch_size=100, batch_window=1.0)  # type: ignore[arg-type]


def test_the_gathering_window_counts_the_time_the_last_batch_took(clock) -> None:
    """A batch that took 0.7 s was gathering the next one meanwhile: 0.3 s more, not a full window."""
    stop, wake = _Pauses(), threading.Event()

    _worker(clock, [(40, 0.7)]).run(stop, wake, poll_seconds=0.5)

    assert stop.asked == [0.3]


def test_after_a_quiet_spell_the_first_event_is_claimed_at_once_and_the_burst_gathers_behind_it(
    clock,
) -> None:
    stop, wake = _Pauses(), threading.Event()
    wake.set()  # an event was accepted while the worker found nothing
    claims = [(0, 0.0), (1, 0.2)]

    _worker(clock, claims).run(stop, wake, poll_seconds=0.5)

    assert claims == []  # claimed right after the wake, no window first
    assert stop.asked == [0.8]  # then the rest of the burst gathers for what is left of the window


def test_a_finish_that_fails_in_a_batch_rolls_back_alone(burst_hub, clock, monkeypatch) -> None:
    """Finishes share a transaction (one commit for several events), each in a savepoint: the one
    that fails leaves no half-recorded links and is retried; the others are linked."""
    import hub.services.link as link_module

    post = Poster(create_app(hub=burst_hub).test_client(), clock)
    post_burst(post, customers=3, events_each=1)
    real = link_module.record_recovery_outcome

    def failing_for_the_second(connection, outcome, **kwargs):
        if outcome.event_id == "burst-1-0":
            raise RuntimeError("recovery planning broke")
        return real(connection, outcome, **kwargs)

    monkeypatch.setattr(link_module, "record_recovery_outcome", failing_for_the_second)
    assert burst_hub.new_worker().run_once() == 3

    with burst_hub.engine.connect() as connection:
        rows = {row.event_id: row for row in connection.execute(inbox.select())}
        linked_ids = {row.inbox_id for row in connection.execute(event_links.select())}
    assert {k: r.status for k, r in rows.items()} == {
        "burst-0-0": "linked",
        "burst-1-0": "failed",
        "burst-2-0": "linked",
    }
    assert rows["burst-1-0"].id not in linked_ids  # its savepoint rolled back
    assert "recovery planning broke" in rows["burst-1-0"].last_error
