"""How the panel writes things for people: masked phones and emails, durations, reasons, CRM links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from hub.services.recovery.recording import REASON_TEXT

DOT = "\u2022"  # •
TRANSCRIPT_LINES = 8
TRANSCRIPT_CHARS = 400

CHANNEL_LABELS = {
    "chat": "Chat",
    "sms": "SMS",
    "self_service": "Self-service",
    "voice": "Voice",
    "email": "Email",
    "messaging": "Messaging",
}


def channel_label(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel or "", (channel or "").replace("_", " ").capitalize())


PANEL_REASONS = {
    "agent_paused": "an agent paused the follow-ups",
    "agent_resumed": "an agent resumed the follow-ups",
    "agent_cancelled": "an agent cancelled the follow-ups",
    "plan_paused": "the plan is paused by an agent",
    "all_steps_made": "every step of the plan was made",
    "episode_cap": "the episode's attempt cap was reached",
    "customer_cap": "the customer's attempt cap was reached",
}


def mask_phone(e164: str) -> str:
    """``+1 ••• ••• 0100``: the country code and the last four digits, nothing else."""
    digits = [c for c in e164 if c.isdigit()]
    if len(digits) < 6:
        return f"{DOT * 3}"
    try:
        country = str(phonenumbers.parse(e164, None).country_code)
    except phonenumbers.NumberParseException:
        country = digits[0]
    return f"+{country} {DOT * 3} {DOT * 3} {''.join(digits[-4:])}"


def mask_email(value: str) -> str:
    """``j•••@example.com``: the first letter of the local part and the domain."""
    local, at, domain = value.partition("@")
    if not at or not local:
        return DOT * 3
    return f"{local[0]}{DOT * 3}@{domain}"


def minutes_text(minutes: float) -> str:
    """``2 h 05 min``, ``45 min``, ``3 d 4 h``: how long, for an agent at a glance."""
    total = round(abs(minutes))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins:02d} min" if mins else f"{hours} h"
    return f"{mins} min"


def reason_text(reason: str | None) -> str:
    if not reason:
        return ""
    return PANEL_REASONS.get(reason) or REASON_TEXT.get(reason) or reason.replace("_", " ")


def record_url(crm: str, object_name: str, record_id: str, settings: dict[str, str]) -> str | None:
    """The record's page in the CRM's own console (None when the CRM's address is not configured)."""
    if crm == "zendesk":
        subdomain = settings.get("subdomain")
        if not subdomain:
            return None
        domain = settings.get("domain") or "zendesk.com"
        kind = "users" if object_name == "user" else "tickets"
        return f"https://{subdomain}.{domain}/agent/{kind}/{record_id}"
    if crm == "salesforce":
        instance = (settings.get("instance_url") or "").rstrip("/")
        if not instance:
            return None
        if not instance.startswith("http"):
            instance = f"https://{instance}"
        return f"{instance}/lightning/r/{object_name or 'Case'}/{record_id}/view"
    return None


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


@dataclass(frozen=True)
class Times:
    """Times for one principal: ISO for scripts, local text for people."""

    tz: ZoneInfo

    def __call__(self, moment: datetime | None) -> dict[str, str] | None:
        if moment is None:
            return None
        local = moment.astimezone(self.tz)
        return {"iso": iso(moment) or "", "local": f"{local:%a %d %b %H:%M} {local.tzname()}"}


def transcript_excerpt(transcript: Any) -> dict[str, Any] | None:
    """The last few lines of a transcript, each cut short: enough to see where it ended."""
    if not isinstance(transcript, list) or not transcript:
        return None
    lines = [t for t in transcript if isinstance(t, dict) and isinstance(t.get("text"), str)]
    shown = lines[-TRANSCRIPT_LINES:]
    return {
        "total": len(lines),
        "shown": len(shown),
        "lines": [
            {
                "from": str(t.get("from", "")),
                "text": t["text"]
                if len(t["text"]) <= TRANSCRIPT_CHARS
                else t["text"][: TRANSCRIPT_CHARS - 1] + "…",
            }
            for t in shown
        ],
    }
