"""Scenarios small enough to compute every figure by hand (docs/metrics.md has the same example).

Day D = 2026-11-02, R = 72 h. Customers:
  A  self-service, resolved (09:00)                                   held
  B  self-service, resolved (11:00); chat about billing at 13:00     recontacted (same episode)
  C  self-service, resolved (12:00); chat about billing on D+4      held; the chat is a new inquiry
  H  self-service, abandoned (a hang-up, 09:30)                        contained, not resolved
  E  bot chat escalated (14:00), then an agent's chat resolves it    automated, not contained
  F  offered chat and SMS at 15:00, took chat at 15:10, chat failed   offer taken and failed; SLA breached
  G  self-service resolved one hour before the report                  pending
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from hub.services.deflection_metrics import Query, deflection_report
from hub.store.dedup_tables import dedup_links
from hub.store.panel_tables import disposition_corrections
from hub.store.sla_tables import sla_actions
from hub.store.tables import episode_cases, inbox
from hub.web import create_app
from tests.metrics.conftest import TOKEN

D = datetime(2026, 11, 2, tzinfo=UTC)
NOW = D + timedelta(days=10, hours=12)


def at(hours: float, days: int = 0) -> datetime:
    return D + timedelta(days=days, hours=hours)


@pytest.fixture
def story(world):
    episodes = {}
    episodes["A"] = world.contact("0101", at(9), channel="self_service", outcome="resolved")
    episodes["H"] = world.contact("0104", at(9.5), channel="self_service", outcome="abandoned")
    episodes["B"] = world.contact("0102", at(11), channel="self_service", outcome="resolved")
    world.contact("0102", at(13), channel="chat", outcome="resolved")
    episodes["C"] = world.contact("0103", at(12), channel="self_service", outcome="resolved")
    world.contact("0105", at(14), channel="chat", outcome="escalated", handled_by="bot")
    episodes["E"] = world.contact("0105", at(14.25), channel="chat", outcome="resolved", handled_by="agent")
    world.contact("0106", at(14.9), channel="voice", outcome="deflected", handled_by="bot")
    customer_f = world.customer_key("0106")
    world.offer(at(15), customer_key=customer_f)
    episodes["F"] = world.contact("0106", at(15 + 1 / 6), channel="chat", outcome="failed")
    episodes["C2"] = world.contact("0103", at(12, days=4), channel="chat", outcome="resolved")
    episodes["G"] = world.contact(
        "0107", NOW - timedelta(hours=1), channel="self_service", outcome="resolved"
    )
    with world.hub.engine.begin() as connection:
        connection.execute(
            insert(sla_actions).values(
                episode_id=episodes["F"], metric="first_reply_time", instance=1, kind="breach",
                key="sla_f", created_at=at(16),
            )
        )  # fmt: skip
    return episodes


def report(world, first=D, last=NOW, **options):
    query = Query(first.date(), last.date(), **options)
    return deflection_report(world.hub.engine, query, window_hours=72.0)


def test_every_figure_by_hand(world, story):
    assert story["F"] != story["C"]
    world.rollup(NOW)
    totals = report(world)["totals"]
    # A, H, B, C, E, F on D; C2 on D+4; G on D+10: 8 inquiries.
    # (F's voice call opened F's inquiry; its chat joined it.)
    assert totals["inquiries"] == 8
    # automated: A, H, B, C, E (a bot), F (a bot on voice), G
    assert totals["automated_inquiries"] == 7
    # automated resolutions: A, B, C, G -> 4 / 8
    assert (totals["automated_resolutions"], totals["deflection_rate"]) == (4, 0.5)
    # contained: automated without an agent event: A, H, B, C, F, G (E escalated) -> 6 / 7
    assert (totals["contained"], totals["containment_rate"]) == (6, 0.8571)
    # pending: G. Settled: 7. Held: A and C (B came back) -> 2 / 7
    assert (totals["pending"], totals["settled"], totals["held"]) == (1, 7, 2)
    assert totals["recontact_adjusted_deflection_rate"] == 0.2857
    # of the settled automated resolutions A, B, C one was followed by a contact within R: 1 / 3
    assert (totals["resolutions_settled"], totals["recontacted"], totals["recontact_rate"]) == (3, 1, 0.3333)
    assert (totals["offers"], totals["offers_taken"], totals["offers_failed"]) == (1, 1, 1)
    assert (totals["offer_acceptance_rate"], totals["offer_failure_rate"]) == (1.0, 1.0)
    # F took the offer and breached; none of the other 7 breached
    assert totals["sla_breach_rate_after_deflection"] == 1.0
    assert (totals["inquiries_without_offer_taken"], totals["sla_breach_rate_without_deflection"]) == (7, 0.0)
    assert (totals["cases_created"], totals["duplicate_ticket_rate"]) == (8, 0.0)
    assert (totals["activities"], totals["disposition_corrections"], totals["disposition_accuracy"]) == (
        11,
        0,
        1.0,
    )


def test_disposition_accuracy_counts_each_corrected_activity_once(world, story):
    with world.hub.engine.begin() as connection:
        inbox_id = connection.execute(
            select(inbox.c.id).where(inbox.c.episode_id == story["F"]).limit(1)
        ).scalar()
        for code in ("DIGITAL_FAILED", "CHAT_RESOLVED"):  # corrected twice: one activity
            connection.execute(
                insert(disposition_corrections).values(
                    inbox_id=inbox_id,
                    episode_id=story["F"],
                    crm="zendesk",
                    record_id="1",
                    original_code="X",
                    corrected_code=code,
                    corrected_by="zendesk:user:1",
                    corrected_at=NOW,
                )
            )
    world.rollup(NOW)
    totals = report(world)["totals"]
    assert (totals["disposition_corrections"], totals["disposition_accuracy"]) == (1, 0.9091)  # 10 / 11


def test_a_window_still_open_is_pending_never_guessed(world, story):
    world.rollup(D + timedelta(days=1))
    totals = report(world, last=D + timedelta(days=1))["totals"]
    assert totals["inquiries"] == 6
    assert totals["pending"] == 6
    assert totals["recontact_adjusted_deflection_rate"] is None
    assert totals["recontact_rate"] is None
    # ... but the raw deflection rate counts as the industry does, at once: A, B, C of 6
    assert totals["deflection_rate"] == 0.5


def test_late_facts_correct_the_rollup(world, story):
    world.rollup(NOW)
    # dedup links C2's ticket to C's: one duplicate among 8 created
    with world.hub.engine.begin() as connection:
        rows = {row.episode_id: row.case_id for row in connection.execute(episode_cases.select())}
        connection.execute(
            insert(dedup_links).values(
                crm="zendesk", duplicate_id=rows[story["C2"]], master_id=rows[story["C"]], plan_id="p1",
                linked_at=NOW,
            )
        )  # fmt: skip
        connection.execute(
            update(episode_cases)
            .where(episode_cases.c.episode_id == story["C2"])
            .values(case_id=rows[story["C"]])
        )
    world.rollup(NOW + timedelta(minutes=1))
    assert report(world)["totals"]["duplicate_ticket_rate"] == 0.125
    # a contact that happened long ago but is linked only now: A came back by SMS 2 h after resolving
    world.contact("0101", at(11), channel="sms", outcome="resolved", linked_at=NOW + timedelta(minutes=2))
    world.rollup(NOW + timedelta(minutes=2))
    totals = report(world)["totals"]
    assert (totals["held"], totals["recontacted"]) == (1, 2)


def test_groups_by_day_channel_and_intent(world, story):
    world.rollup(NOW)
    by_day = report(world, group_by="day")["groups"]
    assert len(by_day) == 11  # every day of the range, empty ones too
    assert [(g["day"], g["inquiries"]) for g in by_day if g["inquiries"]] == [
        ("2026-11-02", 6), ("2026-11-06", 1), ("2026-11-12", 1),
    ]  # fmt: skip
    by_channel = {g["channel"]: g for g in report(world, group_by="channel")["groups"]}
    assert by_channel["self_service"]["inquiries"] == 5
    assert by_channel["self_service"]["deflection_rate"] == 0.8
    only_chat = report(world, channel="chat")["totals"]
    assert only_chat["inquiries"] == 2  # E and C2 began on chat


def test_api_answers_with_token_and_rejects_bad_ranges(world, story):
    world.rollup(NOW)
    client = create_app(hub=world.hub).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/v1/metrics/deflection?from=2026-11-02&to=2026-11-12").status_code == 401
    answer = client.get("/v1/metrics/deflection?from=2026-11-02&to=2026-11-12&group_by=day", headers=auth)
    assert answer.status_code == 200
    body = answer.json
    assert (body["from"], body["to"], body["recontact_window_hours"]) == ("2026-11-02", "2026-11-12", 72.0)
    assert body["totals"]["deflection_rate"] == 0.5
    assert len(body["groups"]) == 11
    assert "recovery" not in body["totals"]  # opt-in: it reads the recovery tables
    extra = client.get(
        "/v1/metrics/deflection?from=2026-11-02&to=2026-11-12&with=recovery", headers=auth
    ).json
    assert set(extra["totals"]["recovery"]) >= {"attempts", "blocked", "connect_rate", "recovery_rate"}
    for query, parameter in [
        ("to=2026-11-12", "from"),
        ("from=2026-11-02", "to"),
        ("from=2026-11-31&to=2026-12-01", "from"),
        ("from=2026-11-12&to=2026-11-02", "to"),
        ("from=2026-11-02&to=2026-11-12&group_by=week", "group_by"),
        ("from=2026-11-02&to=2026-11-12&with=everything", "with"),
    ]:
        bad = client.get(f"/v1/metrics/deflection?{query}", headers=auth)
        assert bad.status_code == 422, query
        assert [d["path"] for d in bad.json["error"]["details"]] == [parameter], query
