"""The recovery engine on both databases: planning, guards re-checked at claim time, claims and leases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.domain.errors import OutreachRejected, OutreachRetryable, OutreachUncertain
from hub.domain.recovery import Policy, Step
from hub.services.episode_events import CUSTOMER_MESSAGE, STATUS_CHANGED, EpisodeEvent, apply_episode_event
from hub.services.recovery import TickReport
from hub.store import consent
from hub.store import recovery as store
from hub.store.recovery_tables import recovery_plans
from tests.recovery.conftest import NY_PHONE, T0, Harness, config_with


def statuses(harness) -> list[tuple[str, str, str | None]]:
    return [(a["action"], a["status"], a["reason"]) for a in harness.attempts()]


# --- planning -------------------------------------------------------------------------------------------


def test_a_failed_outcome_is_planned_once_in_the_links_transaction(harness):
    event = harness.link()
    with harness.engine.connect() as connection:
        [plan] = [
            store.get_plan(connection, pid)
            for pid in connection.execute(select(recovery_plans.c.id)).scalars()
        ]
    assert (plan.status, plan.event_id, plan.phone) == ("recorded", event["event_id"], NY_PHONE)
    # a replay of the same event (the worker retried after a crash) records nothing twice
    with harness.engine.begin() as connection:
        from hub.store.tables import inbox

        connection.execute(inbox.update().values(status="pending", attempts=1))
    harness.worker.drain()
    with harness.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(recovery_plans)).scalar() == 1
    report = harness.tick()
    assert report.planned == 1
    [sms] = harness.attempts()
    assert (sms["action"], sms["status"], sms["due_at"]) == ("sms", "pending", T0 + timedelta(minutes=10))


def test_resolved_and_outbound_outcomes_plan_nothing(harness):
    harness.link(outcome="resolved")
    harness.link(outcome="failed", direction="outbound")
    harness.link(channel="voice", outcome="failed")  # no policy for voice failures
    harness.tick()
    assert harness.attempts() == []
    with harness.engine.connect() as connection:
        rows = connection.execute(select(recovery_plans.c.status, recovery_plans.c.close_reason)).all()
    assert [tuple(r) for r in rows] == [("unmatched", "no_policy")]


def test_the_first_attempt_waits_for_the_window_when_planned_outside_it(harness):
    harness.at(datetime(2026, 11, 24, 1, 30, tzinfo=UTC))  # 20:30 in New York: 21:00 closes
    harness.link(customer={"phone": "+13055550101"})  # Miami: Florida closes at 20:00
    harness.tick()
    [sms] = harness.attempts()
    assert sms["planned_for"] == datetime(2026, 11, 24, 1, 40, tzinfo=UTC)
    assert sms["due_at"] == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 08:00 EST
    harness.at(datetime(2026, 11, 24, 12, 59, tzinfo=UTC))
    harness.tick()
    assert harness.sender.sent == []  # never early
    harness.at(datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    harness.tick()
    assert [m.to for m in harness.sender.sent] == ["+13055550101"]


def test_the_steps_follow_one_another_with_one_live_attempt_per_episode(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=10)
    harness.tick()
    assert statuses(harness) == [("sms", "sent", None), ("callback", "pending", None)]
    # the unique index allows one live attempt per episode
    [attempt] = [a for a in harness.attempts() if a["status"] == "pending"]
    with harness.engine.begin() as connection:
        values = {k: v for k, v in attempt.items() if k not in ("id", "key")}
        assert store.insert_attempt(connection, {**values, "key": "rc_other"}) is None
    harness.advance(hours=3)
    harness.tick()
    assert statuses(harness) == [("sms", "sent", None), ("callback", "sent", None)]
    [plan] = harness.plans("ep_0001")
    assert (plan.status, plan.close_reason) == ("done", "all_steps_made")


def test_a_later_failure_in_the_episode_supersedes_the_earlier_plan(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=5)
    harness.link()  # failed again: the customer came back (and failed); a new plan starts
    harness.tick()
    plans = harness.plans("ep_0001")
    assert [(p.status, p.close_reason) for p in plans] == [
        ("cancelled", "customer_came_back"),
        ("active", None),
    ]
    assert statuses(harness) == [("sms", "cancelled", "customer_came_back"), ("sms", "pending", None)]


# --- guards re-checked at claim ------------------------------------------------------------------------


def test_consent_revoked_between_planning_and_claim_blocks_the_sms(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=5)
    harness.consent("sms", NY_PHONE, False, source="twilio:STOP")
    harness.advance(minutes=5)
    harness.tick()
    assert harness.sender.sent == []
    assert statuses(harness)[0] == ("sms", "blocked", "consent_revoked")
    # the plan goes on with its next step (voice consent still stands)
    assert statuses(harness)[1] == ("callback", "pending", None)
    [claimed] = [t for t in harness.trail() if t["event"] == "blocked"]
    assert claimed["reason"] == "consent_revoked"
    assert '"consent", "passed": false' in claimed["guards"]


def test_no_consent_record_means_no_contact(harness):
    harness.link(consent={})
    harness.tick()
    harness.advance(minutes=10)
    harness.tick()
    harness.advance(hours=3)
    harness.tick()
    assert harness.sender.sent == []
    assert statuses(harness) == [("sms", "blocked", "no_consent"), ("callback", "blocked", "no_consent")]


def test_the_customer_coming_back_cancels_what_is_pending(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=3)
    with harness.engine.begin() as connection:
        apply_episode_event(
            connection,
            EpisodeEvent("ep_0001", CUSTOMER_MESSAGE, harness.clock.now()),
            now=harness.clock.now(),
        )
    assert statuses(harness) == [("sms", "cancelled", "customer_came_back")]
    harness.advance(minutes=10)
    harness.tick()
    assert harness.sender.sent == []
    [plan] = harness.plans("ep_0001")
    assert (plan.status, plan.close_reason) == ("cancelled", "customer_came_back")


def test_a_contact_that_arrives_before_the_claim_but_is_recorded_late_still_cancels(harness):
    harness.link()
    harness.tick()
    # The customer chatted at +5 min; the event reaches the hub at +12 min, after the SMS was due.
    harness.advance(minutes=12)
    harness.link(
        channel="chat",
        outcome="in_progress",
        occurred_at=(T0 + timedelta(minutes=5)).isoformat(),
        source="web-chat",
    )
    harness.tick()
    assert harness.sender.sent == []
    assert statuses(harness) == [("sms", "cancelled", "customer_came_back")]


def test_the_episode_closing_cancels_and_a_resolution_cancels(harness):
    harness.link()
    harness.tick()
    with harness.engine.begin() as connection:
        apply_episode_event(
            connection,
            EpisodeEvent("ep_0001", STATUS_CHANGED, harness.clock.now(), status="solved"),
            now=harness.clock.now(),
        )
    assert statuses(harness) == [("sms", "cancelled", "episode_closed")]
    harness.link(customer={"phone": "+12125550111"}, intent="billing")
    harness.tick()
    harness.advance(minutes=1)
    harness.link(customer={"phone": "+12125550111"}, outcome="resolved")
    assert statuses(harness)[-1] == ("sms", "cancelled", "resolved")


def test_the_customer_cap_counts_touches_across_episodes_and_channels(harness):
    config = config_with(
        harness.service.config,
        policies=(Policy("every failure", ("failed",), (Step("sms", timedelta(0)),)),),
    )
    service = harness.recovery(config)
    for intent in ("billing", "order_status", "technical_support", "appointment"):  # four episodes
        harness.link(intent=intent)
        harness.tick(service)
        harness.advance(minutes=1)
    assert [s for a, s, r in statuses(harness)] == ["sent", "sent", "sent", "blocked"]
    assert statuses(harness)[-1][2] == "customer_cap_24h"
    assert len(harness.sender.sent) == 3
    # a day later the rolling window has room again
    harness.advance(hours=24)
    harness.link(intent="plan_change")
    harness.tick(service)
    assert statuses(harness)[-1] == ("sms", "sent", None)


def test_the_episode_cap_stops_the_plan(harness):
    config = config_with(harness.service.config, max_attempts_per_episode=1)
    service = harness.recovery(config)
    harness.link()
    harness.tick(service)
    harness.advance(minutes=10)
    harness.tick(service)
    harness.advance(hours=3)
    harness.tick(service)
    assert statuses(harness) == [("sms", "sent", None), ("callback", "blocked", "episode_cap")]
    [plan] = harness.plans("ep_0001")
    assert (plan.status, plan.close_reason) == ("exhausted", "episode_cap")


def test_outside_the_window_at_claim_time_it_is_rescheduled_never_sent_early(harness):
    harness.link()
    harness.tick()
    # The tick that should have sent at 15:10Z ran late, at 02:30Z (21:30 in New York).
    harness.at(datetime(2026, 11, 24, 2, 30, tzinfo=UTC))
    report = harness.tick()
    assert report.rescheduled == 1 and harness.sender.sent == []
    [sms] = harness.attempts()
    assert (sms["status"], sms["due_at"], sms["reschedules"]) == (
        "pending",
        datetime(2026, 11, 24, 13, 0, tzinfo=UTC),
        1,
    )
    assert [w["disposition"] for w in harness.writebacks()] == ["RECOVERY_RESCHEDULED"]
    harness.at(datetime(2026, 11, 24, 13, 0, tzinfo=UTC))
    harness.tick()
    assert len(harness.sender.sent) == 1


def test_an_unknown_zone_is_blocked(harness):
    harness.link(customer={"phone": "+18005550100"})  # toll-free: no zone
    harness.tick()
    harness.advance(minutes=10)
    harness.tick()
    assert statuses(harness)[0] == ("sms", "blocked", "unknown_time_zone")


def test_a_postal_state_adds_its_zones(harness):
    # A New York number whose owner lives in California: 08:30 New York is 05:30 there.
    harness.at(datetime(2026, 11, 23, 13, 20, tzinfo=UTC))
    harness.link(customer={"phone": NY_PHONE, "postal_state": "CA"})
    harness.tick()
    [sms] = harness.attempts()
    assert sms["due_at"] == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 08:00 Pacific


# --- claims, leases, crash windows ------------------------------------------------------------------------


def test_a_claim_whose_process_died_is_retried_once_after_its_lease(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=10)
    dead = harness.recovery(owner="dead-process")
    dead._claim(harness.clock.now(), TickReport())  # claimed, every guard passed; then it died
    assert harness.attempts()[0]["status"] == "claimed"
    harness.advance(seconds=119)
    harness.tick()
    assert harness.sender.sent == []  # the lease still holds
    harness.advance(seconds=2)
    harness.tick()
    assert len(harness.sender.sent) == 1 and harness.sender.lookups == 1  # looked first, then sent
    [sms, _callback] = harness.attempts()
    assert (sms["status"], sms["claims"]) == ("sent", 3)
    harness.advance(minutes=5)
    harness.tick()
    assert len(harness.sender.sent) == 1


def test_a_process_that_died_after_sending_is_not_sent_again(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=10)
    dead = harness.recovery(owner="dead-process")
    [work] = dead._claim(harness.clock.now(), TickReport())
    harness.sender.send(dead._message(work.attempt, work.plan, harness.clock.now()))  # sent, then died
    harness.advance(minutes=3)
    harness.tick()
    assert len(harness.sender.sent) == 1
    [sms, callback] = harness.attempts()
    assert (sms["status"], sms["provider_id"]) == ("sent", f"SM{1:032d}")
    assert callback["status"] == "pending"
    assert "found sent by an earlier claim" in (sms["detail"] or "")


def test_an_uncertain_send_is_looked_up_after_the_lease_and_never_repeated(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=10)
    harness.sender.fail_next.append(OutreachUncertain("read timeout", provider="fake"))
    harness.tick()
    assert harness.attempts()[0]["status"] == "claimed"
    harness.advance(minutes=3)
    harness.tick()
    assert len(harness.sender.sent) == 1 and harness.attempts()[0]["status"] == "sent"


def test_a_retryable_failure_is_tried_again_later_and_a_rejection_fails(harness):
    harness.link()
    harness.tick()
    harness.advance(minutes=10)
    harness.sender.fail_next.append(OutreachRetryable("busy", provider="fake", retry_after=60))
    harness.tick()
    sms = harness.attempts()[0]
    assert sms["status"] == "pending" and sms["due_at"] >= harness.clock.now() + timedelta(seconds=60)
    assert sms["touched_at"] is None  # nothing reached the customer: no touch counted
    harness.at(sms["due_at"])
    harness.sender.fail_next.append(
        OutreachRejected("unsubscribed", provider="twilio", provider_code="21610", opted_out=True)
    )
    harness.tick()
    assert harness.attempts()[0]["status"] == "failed"
    with harness.engine.connect() as connection:
        standing = consent.standing_consent(connection, "sms", NY_PHONE)
    assert (standing.granted, standing.source) == (False, "twilio:21610")


def test_concurrent_claims_never_hand_one_attempt_to_two_schedulers(harness):
    for n in range(5):
        harness.link(customer={"phone": f"+1212555{n:04d}"})
    harness.tick()
    harness.advance(minutes=10)
    first = harness.recovery(owner="a")._claim(harness.clock.now(), TickReport())
    second = harness.recovery(owner="b")._claim(harness.clock.now(), TickReport())
    assert len(first) == 5 and second is None


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
def test_every_result_is_written_back_once_with_its_disposition(
    harness, crm, engine, clock, shipped_mappings
):
    h = Harness(engine, clock, shipped_mappings, harness.service.config, crm=crm)
    h.link(consent={"voice": True})  # no SMS consent: the SMS is blocked, the callback made
    h.tick()
    h.advance(minutes=10)
    h.tick()
    h.advance(hours=3)
    h.tick()
    h.tick()
    notes = [a for a in h.crm.activities.values() if a["activity"].key.startswith("rc_")]
    bodies = [n["activity"].body.splitlines()[0] for n in notes]
    assert bodies[0] == "Recovery: SMS with a link blocked (no consent on record for the channel)"
    assert len(notes) == len({n["activity"].key for n in notes})
    assert [w["status"] for w in h.writebacks()] == ["done"] * len(h.writebacks())


def test_guards_are_recorded_when_planned_and_decided_when_claimed(harness):
    harness.link(channel="chat", outcome="abandoned", consent={"sms": True})  # a callback at +2 h
    harness.tick()
    [scheduled] = [t for t in harness.trail() if t["event"] == "scheduled"]
    assert scheduled["reason"] == "no_consent" and '"guard": "consent"' in scheduled["guards"]
    harness.advance(hours=1)
    harness.consent("voice", NY_PHONE, True, source="agent:import")  # given meanwhile, not by a contact
    harness.advance(hours=1)
    harness.tick()
    assert statuses(harness) == [("callback", "sent", None)]
