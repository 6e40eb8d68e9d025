"""An attempt is made only while its contact window is open at the moment it is made, not only when its
guards ran: a batch's earlier attempts take time (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.recovery.conftest import Harness


def test_an_attempt_whose_window_closed_before_it_was_made_is_rescheduled(harness: Harness):
    harness.at(datetime(2026, 11, 24, 1, 40, tzinfo=UTC))  # 20:40 in New York; the window ends at 21:00
    harness.link(intent="billing")
    harness.link(intent="technical_support")  # another episode: a second text in the same batch
    harness.tick()
    harness.advance(minutes=10)  # 20:50: both texts are due, every guard passes for both
    harness.sender.while_sending.append(lambda: harness.advance(minutes=15))  # a slow provider
    report = harness.tick()
    first, second = (a for a in harness.attempts() if a["action"] == "sms")
    assert (first["status"], second["status"]) == ("sent", "pending")
    assert len(harness.sender.sent) == 1 and (report.sent, report.rescheduled) == (1, 1)
    assert (second["reason"], second["due_at"]) == (
        "outside_contact_window",
        datetime(2026, 11, 24, 13, tzinfo=UTC),  # 08:00 the next morning
    )
    assert (second["send_started"], second["touched_at"], second["lease_owner"]) == (False, None, None)
    [window] = [g for g in json.loads(second["guards"]) if g["guard"] == "contact_window"]
    assert window["detail"].startswith(
        "the window closed at 2026-11-24T02:00:00Z, before the attempt was made at 2026-11-24T02:05:00Z"
    )
    notes = [w["subject"] for w in harness.writebacks() if w["result"] == "rescheduled"]
    assert notes == ["Recovery: SMS with a link rescheduled (outside the contact window)"]
