"""``/webhooks/<source>``: the channel platforms' own webhooks (Twilio, Zendesk, Sunshine, Salesforce)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("channel_webhooks", __name__, url_prefix="/webhooks")
