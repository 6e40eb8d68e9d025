"""An agent's pause or cancel of the follow-ups: a paused or cancelled plan never sends."""

from __future__ import annotations

from hub.mappings import load_mappings
from hub.mappings.recovery import load_recovery_config
from hub.services.recovery import cancel_by_agent, pause_episode, resume_episode
from tests.conftest import MAPPINGS
from tests.recovery.conftest import Harness

AGENT = "zendesk:user:381"


def harness(engine, clock) -> Harness:
    config = load_recovery_config(MAPPINGS)
    assert config is not None
    return Harness(engine, clock, load_mappings(MAPPINGS), config)


def planned(h: Harness) -> str:
    h.link()
    h.tick()  # plans it: the first SMS is pending, due in 10 minutes
    [attempt] = h.attempts()
    assert attempt["status"] == "pending"
    return attempt["episode_id"]


def test_a_paused_plan_never_sends_and_resumes_where_it_stopped(engine, clock):
    h = harness(engine, clock)
    episode = planned(h)
    with engine.begin() as connection:
        assert pause_episode(connection, episode, now=clock.now(), actor=AGENT, detail="customer asked") == 1
    h.advance(hours=2)
    h.tick()
    assert h.sender.sent == []
    assert [a["status"] for a in h.attempts()] == ["paused"]
    assert [p.status for p in h.plans(episode)] == ["paused"]
    with engine.begin() as connection:
        assert resume_episode(connection, episode, now=clock.now(), actor=AGENT, detail="ok now") == 1
    h.tick()
    assert len(h.sender.sent) == 1
    events = [(row["event"], row["actor"]) for row in h.trail(episode_id=episode)]
    assert ("paused", AGENT) in events and ("resumed", AGENT) in events


def test_a_plan_paused_after_its_attempt_was_claimed_by_nobody_yet_is_held_at_the_claim(engine, clock):
    """The pause lands between scheduling and the claim's guards: the claim re-reads the plan."""
    h = harness(engine, clock)
    planned(h)
    from sqlalchemy import update

    from hub.store.recovery_tables import recovery_plans

    with engine.begin() as connection:  # the plan paused, its attempt left pending (a racing scheduler)
        connection.execute(update(recovery_plans).values(status="paused"))
    h.advance(minutes=30)
    h.tick()
    assert h.sender.sent == []
    assert [(a["status"], a["reason"]) for a in h.attempts()] == [("paused", "plan_paused")]


def test_a_cancelled_plan_never_sends(engine, clock):
    h = harness(engine, clock)
    episode = planned(h)
    with engine.begin() as connection:
        assert cancel_by_agent(connection, episode, now=clock.now(), actor=AGENT) == 1
    h.advance(days=2)
    h.tick()
    assert h.sender.sent == []
    assert [(a["status"], a["reason"]) for a in h.attempts()] == [("cancelled", "agent_cancelled")]
    assert [(p.status, p.close_reason) for p in h.plans(episode)] == [("cancelled", "agent_cancelled")]


def test_a_paused_plan_is_still_ended_by_the_customer_coming_back(engine, clock):
    h = harness(engine, clock)
    episode = planned(h)
    with engine.begin() as connection:
        pause_episode(connection, episode, now=clock.now(), actor=AGENT, detail="hold")
    h.advance(minutes=5)
    h.link(outcome="resolved", channel="chat", source="web-chat", occurred_at=clock.now().isoformat())
    assert [(p.status, p.close_reason) for p in h.plans(episode)] == [("cancelled", "resolved")]
    assert [a["status"] for a in h.attempts()] == ["cancelled"]
    h.advance(hours=1)
    h.tick()
    assert h.sender.sent == []
