"""Zendesk adapter: the hub's ``CRM`` port on zenpy (entry point ``zendesk``).

    client.py   settings, the session with our auth and timeouts, the lazy zenpy client
    crm.py      ZendeskCRM: tickets by external_id + Idempotency-Key, marked private comments
    errors.py   the one table from (HTTP status, Zendesk error) to the hub's CrmError classes

Settings (``CTIHUB_ZENDESK_*``, prefix removed): ``subdomain``; ``email`` + ``api_token``, or
``oauth_token``; optional ``domain`` (default zendesk.com).
"""

from __future__ import annotations

from hub.ports import AdapterConfig

from .client import ZendeskSettings
from .crm import ZendeskCRM

__all__ = ["ZendeskCRM", "ZendeskSettings", "build_crm"]


def build_crm(config: AdapterConfig) -> ZendeskCRM:
    """The adapter for ``config``; checks the settings (ConfigError) but sends nothing."""
    return ZendeskCRM(
        ZendeskSettings.from_settings(config.settings),
        config.mapping,
        session=config.session,
        timeout=(config.connect_timeout, config.read_timeout),
    )
