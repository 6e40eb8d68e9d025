"""A burst through the production path: the worker claims it as one batch, writes it with a few bulk
calls (Salesforce Collections inside Composite, Zendesk jobs), and still makes one case per episode
with every event's activity on it."""

from __future__ import annotations

import pytest

from hub.bootstrap import build_hub
from hub.store.tables import inbox
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
    assert worker.run_once() == 60  # one claim, one batch: the second event of each customer waits a wave

    calls = sum(burst_hub.sandbox.request_counts().values()) - before
    assert len(records(burst_hub, "case")) == 30
    assert len(records(burst_hub, "activity")) == 60
    with burst_hub.engine.connect() as connection:
        statuses = [row.status for row in connection.execute(inbox.select())]
    assert statuses == ["linked"] * 60
    # Salesforce: 2 Composite calls per wave; Zendesk: one search for the 30 new phones (once per
    # customer, ever), then requesters, tickets and the appends as jobs. Both: one listing of the
    # groups/queues routing.yaml names (kept for minutes, never one per outcome).
    assert calls <= (5 if burst_hub.settings.crm == "salesforce" else 10), burst_hub.sandbox.request_counts()
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
