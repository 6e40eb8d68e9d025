"""``ctihub recovery simulate|status|metrics`` through click's runner."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from hub.cli import main
from tests.conftest import MAPPINGS

EVENTS = [
    # New York, SMS and voice consent: the SMS at +10 min, the callback at +3 h.
    {"event_id": "ss-1", "source": "ivr", "occurred_at": "2026-11-23T14:58:00Z", "channel": "self_service",
     "customer": {"phone": "+12125550100"}, "intent": "billing", "outcome": "failed",
     "consent": {"sms": True, "voice": True}},
    # Miami at 20:30: Florida closes at 20:00, so the SMS waits for 08:00; no voice consent.
    {"event_id": "ss-2", "source": "ivr", "occurred_at": "2026-11-24T01:30:00Z", "channel": "self_service",
     "customer": {"phone": "+13055550101"}, "intent": "billing", "outcome": "failed",
     "consent": {"sms": True}},
    # A toll-free number has no time zone: never called.
    {"event_id": "chat-1", "source": "web-chat", "occurred_at": "2026-11-23T16:00:00Z", "channel": "chat",
     "customer": {"phone": "+18005550100"}, "intent": "order_status", "outcome": "abandoned",
     "consent": {"voice": True}},
    # Abandoned a chat, then came back an hour later: the callback is cancelled.
    {"event_id": "chat-2", "source": "web-chat", "occurred_at": "2026-11-23T16:00:00Z", "channel": "chat",
     "customer": {"phone": "+14155550123"}, "intent": "order_status", "outcome": "abandoned",
     "consent": {"voice": True}},
    {"event_id": "chat-3", "source": "web-chat", "occurred_at": "2026-11-23T17:00:00Z", "channel": "chat",
     "customer": {"phone": "+14155550123"}, "intent": "order_status", "outcome": "in_progress"},
]  # fmt: skip

EXPECTED = """\
{"event_id": "ss-1", "episode_id": "ep_sim_000001", "attempt": 1, "action": "sms", "channel": "sms", "at": "2026-11-23T15:08:00Z", "status": "planned", "reason": null}
{"event_id": "chat-2", "episode_id": "ep_sim_000003", "attempt": 1, "action": "callback", "channel": "voice", "at": "2026-11-23T17:00:00Z", "status": "blocked", "reason": "customer_came_back"}
{"event_id": "ss-1", "episode_id": "ep_sim_000001", "attempt": 2, "action": "callback", "channel": "voice", "at": "2026-11-23T17:58:00Z", "status": "planned", "reason": null}
{"event_id": "chat-1", "episode_id": "ep_sim_000002", "attempt": 1, "action": "callback", "channel": "voice", "at": "2026-11-23T18:00:00Z", "status": "blocked", "reason": "unknown_time_zone"}
{"event_id": "ss-2", "episode_id": "ep_sim_000005", "attempt": 1, "action": "sms", "channel": "sms", "at": "2026-11-24T13:00:00Z", "status": "rescheduled", "reason": "outside_contact_window"}
{"event_id": "ss-2", "episode_id": "ep_sim_000005", "attempt": 2, "action": "callback", "channel": "voice", "at": "2026-11-24T14:00:00Z", "status": "blocked", "reason": "no_consent"}
"""  # noqa: E501


@pytest.fixture
def runner(tmp_path, monkeypatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("CTIHUB_WEBHOOK_SECRET", "CTIHUB_API_TOKEN", "CTIHUB_CRM", "CTIHUB_SANDBOX"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'configured.db'}")
    return CliRunner()


def write_events(tmp_path, events=EVENTS):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_simulate_prints_every_attempt_and_touches_nothing(runner, tmp_path):
    events = write_events(tmp_path)
    args = ["recovery", "simulate", "--events", str(events), "--from", "2026-11-23T14:00:00Z"]
    result = runner.invoke(main, [*args, "--to", "2026-11-26T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert result.stdout == EXPECTED
    assert not (tmp_path / "configured.db").exists()  # the configured database was never opened


def test_simulate_shows_an_attempt_still_pending_at_the_end_at_its_due_time(runner, tmp_path):
    events = write_events(tmp_path, EVENTS[1:2])
    args = ["recovery", "simulate", "--events", str(events), "--from", "2026-11-24T00:00:00Z"]
    result = runner.invoke(main, [*args, "--to", "2026-11-24T02:00:00Z"])
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert (line["at"], line["status"], line["reason"]) == (
        "2026-11-24T13:00:00Z",
        "rescheduled",
        "outside_contact_window",
    )


def test_simulate_includes_disabled_policies_unless_told_not_to(runner, tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, mappings)
    text = (mappings / "recovery.yaml").read_text()
    (mappings / "recovery.yaml").write_text(
        text.replace("  - name: Self-service failed\n", "  - name: Self-service failed\n    enabled: false\n")
    )
    events = write_events(tmp_path, EVENTS[:1])
    args = ["recovery", "simulate", "--events", str(events), "--mappings", str(mappings)]
    args += ["--from", "2026-11-23T14:00:00Z", "--to", "2026-11-24T00:00:00Z"]
    assert len(runner.invoke(main, args).stdout.splitlines()) == 2
    assert runner.invoke(main, [*args, "--only-enabled"]).stdout == ""


def test_simulate_names_each_bad_event_by_line(runner, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        json.dumps(EVENTS[0]) + "\n\nnot json\n" + json.dumps({**EVENTS[0], "outcome": "meh"}) + "\n"
    )
    args = ["recovery", "simulate", "--events", str(path), "--from", "2026-11-23T14:00:00Z"]
    result = runner.invoke(main, [*args, "--to", "2026-11-24T00:00:00Z"])
    assert result.exit_code == 2
    assert f"{path}:3: not JSON" in result.output
    assert f"{path}:4: $.outcome: " in result.output


def test_status_and_metrics_read_the_configured_database(runner, tmp_path):
    from hub.store import migrate
    from hub.store.db import make_engine

    migrate.upgrade(make_engine(f"sqlite:///{tmp_path / 'configured.db'}"))
    status = runner.invoke(main, ["recovery", "status"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout) == {
        "attempts": {},
        "due_now": 0,
        "oldest_due": None,
        "plans": {},
        "writebacks": {},
    }
    metrics = runner.invoke(main, ["recovery", "metrics"])
    assert json.loads(metrics.stdout)["connect_rate"] is None
