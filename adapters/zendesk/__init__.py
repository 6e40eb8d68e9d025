"""Zendesk adapter: the hub's ``CRM`` port on zenpy (entry point ``zendesk``).

    client.py   settings, the session with our auth and timeouts (raises on 429), the zenpy client
    crm.py      ZendeskCRM: tickets by external_id + Idempotency-Key, marked private comments,
                in-call retries, screen pop (``display_ticket``/``display_user``), ``ticket_fields``,
                ``status()``
    errors.py   the one table from (HTTP status, Zendesk error) to the hub's CrmError classes
    repair.py   ZendeskRepair: parallel tickets by search, merged or linked (``ctihub dedup``)

Settings (``CTIHUB_ZENDESK_*``, prefix removed; any of them may come from a ``*_FILE``):
``subdomain``; ``email`` + ``api_token`` (Basic ``email/token``), or ``oauth_token`` (Bearer);
optional ``domain`` (default zendesk.com), ``retry_attempts`` (default 3) and ``retry_max_wait``
(default 5 s) for in-call retries.

Code serving a web request (the agent panel's screen pop) must call ``crm.without_retries()``:
nothing then waits inside a call.
"""

from __future__ import annotations

from hub.ports import AdapterConfig

from .client import ZendeskSettings
from .crm import ZendeskCRM
from .repair import ZendeskRepair, intent_field_id

__all__ = ["ZendeskCRM", "ZendeskRepair", "ZendeskSettings", "build_crm", "build_repair"]


def build_crm(config: AdapterConfig) -> ZendeskCRM:
    """The adapter for ``config``; checks the settings (ConfigError) but sends nothing."""
    return ZendeskCRM(
        ZendeskSettings.from_settings(config.settings),
        config.mapping,
        session=config.session,
        timeout=(config.connect_timeout, config.read_timeout),
        requesters=config.requesters,
    )


def build_repair(config: AdapterConfig) -> ZendeskRepair:
    """The ``CaseRepair`` for ``config`` (entry point group ``cti_hub.repair``); sends nothing."""
    return ZendeskRepair(
        ZendeskSettings.from_settings(config.settings),
        intent_field=intent_field_id(config.mapping, config.settings),
        session=config.session,
        timeout=(config.connect_timeout, config.read_timeout),
    )
