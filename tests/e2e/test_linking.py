"""The worker's linking rules against a fake CRM that implements the real port."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.domain.errors import CrmQuotaExhausted, CrmRecordRejected, CrmRetryable, CrmWritePending
from hub.store.tables import inbox


def link_all(hub) -> int:
    return hub.new_worker().drain()


def status(post, event_id, source="web-chat"):
    return post.status(source, event_id).json


def test_one_customer_one_problem_across_channels_gets_one_ticket(post, hub, fake_crm):
    post(event_id="chat-1", channel="chat", customer={"phone": "(415) 555-0100"})
    post(
        event_id="sms-1",
        source="twilio-sms",
        channel="sms",
        customer={"phone": "+1 415-555-0100"},
        outcome="no_response",
    )
    post(
        event_id="ss-1",
        source="ivr",
        channel="self_service",
        customer={"phone": "415.555.0100"},
        outcome="abandoned",
    )
    assert link_all(hub) == 3
    assert len(fake_crm.cases) == 1
    [case] = fake_crm.cases.values()
    activities = fake_crm.activities_on(case["id"])
    assert [a.fields["public"] for a in activities] == [False, False, False]
    assert "Chat · Failed (FAILED)" in activities[0].body
    assert "SMS · No reply to SMS (SMS_NO_RESPONSE)" in activities[1].body
    assert "Self-service abandoned" in activities[2].body
    first, second = status(post, "chat-1"), status(post, "sms-1", "twilio-sms")
    assert first["episode_id"] == second["episode_id"]
    assert first["links"][0]["created"] is True
    assert second["links"][0] == {"crm": "zendesk", "object": "ticket", "id": case["id"], "created": False}


def test_another_problem_of_the_same_customer_gets_its_own_ticket(post, hub, fake_crm):
    post(event_id="a", intent="billing")
    post(event_id="b", intent="order_status")
    link_all(hub)
    assert len(fake_crm.cases) == 2


def test_intents_of_one_family_share_the_episode(post, hub, fake_crm):
    post(event_id="a", intent="password_reset", channel="self_service")
    post(event_id="b", intent="account_update", channel="chat")
    link_all(hub)
    assert len(fake_crm.cases) == 1


def test_a_contact_after_the_window_opens_a_new_ticket(post, hub, fake_crm, clock):
    post(event_id="a", occurred_at="2026-11-20T10:00:00Z")
    post(event_id="b", occurred_at="2026-11-23T10:00:01Z")  # 72 h + 1 s later
    link_all(hub)
    assert len(fake_crm.cases) == 2


def test_case_fields_come_from_the_mapping_and_the_disposition_catalog(post, hub, fake_crm):
    post(
        event_id="a",
        channel="self_service",
        outcome="failed",
        intent="password_reset",
        customer={"email": "JANE@example.com"},
    )
    link_all(hub)
    [case] = fake_crm.cases.values()
    fields = case["fields"]
    assert fields["subject"] == "Password reset"
    assert fields["custom_fields.360000000001"] == "ctihub_ss_failed"
    assert fields["custom_fields.360000000002"] == "password_reset"
    assert fields["custom_fields.360000000003"] == "channel_self_service"
    assert fields["custom_fields.360000000004"].startswith("ep_")
    assert "ctihub" in fields["tags"]
    assert case["customer"].email == "jane@example.com"


def test_explicit_disposition_wins_over_the_derived_one(post, hub):
    post(event_id="a", outcome="escalated", disposition="CALLBACK_REQUESTED")
    link_all(hub)
    assert status(post, "a")["disposition"] == "CALLBACK_REQUESTED"


def test_a_replayed_event_never_writes_twice(post, hub, fake_crm):
    post(event_id="a")
    link_all(hub)
    with hub.engine.begin() as connection:  # an operator re-queues a linked event by hand
        connection.execute(inbox.update().values(status="pending", attempts=1))
    link_all(hub)
    assert len(fake_crm.cases) == 1
    assert len(fake_crm.activities) == 1


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so no handler in the worker catches it."""


def test_a_worker_that_dies_after_the_crm_write_is_finished_by_another_without_duplicates(
    post, hub, fake_crm, clock
):
    post(event_id="a")
    real_create = fake_crm.create_case

    def create_then_die(case, activity, *, retrying):
        real_create(case, activity, retrying=retrying)
        raise Crash

    fake_crm.create_case = create_then_die
    dying = hub.new_worker()
    with pytest.raises(Crash):
        dying.run_once()
    fake_crm.create_case = real_create
    assert status(post, "a")["status"] == "pending"  # still leased to the dead worker

    survivor = hub.new_worker()
    assert survivor.run_once() == 0  # not before the lease ends
    clock.advance(seconds=dying.lease.total_seconds() + 1)
    assert survivor.run_once() == 1
    assert status(post, "a")["status"] == "linked"
    assert len(fake_crm.cases) == 1
    assert len(fake_crm.activities) == 1


def test_case_hint_pointing_at_an_open_ticket_is_used(post, hub, fake_crm):
    fake_crm.add_existing_case("9001")
    post(event_id="a", case_hint={"crm": "zendesk", "id": "9001"})
    link_all(hub)
    assert status(post, "a")["links"][0] == {
        "crm": "zendesk",
        "object": "ticket",
        "id": "9001",
        "created": False,
    }
    assert [c for c in fake_crm.calls if c[0] == "create_case"] == []


@pytest.mark.parametrize("closed", [True, False])
def test_case_hint_to_a_closed_or_missing_ticket_is_ignored(post, hub, fake_crm, closed):
    if closed:
        fake_crm.add_existing_case("9001")
        fake_crm.closed.add("9001")
    post(event_id="a", case_hint={"crm": "zendesk", "id": "9001"})
    link_all(hub)
    assert status(post, "a")["links"][0]["created"] is True


def test_transient_failures_retry_with_backoff_honoring_retry_after(post, hub, fake_crm, clock):
    fake_crm.fail_next.append(
        CrmRetryable("429 Too Many Requests", crm="zendesk", status=429, retry_after=30)
    )
    post(event_id="a")
    worker = hub.new_worker()
    assert worker.run_once() == 1
    state = status(post, "a")
    assert (state["status"], state["last_error"]) == ("failed", "zendesk 429: 429 Too Many Requests")
    clock.advance(seconds=29)
    assert worker.run_once() == 0  # never before Retry-After
    clock.advance(seconds=1)
    assert worker.run_once() == 1
    assert status(post, "a")["status"] == "linked"


def test_a_record_the_crm_rejects_goes_to_the_dead_letter_with_its_reason(post, hub, fake_crm):
    fake_crm.fail_next.append(
        CrmRecordRejected(
            "Custom field 360000000001 value is invalid", crm="zendesk", status=422, crm_code="RecordInvalid"
        )
    )
    post(event_id="a")
    link_all(hub)
    state = status(post, "a")
    assert state["status"] == "dead"
    assert state["last_error"] == (
        "rejected: zendesk 422 RecordInvalid: Custom field 360000000001 value is invalid"
    )


def test_transient_failures_are_retried_for_the_time_budget_not_a_count(post, hub, fake_crm, clock):
    """Thirty 503s in a row do not dead-letter an event; it links when the CRM answers again."""
    fake_crm.fail_next.extend(CrmRetryable("503", crm="zendesk", status=503) for _ in range(30))
    post(event_id="a")
    worker = hub.new_worker()
    for _ in range(30):
        assert worker.run_once() == 1
        assert status(post, "a")["status"] == "failed"
        clock.advance(minutes=10)  # past any backoff (capped at 5 min + jitter)
    assert worker.drain() == 1
    assert status(post, "a")["status"] == "linked"
    assert status(post, "a")["attempts"] == 31


def test_transient_failures_end_in_the_dead_letter_once_the_budget_is_spent(post, hub, fake_crm, clock):
    fake_crm.fail_next.extend(CrmRetryable("503", crm="zendesk", status=503) for _ in range(400))
    post(event_id="a")
    worker = hub.new_worker()
    assert worker.transient_budget == timedelta(hours=24)
    for _ in range(23 * 6):  # 23 hours of tries every 10 minutes: still retried
        worker.run_once()
        clock.advance(minutes=10)
    assert status(post, "a")["status"] == "failed"
    clock.advance(hours=1)
    worker.run_once()
    state = status(post, "a")
    assert state["status"] == "dead"
    assert state["last_error"].startswith("retry budget of 24 h spent after ")
    assert state["last_error"].endswith(": zendesk 503: 503")


def test_quota_exhaustion_pauses_the_worker_without_burning_attempts(post, hub, fake_crm, clock):
    fake_crm.fail_next.append(
        CrmQuotaExhausted(
            "TotalRequests Limit exceeded.", crm="salesforce", status=403, crm_code="REQUEST_LIMIT_EXCEEDED"
        )
    )
    post(event_id="a")
    post(event_id="b")
    worker = hub.new_worker()
    worker.batch_size = 1
    assert worker.run_once() == 1
    assert worker.paused_until == clock.now() + timedelta(minutes=15)
    assert worker.run_once() == 0  # paused: "b" is not even claimed
    assert status(post, "a")["attempts"] == 0
    clock.advance(minutes=15)
    assert worker.drain() == 2
    assert status(post, "a")["status"] == status(post, "b")["status"] == "linked"


def test_consent_given_or_revoked_in_an_interaction_goes_to_the_ledger_once(post, hub):
    from hub.store.consent import standing_consent

    post(
        event_id="a",
        occurred_at="2026-11-23T14:00:00Z",
        customer={"phone": "(415) 555-0100", "email": "Jo@Example.com"},
        consent={"sms": True, "email": False, "evidence": "ticked the SMS box"},
    )
    post(
        event_id="b",
        occurred_at="2026-11-23T14:30:00Z",
        customer={"phone": "+14155550100"},
        consent={"sms": False},
    )
    link_all(hub)
    with hub.engine.begin() as connection:
        from hub.store.tables import inbox as inbox_table

        connection.execute(inbox_table.update().values(status="pending", attempts=1))  # replay everything
    link_all(hub)
    with hub.engine.connect() as connection:
        sms = standing_consent(connection, "sms", "+14155550100")
        email = standing_consent(connection, "email", "jo@example.com")
        assert standing_consent(connection, "voice", "+14155550100") is None
        from sqlalchemy import func, select

        from hub.store.tables import consent_ledger

        assert connection.execute(select(func.count()).select_from(consent_ledger)).scalar() == 3
    assert (sms.granted, sms.source) == (False, "event:web-chat")
    assert (email.granted, email.evidence) == (False, "ticked the SMS box")


def test_the_hub_schedules_every_areas_tick(hub):
    assert set(hub.scheduled_ticks()) == {
        "close_elapsed_episodes",
        "retry_failed_webhooks",
        "sla_clocks",
        "recovery",
        "metrics_rollup",
        "retention",
    }


def test_a_write_that_may_still_land_keeps_the_case_claim_until_its_own_retry_looks(
    post, hub, fake_crm, clock
):
    """A bulk job still running at the deadline (CrmWritePending): no other event of the episode may
    create a second case meanwhile; the event's own retry, after retry_after, takes the claim."""
    fake_crm.fail_next.append(CrmWritePending("job still running", crm="zendesk", retry_after=300))
    post(event_id="a", customer={"phone": "(415) 555-0100"})
    post(event_id="b", customer={"phone": "(415) 555-0100"})
    worker = hub.new_worker()

    worker.drain()
    assert status(post, "a")["status"] == "failed"
    assert "being created" in status(post, "b")["last_error"]
    for _ in range(10):  # b keeps waiting for a's claim; it never creates a case of its own
        clock.advance(seconds=25)
        worker.drain()
        assert fake_crm.cases == {}
    clock.advance(seconds=60)  # past a's retry_after: a looks (retrying), creates, b appends
    worker.drain()
    assert [status(post, e)["status"] for e in "ab"] == ["linked", "linked"]
    [case] = fake_crm.cases.values()
    assert len(fake_crm.activities_on(case["id"])) == 2
