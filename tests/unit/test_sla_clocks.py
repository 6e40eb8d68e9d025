"""Metric clocks from an episode's history, Zendesk's rules (crm-facts section 1), with an injected `now`."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.domain.business_hours import Schedule
from hub.domain.sla import (
    AGENT_REPLY,
    CUSTOMER_MESSAGE,
    MERGED,
    STATUS_CHANGED,
    AppliedPolicy,
    Condition,
    MetricClock,
    Policy,
    PolicyFilter,
    PolicyMetric,
    SlaConfig,
    SlaEvent,
    Target,
    compute_clocks,
    current_clocks,
    overall_status,
)

NY = ZoneInfo("America/New_York")
NEW_YORK = Schedule(
    "new-york", "America/New_York", tuple((d * 1440 + 540, d * 1440 + 1020) for d in range(1, 6))
)


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def policy(title: str = "P", warn: float | None = None, **targets: float) -> AppliedPolicy:
    """Targets as metric=minutes (business hours); prefix a metric with cal_ for calendar hours."""
    built = []
    for name, minutes in targets.items():
        calendar = name.startswith("cal_")
        built.append(Target(name.removeprefix("cal_"), minutes, not calendar))
    return AppliedPolicy(title, "normal", NEW_YORK, tuple(built), warn)


class History:
    """Events in the order written, each under the policy given (the last one by default)."""

    def __init__(self, first_policy: AppliedPolicy | None) -> None:
        self.events: list[SlaEvent] = []
        self.policy = first_policy

    def add(self, kind: str, at: datetime, *, policy: AppliedPolicy | str | None = "same", **kw) -> History:
        if not isinstance(policy, str):
            self.policy = policy
        self.events.append(SlaEvent(kind, at, policy=self.policy, order=len(self.events), **kw))
        return self

    def customer(self, at: datetime, **kw) -> History:
        return self.add(CUSTOMER_MESSAGE, at, **kw)

    def reply(self, at: datetime, public: bool = True, **kw) -> History:
        return self.add(AGENT_REPLY, at, public=public, **kw)

    def status(self, at: datetime, status: str, **kw) -> History:
        return self.add(STATUS_CHANGED, at, status=status, **kw)

    def clocks(self, now: datetime, warn: float | None = None) -> dict[str, MetricClock]:
        return {
            c.metric: c for c in current_clocks(compute_clocks(self.events, now, warn_before_minutes=warn))
        }

    def all(self, now: datetime) -> list[MetricClock]:
        return compute_clocks(self.events, now)


# --- first reply time -------------------------------------------------------------------------------


def test_first_reply_is_fulfilled_by_the_first_public_agent_reply_not_a_private_note():
    h = History(policy(first_reply_time=60)).customer(ny(2026, 11, 23, 9, 0))
    h.reply(ny(2026, 11, 23, 9, 20), public=False)
    frt = h.clocks(ny(2026, 11, 23, 9, 30))["first_reply_time"]
    assert (frt.status, frt.due_at, frt.ended_at) == ("active", ny(2026, 11, 23, 10, 0), None)
    h.reply(ny(2026, 11, 23, 9, 40))
    frt = h.clocks(ny(2026, 11, 23, 12, 0))["first_reply_time"]
    assert (frt.status, frt.ended_at, frt.breached_at) == ("fulfilled", ny(2026, 11, 23, 9, 40), None)
    assert frt.as_dict() == {
        "metric": "first_reply_time",
        "target_minutes": 60,
        "business_hours": True,
        "due_at": "2026-11-23T15:00:00Z",
        "status": "fulfilled",
        "breached_at": None,
    }


def test_first_reply_breaches_at_the_due_time_and_stays_breached_when_answered_late():
    h = History(policy(first_reply_time=60)).customer(ny(2026, 11, 20, 16, 30))  # a Friday
    assert h.clocks(ny(2026, 11, 23, 9, 29))["first_reply_time"].status == "active"
    breached = h.clocks(ny(2026, 11, 23, 9, 30))["first_reply_time"]
    assert (breached.status, breached.breached_at) == ("breached", ny(2026, 11, 23, 9, 30))
    h.reply(ny(2026, 11, 23, 10, 0))
    late = h.clocks(ny(2026, 11, 23, 11, 0))["first_reply_time"]
    assert (late.status, late.breached_at, late.ended_at) == (
        "breached",
        ny(2026, 11, 23, 9, 30),
        ny(2026, 11, 23, 10, 0),
    )


def test_a_reply_exactly_at_the_due_time_meets_it():
    h = History(policy(first_reply_time=60)).customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 10, 0))
    assert h.clocks(ny(2026, 11, 23, 11, 0))["first_reply_time"].status == "fulfilled"


def test_when_an_agent_opens_with_a_public_reply_the_next_public_reply_fulfils():
    h = History(policy(first_reply_time=60)).reply(ny(2026, 11, 23, 9, 0))
    h.customer(ny(2026, 11, 23, 9, 5))
    assert h.clocks(ny(2026, 11, 23, 9, 30))["first_reply_time"].status == "active"
    h.reply(ny(2026, 11, 23, 9, 45))
    assert h.clocks(ny(2026, 11, 23, 9, 50))["first_reply_time"].ended_at == ny(2026, 11, 23, 9, 45)


def test_calendar_hours_targets_run_through_the_weekend():
    h = History(policy(cal_first_reply_time=120)).customer(ny(2026, 11, 21, 10, 0))  # Saturday
    frt = h.clocks(ny(2026, 11, 21, 11, 0))["first_reply_time"]
    assert frt.business_hours is False
    assert frt.due_at == ny(2026, 11, 21, 12, 0)
    assert frt.as_dict()["business_hours"] is False


# --- continuity ---------------------------------------------------------------------------------


def test_channel_hops_and_attached_contacts_never_restart_the_clocks():
    h = History(policy(first_reply_time=60, requester_wait_time=480))
    h.customer(ny(2026, 11, 23, 9, 0))  # chat, deflected
    h.customer(ny(2026, 11, 23, 9, 40))  # SMS about the same problem, attached to the episode
    h.customer(ny(2026, 11, 23, 9, 55))  # self-service
    clocks = h.clocks(ny(2026, 11, 23, 9, 58))
    assert clocks["first_reply_time"].started_at == ny(2026, 11, 23, 9, 0)
    assert clocks["first_reply_time"].due_at == ny(2026, 11, 23, 10, 0)
    assert clocks["requester_wait_time"].started_at == ny(2026, 11, 23, 9, 0)
    assert "next_reply_time" not in clocks  # no policy target for it


def test_the_history_order_is_time_then_recording_order_whatever_the_input_order():
    h = History(policy(first_reply_time=60, next_reply_time=30, pausable_update_time=120))
    h.customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 9, 30)).status(
        ny(2026, 11, 23, 9, 30), "pending"
    )
    h.customer(ny(2026, 11, 23, 11, 0)).reply(ny(2026, 11, 23, 11, 10))
    now = ny(2026, 11, 23, 12, 0)
    expected = compute_clocks(h.events, now)
    shuffled = h.events[:]
    random.Random(4).shuffle(shuffled)
    assert compute_clocks(shuffled, now) == expected


def test_events_after_now_are_not_seen_yet():
    h = History(policy(first_reply_time=60)).customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 9, 30))
    assert h.clocks(ny(2026, 11, 23, 9, 10))["first_reply_time"].status == "active"
    assert compute_clocks(h.events, ny(2026, 11, 23, 8, 0)) == []


# --- next reply time ----------------------------------------------------------------------------


def test_next_reply_restarts_on_each_customer_message_after_a_reply():
    h = History(policy(first_reply_time=60, next_reply_time=30))
    h.customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 9, 10))
    h.customer(ny(2026, 11, 23, 10, 0)).customer(ny(2026, 11, 23, 10, 20))  # oldest unanswered: 10:00
    nrt = h.clocks(ny(2026, 11, 23, 10, 25))["next_reply_time"]
    assert (nrt.instance, nrt.started_at, nrt.due_at) == (
        1,
        ny(2026, 11, 23, 10, 0),
        ny(2026, 11, 23, 10, 30),
    )
    h.reply(ny(2026, 11, 23, 10, 25))
    h.customer(ny(2026, 11, 23, 14, 0))
    instances = [c for c in h.all(ny(2026, 11, 23, 14, 45)) if c.metric == "next_reply_time"]
    assert [(c.instance, c.status) for c in instances] == [(1, "fulfilled"), (2, "breached")]
    assert instances[1].breached_at == ny(2026, 11, 23, 14, 30)


def test_next_reply_covers_the_first_contact_when_the_policy_has_no_first_reply_target():
    h = History(policy(next_reply_time=30)).customer(ny(2026, 11, 23, 9, 0))
    nrt = h.clocks(ny(2026, 11, 23, 9, 5))["next_reply_time"]
    assert (nrt.started_at, nrt.due_at) == (ny(2026, 11, 23, 9, 0), ny(2026, 11, 23, 9, 30))


def test_customer_messages_before_the_first_reply_belong_to_first_reply_time():
    h = History(policy(first_reply_time=60, next_reply_time=30))
    h.customer(ny(2026, 11, 23, 9, 0)).customer(ny(2026, 11, 23, 9, 20))
    assert "next_reply_time" not in h.clocks(ny(2026, 11, 23, 9, 30))


# --- update metrics -----------------------------------------------------------------------------


def test_periodic_update_starts_at_each_public_reply_and_ignores_pending():
    h = History(policy(periodic_update_time=60, pausable_update_time=60))
    h.customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 9, 30)).status(
        ny(2026, 11, 23, 9, 31), "pending"
    )
    clocks = h.clocks(ny(2026, 11, 23, 10, 0))
    assert clocks["periodic_update_time"].due_at == ny(2026, 11, 23, 10, 30)
    assert clocks["periodic_update_time"].status == "active"
    assert clocks["pausable_update_time"].status == "paused"
    assert clocks["pausable_update_time"].due_at is None
    assert clocks["pausable_update_time"].as_dict()["due_at"] is None
    # pending for 2 h, then the customer answers: the pausable clock resumes with 59 minutes left
    h.customer(ny(2026, 11, 23, 11, 31))
    clocks = h.clocks(ny(2026, 11, 23, 11, 40))
    assert clocks["pausable_update_time"].due_at == ny(2026, 11, 23, 12, 30)
    assert clocks["pausable_update_time"].pauses[0].status == "pending"
    assert clocks["periodic_update_time"].status == "breached"
    h.reply(ny(2026, 11, 23, 11, 45))
    updates = [c for c in h.all(ny(2026, 11, 23, 11, 50)) if c.metric == "pausable_update_time"]
    assert [(c.instance, c.status) for c in updates] == [(1, "fulfilled"), (2, "active")]


def test_on_hold_does_not_pause_the_pausable_update():
    h = History(policy(pausable_update_time=60))
    h.customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 9, 30)).status(ny(2026, 11, 23, 9, 31), "hold")
    assert h.clocks(ny(2026, 11, 23, 10, 0))["pausable_update_time"].status == "active"


# --- solve metrics ------------------------------------------------------------------------------


def test_requester_wait_pauses_on_pending_agent_work_also_on_hold_resolution_never():
    h = History(policy(requester_wait_time=240, agent_work_time=240, total_resolution_time=240))
    h.customer(ny(2026, 11, 23, 9, 0))
    h.status(ny(2026, 11, 23, 10, 0), "pending").status(ny(2026, 11, 23, 11, 0), "hold")
    h.status(ny(2026, 11, 23, 12, 0), "open")
    clocks = h.clocks(ny(2026, 11, 23, 12, 30))
    assert clocks["requester_wait_time"].due_at == ny(2026, 11, 23, 14, 0)  # 1 h pending
    assert clocks["agent_work_time"].due_at == ny(2026, 11, 23, 15, 0)  # 1 h pending + 1 h hold
    assert clocks["total_resolution_time"].due_at == ny(2026, 11, 23, 13, 0)
    assert [p.status for p in clocks["agent_work_time"].pauses] == ["pending", "hold"]
    assert clocks["requester_wait_time"].elapsed_minutes == 150


def test_solving_fulfils_solve_metrics_and_ends_running_reply_clocks():
    h = History(policy(first_reply_time=60, requester_wait_time=480))
    h.customer(ny(2026, 11, 23, 9, 0)).status(ny(2026, 11, 23, 9, 20), "solved")
    clocks = h.clocks(ny(2026, 11, 23, 12, 0))
    assert (clocks["first_reply_time"].status, clocks["first_reply_time"].ended_at) == (
        "fulfilled",
        ny(2026, 11, 23, 9, 20),
    )
    assert clocks["requester_wait_time"].status == "fulfilled"
    assert overall_status(clocks.values()) == ("fulfilled", None)


def test_a_customer_message_reopens_a_solved_episode_and_solve_metrics_resume():
    h = History(policy(first_reply_time=60, next_reply_time=30, requester_wait_time=240))
    h.customer(ny(2026, 11, 23, 9, 0)).reply(ny(2026, 11, 23, 9, 10)).status(
        ny(2026, 11, 23, 10, 0), "solved"
    )
    h.customer(ny(2026, 11, 23, 13, 0))
    clocks = h.clocks(ny(2026, 11, 23, 13, 10))
    wait = clocks["requester_wait_time"]
    assert wait.status == "active"
    assert [(p.start, p.end, p.status) for p in wait.pauses] == [
        (ny(2026, 11, 23, 10, 0), ny(2026, 11, 23, 13, 0), "solved")
    ]
    assert wait.due_at == ny(2026, 11, 23, 16, 0)  # 60 min before the solve, 180 after reopening
    assert clocks["next_reply_time"].started_at == ny(2026, 11, 23, 13, 0)


def test_a_merged_episode_is_closed_for_good():
    h = History(policy(first_reply_time=60, requester_wait_time=480))
    h.customer(ny(2026, 11, 23, 9, 0)).add(MERGED, ny(2026, 11, 23, 9, 30))
    h.customer(ny(2026, 11, 23, 9, 45))  # arrives on the source after the merge: changes nothing
    clocks = h.clocks(ny(2026, 11, 23, 12, 0))
    assert {m: c.status for m, c in clocks.items()} == {
        "first_reply_time": "fulfilled",
        "requester_wait_time": "fulfilled",
    }
    assert clocks["requester_wait_time"].ended_at == ny(2026, 11, 23, 9, 30)


# --- policy changes -----------------------------------------------------------------------------


def test_a_changed_policy_applies_from_the_next_event_on():
    slow, fast = policy("Everyone else", first_reply_time=480), policy("Urgent", first_reply_time=60)
    h = History(slow).customer(ny(2026, 11, 23, 9, 0))
    assert h.clocks(ny(2026, 11, 23, 9, 30))["first_reply_time"].due_at == ny(2026, 11, 23, 17, 0)
    h.customer(ny(2026, 11, 23, 9, 30), policy=fast)  # e.g. priority raised to urgent
    frt = h.clocks(ny(2026, 11, 23, 9, 45))["first_reply_time"]
    assert (frt.policy, frt.target_minutes, frt.due_at) == ("Urgent", 60, ny(2026, 11, 23, 10, 0))
    assert [(c.policy, c.minutes) for c in frt.changes] == [("Everyone else", 480), ("Urgent", 60)]


def test_a_breach_is_never_back_dated_before_the_event_that_made_it_one():
    slow, fast = policy("Slow", first_reply_time=480), policy("Fast", first_reply_time=60)
    h = History(slow).customer(ny(2026, 11, 23, 9, 0))
    h.customer(ny(2026, 11, 23, 11, 0), policy=fast)  # 120 minutes already gone, target now 60
    frt = h.clocks(ny(2026, 11, 23, 11, 5))["first_reply_time"]
    assert frt.due_at == ny(2026, 11, 23, 10, 0)
    assert frt.breached_at == ny(2026, 11, 23, 11, 0)


def test_a_policy_that_drops_a_metric_removes_its_clock_and_no_policy_means_no_clocks():
    h = History(policy(first_reply_time=60, requester_wait_time=480)).customer(ny(2026, 11, 23, 9, 0))
    h.customer(ny(2026, 11, 23, 9, 30), policy=policy(requester_wait_time=480))
    assert set(h.clocks(ny(2026, 11, 23, 9, 40))) == {"requester_wait_time"}
    assert History(None).customer(ny(2026, 11, 23, 9, 0)).clocks(ny(2026, 11, 23, 10, 0)) == {}


# --- warnings -----------------------------------------------------------------------------------


def test_the_warning_comes_the_lead_before_the_target_in_counted_time():
    h = History(policy(first_reply_time=60)).customer(ny(2026, 11, 20, 16, 30))
    frt = h.clocks(ny(2026, 11, 20, 16, 31), warn=15)["first_reply_time"]
    assert frt.warn_at == ny(2026, 11, 23, 9, 15)  # 45 business minutes in
    own = History(policy(warn=40, first_reply_time=60)).customer(ny(2026, 11, 23, 9, 0))
    assert own.clocks(ny(2026, 11, 23, 9, 1), warn=15)["first_reply_time"].warn_at == ny(2026, 11, 23, 9, 20)
    too_long = History(policy(warn=60, first_reply_time=60)).customer(ny(2026, 11, 23, 9, 0))
    assert too_long.clocks(ny(2026, 11, 23, 9, 1))["first_reply_time"].warn_at is None


def test_overall_status_prefers_breached_then_active_and_gives_the_next_due():
    h = History(policy(first_reply_time=60, cal_total_resolution_time=600)).customer(ny(2026, 11, 23, 9, 0))
    assert overall_status(h.clocks(ny(2026, 11, 23, 9, 10)).values()) == ("active", ny(2026, 11, 23, 10, 0))
    assert overall_status(h.clocks(ny(2026, 11, 23, 10, 10)).values()) == (
        "breached",
        ny(2026, 11, 23, 19, 0),
    )
    assert overall_status([]) == (None, None)


# --- matching -----------------------------------------------------------------------------------


def config() -> SlaConfig:
    def metric(priority: str, minutes: float) -> PolicyMetric:
        return PolicyMetric(priority, "first_reply_time", minutes, True)

    return SlaConfig(
        schedules={"new-york": NEW_YORK},
        policies=(
            Policy(
                "Urgent",
                "new-york",
                PolicyFilter(any=(Condition("priority", "is", "urgent"), Condition("tier", "is", "gold"))),
                (metric("urgent", 15), metric("normal", 30)),
            ),
            Policy(
                "Chat",
                "new-york",
                PolicyFilter(
                    all=(
                        Condition("channel", "includes", ("chat", "messaging")),
                        Condition("intent", "is_not", "cancellation"),
                    )
                ),
                (metric("normal", 60),),
            ),
            Policy("Everyone else", "new-york", PolicyFilter(), (metric("normal", 480), metric("low", 960))),
        ),
    )


@pytest.mark.parametrize(
    ("attributes", "title", "minutes"),
    [
        ({"priority": "urgent", "channel": "sms"}, "Urgent", 15),
        ({"tier": "gold", "channel": "chat"}, "Urgent", 30),  # any: one condition is enough
        ({"channel": "chat", "intent": "billing"}, "Chat", 60),  # no priority: normal
        ({"channel": "messaging", "intent": "billing", "priority": None}, "Chat", 60),
        ({"channel": "chat", "intent": "cancellation"}, "Everyone else", 480),  # is_not
        ({"channel": "sms", "priority": "low"}, "Everyone else", 960),
        ({}, "Everyone else", 480),  # the empty filter matches everything
    ],
)
def test_policies_match_in_order_first_match_wins(attributes, title, minutes):
    applied = config().apply(attributes)
    assert applied is not None
    assert applied.title == title
    assert applied.target("first_reply_time").minutes == minutes


def test_a_policy_without_targets_for_the_priority_applies_with_none():
    applied = config().apply({"channel": "chat", "priority": "high"})
    assert (applied.title, applied.targets) == ("Chat", ())
    assert SlaConfig().apply({"channel": "chat"}) is None


def test_the_snapshot_survives_a_round_trip_through_json():
    import json

    applied = config().apply({"priority": "urgent"})
    assert AppliedPolicy.from_dict(json.loads(json.dumps(applied.as_dict()))) == applied


def test_clock_times_are_utc():
    h = History(policy(first_reply_time=60)).customer(ny(2026, 11, 23, 9, 0))
    frt = h.clocks(ny(2026, 11, 23, 9, 10))["first_reply_time"]
    assert frt.due_at.tzinfo == UTC
    assert frt.due_at - frt.started_at == timedelta(hours=1)
