"""Salesforce adapter: the hub's ``CRM`` port on simple-salesforce (entry point ``salesforce``).

    client.py   settings, the session with our timeouts, the lazy connection
    crm.py      SalesforceCRM: upserts by External ID for cases and tasks
    errors.py   the one table from (HTTP status, errorCode) to the hub's CrmError classes
    repair.py   SalesforceRepair: parallel Cases by SOQL, parented (and closed) (``ctihub dedup``)

Settings (``CTIHUB_SALESFORCE_*``, prefix removed): ``instance_url`` + ``access_token`` (a session
id), optional ``api_version`` (default 59.0). ``username`` + ``password`` + ``security_token``
(optional ``domain`` login/test) still work but log a warning. JWT bearer and client credentials are
not offered yet.
"""

from __future__ import annotations

import logging

from hub.ports import AdapterConfig

from .client import SalesforceSettings
from .crm import DEFAULT_CASE_KEY_FIELD, DEFAULT_CASE_OBJECT, SalesforceCRM
from .repair import SalesforceRepair, intent_field

__all__ = ["SalesforceCRM", "SalesforceRepair", "SalesforceSettings", "build_crm", "build_repair"]

log = logging.getLogger(__name__)


def build_crm(config: AdapterConfig) -> SalesforceCRM:
    """The adapter for ``config``; checks the settings (ConfigError) but sends nothing."""
    settings = SalesforceSettings.from_settings(config.settings)
    if settings.legacy_login:
        log.warning(
            "Salesforce: username/password login is a legacy path; set CTIHUB_SALESFORCE_ACCESS_TOKEN "
            "and CTIHUB_SALESFORCE_INSTANCE_URL instead"
        )
    return SalesforceCRM(
        settings,
        config.mapping,
        session=config.session,
        timeout=(config.connect_timeout, config.read_timeout),
    )


def build_repair(config: AdapterConfig) -> SalesforceRepair:
    """The ``CaseRepair`` for ``config`` (entry point group ``cti_hub.repair``); sends nothing.

    ``dedup_closed_status`` (``CTIHUB_SALESFORCE_DEDUP_CLOSED_STATUS``) is the status a merged
    duplicate gets; ``dedup_intent_field`` overrides the intent field found in the mapping.
    """
    case = getattr(config.mapping, "case", None)
    return SalesforceRepair(
        SalesforceSettings.from_settings(config.settings),
        case_object=getattr(case, "object", None) or DEFAULT_CASE_OBJECT,
        key_field=getattr(case, "key_field", None) or DEFAULT_CASE_KEY_FIELD,
        intent_field=intent_field(config.mapping, config.settings),
        closed_status=(config.settings.get("dedup_closed_status") or "").strip() or None,
        session=config.session,
        timeout=(config.connect_timeout, config.read_timeout),
    )
