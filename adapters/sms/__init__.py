"""SMS senders for outbound recovery: the hub's ``SmsSender`` port (entry point group ``cti_hub.outreach``).

    twilio.py    TwilioSms: the Twilio Messages API over requests (``twilio``)
    sandbox.py   SandboxSms: records messages, sends nothing (``sandbox``, with ``--sandbox``)

Settings (``CTIHUB_TWILIO_*``, prefix removed; secrets may come from ``*_FILE``): ``account_sid``,
``auth_token`` (or ``api_key_sid`` + ``api_key_secret``), ``from_number`` or
``messaging_service_sid``, ``status_callback_url`` (optional), ``api_base_url`` (tests).
"""

from __future__ import annotations

from .sandbox import SandboxSms
from .twilio import TwilioSettings, TwilioSms

__all__ = ["SandboxSms", "TwilioSettings", "TwilioSms"]
