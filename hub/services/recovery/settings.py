"""Recovery's settings (``CTIHUB_RECOVERY_*``) and the SMS sender its settings name."""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib.metadata import entry_points
from typing import Any

from hub.domain.errors import ConfigError, Problem
from hub.ports import OutreachConfig, SmsSender


@dataclass(frozen=True)
class RecoverySettings:
    """``CTIHUB_RECOVERY_*`` settings."""

    batch: int = 100  # CTIHUB_RECOVERY_BATCH: attempts claimed per transaction
    max_batches: int = 50  # CTIHUB_RECOVERY_MAX_BATCHES: per tick and phase
    lease_seconds: float = 120.0  # CTIHUB_RECOVERY_LEASE_SECONDS: a claim's hold on an attempt
    max_claims: int = 5  # CTIHUB_RECOVERY_MAX_CLAIMS: then the attempt is failed
    writeback_max_tries: int = 10  # CTIHUB_RECOVERY_WRITEBACK_MAX_TRIES
    missing_case_retry_seconds: float = 300.0  # CTIHUB_RECOVERY_MISSING_CASE_RETRY_SECONDS

    @classmethod
    def from_settings(cls, settings: Any) -> RecoverySettings:
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = settings.value(f"RECOVERY_{item.name.upper()}")
            if raw is None:
                continue
            try:
                number = float(raw)
            except ValueError:
                number = -1.0
            if number <= 0:
                raise ConfigError(
                    f"CTIHUB_RECOVERY_{item.name.upper()} must be a positive number",
                    [Problem(f"CTIHUB_RECOVERY_{item.name.upper()}", repr(raw))],
                )
            values[item.name] = int(number) if item.type in ("int", int) else number
        return cls(**values)


OUTREACH_GROUP = "cti_hub.outreach"
TWILIO_WEBHOOK_PATH = "/webhooks/twilio/sms"  # hub.web.channel_webhooks: inbound texts and statuses
TWILIO_SETTINGS = (
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "API_KEY_SID",
    "API_KEY_SECRET",
    "FROM_NUMBER",
    "MESSAGING_SERVICE_SID",
    "STATUS_CALLBACK_URL",
    "API_BASE_URL",
)


def status_callback_url(public_url: str | None) -> str | None:
    """Where Twilio posts a text's delivery statuses: the ``twilio-sms`` webhook under the hub's public
    base URL (``CTIHUB_PUBLIC_URL``, the URL Twilio signs), or None when it is not set."""
    if not public_url or not public_url.strip():
        return None
    return public_url.strip().rstrip("/") + TWILIO_WEBHOOK_PATH


def build_sender(settings: Any) -> SmsSender | None:
    """The SMS sender: the sandbox's with ``--sandbox``, Twilio when ``CTIHUB_TWILIO_ACCOUNT_SID`` is
    set, otherwise None (SMS attempts are then blocked with ``sms_not_configured``). Twilio is asked
    for delivery statuses (``StatusCallback``) at ``CTIHUB_TWILIO_STATUS_CALLBACK_URL``, or else at
    the ``twilio-sms`` webhook under ``CTIHUB_PUBLIC_URL``; with neither, none are sent."""
    if settings.sandbox:
        name, values = "sandbox", {}
    elif settings.value("TWILIO_ACCOUNT_SID"):
        name = "twilio"
        values = {key.lower(): settings.value(f"TWILIO_{key}") for key in TWILIO_SETTINGS}
        values = {key: value for key, value in values.items() if value}
        callback = status_callback_url(settings.value("PUBLIC_URL"))
        if callback and "status_callback_url" not in values:
            values["status_callback_url"] = callback
    else:
        return None
    found = {ep.name: ep for ep in entry_points(group=OUTREACH_GROUP)}
    if name not in found:
        raise ConfigError(f"no {OUTREACH_GROUP} plugin named {name!r} (is cti-hub installed?)")
    factory = found[name].load()
    return factory(  # type: ignore[no-any-return]
        OutreachConfig(
            settings=values,
            connect_timeout=settings.crm_connect_timeout,
            read_timeout=settings.crm_read_timeout,
        )
    )
