"""``ctihub sla explain``: each clock, its pauses, and the business-hours arithmetic behind its due time."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.services.episode_events import AGENT_REPLY, STATUS_CHANGED, EpisodeEvent, apply_episode_event
from hub.store import migrate
from hub.store.db import make_engine
from tests.conftest import MAPPINGS
from tests.sla.conftest import contact, ny, seed_episode


@pytest.fixture
def database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("CTIHUB_WEBHOOK_SECRET", "CTIHUB_API_TOKEN", "CTIHUB_CRM", "CTIHUB_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    monkeypatch.setenv("CTIHUB_DATABASE_URL", url)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    # The hub is built as in production; explain never calls the CRM (nothing is sent).
    monkeypatch.setenv("CTIHUB_ZENDESK_SUBDOMAIN", "example")
    monkeypatch.setenv("CTIHUB_ZENDESK_EMAIL", "hub@example.com")
    monkeypatch.setenv("CTIHUB_ZENDESK_API_TOKEN", "not-used")
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def event(engine, kind, at, **fields):
    with engine.begin() as connection:
        apply_episode_event(connection, EpisodeEvent("ep-1", kind, at, **fields), now=at)


def explain(*args: str):
    return CliRunner().invoke(main, ["sla", "explain", *args])


def test_explain_shows_the_friday_to_monday_arithmetic_and_the_pauses(database):
    seed_episode(database, "ep-1", ny(2026, 11, 20, 16, 30))
    # Friday 16:30 New York, priority high: "Urgent and high priority", 60 business minutes to reply.
    contact(database, "ep-1", ny(2026, 11, 20, 16, 30), channel="sms", priority="high")
    event(database, AGENT_REPLY, ny(2026, 11, 23, 9, 45))
    event(database, STATUS_CHANGED, ny(2026, 11, 23, 9, 46), status="pending")
    contact(database, "ep-1", ny(2026, 11, 23, 11, 0), channel="sms", priority="high")

    result = explain("ep-1", "--at", "2026-11-23T16:30:00Z")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "episode ep-1 (open)  intent billing (family billing)  customer cust-ep-1"
    assert "as of 2026-11-23T16:30:00Z" in lines
    assert any(
        "agent_reply (public)" in line and '"Urgent and high priority" (high)' in line for line in lines
    )
    frt = lines.index("first_reply_time #1: breached")
    assert lines[frt + 1 : frt + 12] == [
        "  policy     Urgent and high priority (priority high)",
        "  target     60 business minutes on schedule new-york (America/New_York)",
        "  started    Fri 2026-11-20 16:30 EST (2026-11-20T21:30:00Z)",
        "  pauses     none",
        "  counted    Fri 2026-11-20 16:30-17:00 EST  30 min  (total 30 of 60)",
        "  counted    Mon 2026-11-23 09:00-09:30 EST  30 min  (total 60 of 60)",
        "  due        Mon 2026-11-23 09:30 EST (2026-11-23T14:30:00Z) = started + 60 business minutes",
        "  met        Mon 2026-11-23 09:45 EST (2026-11-23T14:45:00Z)",
        "  breached   Mon 2026-11-23 09:30 EST (2026-11-23T14:30:00Z)",
        "",
        "next_reply_time #1: active",
    ]
    wait = lines.index("requester_wait_time #1: active")
    assert lines[wait + 4] == (
        "  paused     Mon 2026-11-23 09:46 EST (2026-11-23T14:46:00Z) -> "
        "Mon 2026-11-23 11:00 EST (2026-11-23T16:00:00Z) (pending)"
    )
    assert lines[wait + 5 : wait + 12] == [
        "  counted    Fri 2026-11-20 16:30-17:00 EST  30 min  (total 30 of 960)",
        "  counted    Mon 2026-11-23 09:00-09:46 EST  46 min  (total 76 of 960)",
        "  counted    Mon 2026-11-23 11:00-11:30 EST  30 min  (total 106 of 960)",  # now: 11:30
        "  to count   Mon 2026-11-23 11:30-17:00 EST  330 min  (total 436 of 960)",
        "  to count   Tue 2026-11-24 09:00-17:00 EST  480 min  (total 916 of 960)",
        "  to count   Wed 2026-11-25 09:00-09:44 EST  44 min  (total 960 of 960)",
        "  due        Wed 2026-11-25 09:44 EST (2026-11-25T14:44:00Z) = started + 960 business minutes"
        " + pauses",
    ]


def test_explain_a_paused_clock_says_what_is_left(database):
    seed_episode(database, "ep-1", ny(2026, 11, 23, 9, 0))
    contact(database, "ep-1", ny(2026, 11, 23, 9, 0), channel="sms", priority="high")
    event(database, STATUS_CHANGED, ny(2026, 11, 23, 10, 0), status="pending")
    result = explain("ep-1", "--at", "2026-11-23T16:00:00Z")
    assert result.exit_code == 0, result.output
    assert "requester_wait_time #1: paused" in result.output
    assert (
        "  paused     Mon 2026-11-23 10:00 EST (2026-11-23T15:00:00Z) -> still paused (pending)"
        in result.output
    )
    assert "  due        - (paused; 900 minutes left when it resumes)" in result.output


def test_explain_an_unknown_episode_or_one_without_history(database):
    missing = explain("ep-nope")
    assert missing.exit_code == 1
    assert "no episode 'ep-nope'" in missing.output
    seed_episode(database, "ep-1", ny(2026, 11, 23, 9, 0))
    quiet = explain("ep-1")
    assert quiet.exit_code == 0
    assert "no SLA history" in quiet.output
    assert explain("ep-1", "--at", "yesterday").exit_code == 2
