"""The readable activity an agent sees on the case: what happened, coded, with the transcript's end."""

from __future__ import annotations

from hub.domain.catalog import Disposition
from hub.domain.outcome import Outcome

CHANNEL_LABELS = {
    "chat": "Chat",
    "sms": "SMS",
    "self_service": "Self-service",
    "voice": "Voice",
    "email": "Email",
    "messaging": "Messaging",
}
TRANSCRIPT_LINES = 10
LINE_CHARS = 500


def activity_subject(outcome: Outcome, disposition: Disposition) -> str:
    return f"{CHANNEL_LABELS.get(outcome.channel, outcome.channel)} · {disposition.label}"


def activity_body(outcome: Outcome, disposition: Disposition, intent_label: str) -> str:
    lines = [
        f"{activity_subject(outcome, disposition)} ({disposition.code})",
        f"Intent: {intent_label}",
    ]
    details = [f"outcome {outcome.outcome}"]
    if outcome.attempts is not None:
        details.append(f"{outcome.attempts} attempt{'s' if outcome.attempts != 1 else ''}")
    if outcome.step:
        details.append(f"ended at step {outcome.step}")
    if outcome.sentiment:
        details.append(f"sentiment {outcome.sentiment}")
    lines.append("; ".join(details).capitalize())
    if outcome.summary:
        lines += ["", outcome.summary]
    if outcome.transcript:
        shown = outcome.transcript[-TRANSCRIPT_LINES:]
        total = len(outcome.transcript)
        heading = "Transcript" if total == len(shown) else f"Transcript (last {len(shown)} of {total} lines)"
        lines += ["", f"{heading}:"]
        for line in shown:
            text = line.text if len(line.text) <= LINE_CHARS else line.text[: LINE_CHARS - 1] + "…"
            lines.append(f"  {line.sender}: {text}")
    lines += ["", f"{outcome.source} · {outcome.event_id} · {outcome.occurred_at.isoformat()}"]
    return "\n".join(lines)
