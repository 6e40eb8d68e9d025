"""Recording, matching, deriving and acting, on SQLite and PostgreSQL, with a fake CRM and a fixed clock."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub.domain.errors import ConfigError, CrmRetryable
from hub.domain.sla import Policy, PolicyMetric
from hub.services.episode_events import AGENT_REPLY, MERGED, STATUS_CHANGED, EpisodeEvent, apply_episode_event
from hub.services.scheduler import build_scheduler
from hub.services.sla import SlaService, SlaSettings, action_key
from hub.settings import Settings
from hub.store import sla as store
from hub.store.sla_tables import sla_actions, sla_events
from tests.sla.conftest import contact, link_case, ny, seed_episode


def webhook(engine, episode_id, kind, at, **fields) -> None:
    with engine.begin() as connection:
        apply_episode_event(connection, EpisodeEvent(episode_id, kind, at, **fields), now=at)


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def sla_writes(crm) -> list:
    return [entry["activity"] for key, entry in crm.activities.items() if key.startswith("sla_")]


# --- recording ----------------------------------------------------------------------------------


def test_a_redelivered_contact_or_webhook_event_is_recorded_once(engine):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0), event_id="chat-1")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0), event_id="chat-1")
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 5), public=False)
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 5), public=False)
    assert count(engine, sla_events) == 2


def test_a_contact_carries_what_policies_match_on_and_outbound_contacts_are_not_customer_messages(engine):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0), channel="sms", priority="high", metadata={"tier": "gold"})
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 1), direction="outbound")
    with engine.connect() as connection:
        [event] = store.episode_events(connection, "ep-1")
    assert event.kind == "customer_message"
    assert event.attributes == {
        "channel": "sms",
        "intent": "billing",
        "priority": "high",
        "crm": "zendesk",
        "tier": "gold",
    }
    assert not event.assigned


# --- matching and deriving ----------------------------------------------------------------------


def test_each_event_is_matched_once_and_a_changed_policy_applies_from_the_next_event(
    engine, service, shipped_sla, sla_clock
):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    with engine.begin() as connection:
        first = service.refresh(connection, "ep-1", ny(2026, 11, 23, 9, 1))
    assert first.policy.title == "Chat and messaging customers"
    assert first.current[0].due_at == ny(2026, 11, 23, 10, 0)

    # The admin tightens the chat policy; the hub restarts with the new file.
    chat = shipped_sla.policies[1]
    tighter = dataclasses.replace(
        chat,
        title="Chat v2",
        metrics=(PolicyMetric("normal", "first_reply_time", 30, True),),
    )
    config = dataclasses.replace(
        shipped_sla, policies=(shipped_sla.policies[0], tighter, shipped_sla.policies[2])
    )
    restarted = dataclasses.replace(service, config=config)
    with engine.begin() as connection:
        unchanged = restarted.refresh(connection, "ep-1", ny(2026, 11, 23, 9, 2))
    assert unchanged.policy.title == "Chat and messaging customers"  # no new event yet

    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 20), public=False)
    with engine.begin() as connection:
        derived = restarted.refresh(connection, "ep-1", ny(2026, 11, 23, 9, 21))
    assert [applied.title for _, applied in derived.events] == ["Chat and messaging customers", "Chat v2"]
    [frt] = derived.current
    assert (frt.policy, frt.target_minutes, frt.due_at) == ("Chat v2", 30, ny(2026, 11, 23, 9, 30))
    with engine.connect() as connection:
        assert store.stored_clocks(connection, "ep-1")[0]["due_at"] == ny(2026, 11, 23, 9, 30)


def test_webhook_replies_and_statuses_feed_the_clocks(engine, service, sla_clock):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 30), public=True)
    webhook(engine, "ep-1", STATUS_CHANGED, ny(2026, 11, 23, 9, 31), status="pending")
    sla_clock.set(ny(2026, 11, 23, 9, 40))
    assert service.tick().refreshed == 1
    with engine.connect() as connection:
        stored = {row["metric"]: row for row in store.stored_clocks(connection, "ep-1")}
    assert stored["first_reply_time"]["status"] == "fulfilled"
    assert stored["requester_wait_time"]["status"] == "paused"
    assert stored["requester_wait_time"]["due_at"] is None


def test_a_merged_episode_s_history_joins_the_target_whose_clocks_start_at_the_first_contact(engine, service):
    seed_episode(engine, "ep-sms", ny(2026, 11, 23, 9, 0))
    seed_episode(engine, "ep-chat", ny(2026, 11, 23, 9, 30))
    contact(engine, "ep-sms", ny(2026, 11, 23, 9, 0), channel="sms")
    contact(engine, "ep-chat", ny(2026, 11, 23, 9, 30), channel="chat")
    webhook(engine, "ep-sms", MERGED, ny(2026, 11, 23, 9, 40), merged_into="ep-chat")
    with engine.begin() as connection:
        source = service.refresh(connection, "ep-sms", ny(2026, 11, 23, 9, 45))
    target = service.episode("ep-chat", ny(2026, 11, 23, 9, 45))
    assert {c.status for c in source.current} == {"fulfilled"}
    frt = next(c for c in target.current if c.metric == "first_reply_time")
    assert frt.started_at == ny(2026, 11, 23, 9, 0)  # the SMS, not the chat: never restarted
    assert [e.episode_id for e, _ in target.events] == ["ep-sms", "ep-chat"]
    with engine.connect() as connection:  # the merge refreshed the target's cache too
        assert {row["metric"] for row in store.stored_clocks(connection, "ep-chat")} >= {"first_reply_time"}


# --- acting -------------------------------------------------------------------------------------


def test_a_breach_is_found_within_one_tick_and_written_once(engine, service, sla_clock, crm):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    crm.add_existing_case("101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    sla_clock.set(ny(2026, 11, 23, 10, 0, 30))  # FRT (60 business minutes) was due at 10:00
    first = service.tick()
    second = service.tick()
    assert (first.written, second.written) == (1, 0)
    [write] = sla_writes(crm)
    assert [call for call in crm.calls if call[0] == "append_activity"] == [("append_activity", "101")]
    assert write.key == action_key("ep-1", "first_reply_time", 1, "breach")
    assert write.key.startswith("sla_") and len(write.key) == 36
    assert write.case_fields == {
        "custom_fields.360000000005": "2026-11-25T16:00:00Z",  # requester wait, the next due
        "priority": "urgent",
        "tags": ["ctihub_sla_breached"],
    }
    assert write.body.splitlines()[0] == "SLA breached: First reply time"
    assert "Breached: Mon 2026-11-23 10:00 EST (2026-11-23T15:00:00Z)" in write.body
    with engine.connect() as connection:
        [action] = store.episode_actions(connection, "ep-1")
    assert (action["kind"], action["attempts"], action["case_id"]) == ("breach", 1, "101")
    assert action["done_at"] == ny(2026, 11, 23, 10, 0, 30)


def test_a_warning_then_the_breach_each_once(engine, service, sla_clock, crm):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    sla_clock.set(ny(2026, 11, 23, 9, 49))
    assert service.tick().written == 0
    sla_clock.set(ny(2026, 11, 23, 9, 50))  # the chat policy warns 10 minutes ahead
    assert service.tick().written == 1
    assert service.tick().written == 0
    sla_clock.set(ny(2026, 11, 23, 10, 1))
    assert service.tick().written == 1
    assert service.tick().written == 0
    warning, breach = sla_writes(crm)
    assert warning.body.startswith("SLA at risk: First reply time")
    assert warning.case_fields["priority"] == "high"
    assert warning.case_fields["tags"] == ["ctihub_sla_at_risk"]
    assert breach.case_fields["priority"] == "urgent"


def test_a_missed_tick_goes_straight_to_the_breach(engine, service, sla_clock, crm):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    sla_clock.set(ny(2026, 11, 23, 11, 0))
    service.tick()
    assert [w.body.splitlines()[0] for w in sla_writes(crm)] == ["SLA breached: First reply time"]


def test_a_failed_crm_write_is_retried_by_a_later_tick(engine, service, sla_clock, crm):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    crm.fail_next.append(CrmRetryable("Zendesk is down", crm="zendesk", status=503, retry_after=60))
    sla_clock.set(ny(2026, 11, 23, 10, 1))
    assert service.tick().written == 0
    with engine.connect() as connection:
        [action] = store.episode_actions(connection, "ep-1")
    assert action["done_at"] is None and "Zendesk is down" in action["last_error"]
    sla_clock.advance(seconds=30)
    assert service.tick().written == 0  # not before Retry-After
    sla_clock.advance(seconds=60)
    assert service.tick().written == 1
    assert len(sla_writes(crm)) == 1
    assert count(engine, sla_actions) == 1


def test_an_action_waits_for_the_case_and_is_skipped_if_the_clock_was_met_meanwhile(
    engine, service, sla_clock, crm
):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    seed_episode(engine, "ep-2", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-2", ny(2026, 11, 23, 9, 0), customer={"phone": "+14155550199"})
    sla_clock.set(ny(2026, 11, 23, 10, 1))
    assert service.tick().recorded == 2
    assert sla_writes(crm) == []  # neither case is linked yet
    link_case(engine, "ep-1", "101", at=ny(2026, 11, 23, 10, 2))
    link_case(engine, "ep-2", "102", at=ny(2026, 11, 23, 10, 2))
    webhook(engine, "ep-2", AGENT_REPLY, ny(2026, 11, 23, 10, 3))  # ep-2 answered in the meantime
    sla_clock.set(ny(2026, 11, 23, 10, 7))
    assert service.tick().written == 1
    assert [w.key for w in sla_writes(crm)] == [action_key("ep-1", "first_reply_time", 1, "breach")]
    with engine.connect() as connection:
        [skipped] = store.episode_actions(connection, "ep-2")
    assert skipped["done_at"] is not None and skipped["last_error"].startswith("skipped")


def test_each_next_reply_instance_is_acted_on_once(engine, service, sla_clock, crm):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 9, 10))
    contact(engine, "ep-1", ny(2026, 11, 23, 10, 0))
    sla_clock.set(ny(2026, 11, 23, 11, 1))
    service.tick()
    webhook(engine, "ep-1", AGENT_REPLY, ny(2026, 11, 23, 11, 5))
    contact(engine, "ep-1", ny(2026, 11, 23, 13, 0))
    sla_clock.set(ny(2026, 11, 23, 14, 1))
    service.tick()
    service.tick()
    assert [w.key for w in sla_writes(crm)] == [
        action_key("ep-1", "next_reply_time", 1, "breach"),
        action_key("ep-1", "next_reply_time", 2, "breach"),
    ]


def test_without_sla_yaml_nothing_is_matched_and_nothing_written(engine, sla_clock, crm):
    service = SlaService(engine=engine, config=None, clock=sla_clock, crm=crm)
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    sla_clock.set(ny(2026, 11, 30, 9, 0))
    assert service.tick().refreshed == 1
    assert service.tick().refreshed == 0  # matched (to no policy) once
    assert crm.activities == {}
    with engine.connect() as connection:
        row = connection.execute(select(sla_events.c.applied)).one()
    assert json.loads(row.applied) is None


# --- the link path's fields, settings, the scheduler ---------------------------------------------


def test_case_fields_for_the_link_path(engine, service, sla_clock, shipped_sla):
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    assert service.case_fields("ep-1") == {"custom_fields.360000000005": "2026-11-23T15:00:00Z"}
    assert service.case_fields("ep-1", "salesforce") == {
        "CTI_Hub_SLA_Due__c": "2026-11-23T15:00:00Z",
        "CTI_Hub_SLA_Status__c": "active",
    }
    sla_clock.set(ny(2026, 11, 23, 10, 30))
    assert service.case_fields("ep-1", "salesforce")["CTI_Hub_SLA_Status__c"] == "breached"
    assert service.case_fields("ep-unknown") == {}


def test_settings_come_from_ctihub_sla_variables():
    settings = Settings(environment={"CTIHUB_SLA_WARN_BEFORE_MINUTES": "5", "CTIHUB_SLA_BATCH": "10"})
    assert SlaSettings.from_settings(settings) == SlaSettings(warn_before_minutes=5.0, batch=10)
    assert SlaSettings.from_settings(Settings()) == SlaSettings()
    with pytest.raises(ConfigError, match="CTIHUB_SLA_WARN_BEFORE_MINUTES"):
        SlaSettings.from_settings(Settings(environment={"CTIHUB_SLA_WARN_BEFORE_MINUTES": "soon"}))


def test_the_scheduler_fires_every_tick_it_is_given(service):
    jobs = {job.id for job in build_scheduler({"sla_clocks": service.tick, "other": lambda: None}).get_jobs()}
    assert jobs == {"sla_clocks", "other"}


def test_a_policy_without_a_schedule_in_the_config_is_a_loader_problem_not_a_crash(shipped_sla):
    # The loader refuses unknown schedules (see test_mappings); the domain trusts a built config.
    assert all(isinstance(p, Policy) and p.schedule in shipped_sla.schedules for p in shipped_sla.policies)


def test_the_tick_handles_many_episodes_in_batches(engine, sla_clock, shipped_sla, crm):
    service = SlaService(
        engine=engine, config=shipped_sla, clock=sla_clock, crm=crm, settings=SlaSettings(batch=2)
    )
    for n in range(5):
        seed_episode(engine, f"ep-{n}", ny(2026, 11, 23, 9, 0), case_id=str(100 + n))
        contact(engine, f"ep-{n}", ny(2026, 11, 23, 9, 0), customer={"phone": f"+1415555010{n}"})
    sla_clock.set(ny(2026, 11, 23, 10, 1))
    totals = [service.tick().written for _ in range(4)]
    assert sum(totals) == 5 and totals[-1] == 0
    assert len(sla_writes(crm)) == 5


def test_an_action_is_given_up_after_the_last_attempt(engine, sla_clock, shipped_sla, crm):
    service = SlaService(
        engine=engine, config=shipped_sla, clock=sla_clock, crm=crm, settings=SlaSettings(max_attempts=2)
    )
    seed_episode(engine, "ep-1", ny(2026, 11, 23, 9, 0), case_id="101")
    contact(engine, "ep-1", ny(2026, 11, 23, 9, 0))
    crm.fail_next += [CrmRetryable("down", crm="zendesk"), CrmRetryable("still down", crm="zendesk")]
    sla_clock.set(ny(2026, 11, 23, 10, 1))
    service.tick()
    sla_clock.advance(hours=1)
    service.tick()
    sla_clock.advance(hours=1)
    assert service.tick().written == 0
    with engine.connect() as connection:
        [action] = store.episode_actions(connection, "ep-1")
    assert action["last_error"] == "gave up: still down" and action["done_at"] is not None
    assert timedelta(0) < action["done_at"] - ny(2026, 11, 23, 10, 1)
