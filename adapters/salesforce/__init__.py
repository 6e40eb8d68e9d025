"""Salesforce adapter: the hub's ``CRM`` port on simple-salesforce (entry point ``salesforce``).

    auth.py     token sources: JWT bearer (authlib), client credentials (My Domain), legacy password
    client.py   settings, the session with our timeouts (and Sforce-Limit-Info), the client
    crm.py      SalesforceCRM: one Composite round trip per outcome, upserts by External ID,
                quota pause, in-call retries, ``status()``, ``describe_objects()``
    errors.py   the one table from (HTTP status, errorCode) to the hub's CrmError classes
    repair.py   SalesforceRepair: parallel Cases by SOQL, parented (and closed) (``ctihub dedup``)

Settings (``CTIHUB_SALESFORCE_*``, prefix removed; any of them may come from a ``*_FILE``):

    auth                jwt | client_credentials | password | access_token (default: from what is set)
    jwt                 consumer_key, username, private_key (PEM) or private_key_file,
                        login_url (https://login.salesforce.com, https://test.salesforce.com or the My
                        Domain; default from ``domain`` login/test), jwt_audience (default: login host)
    client_credentials  consumer_key, consumer_secret, login_url = the My Domain URL (login/test refused)
    password            username, password, security_token, domain (legacy: logs a warning once)
    access_token        access_token (a session id) + instance_url
    api_version         default 59.0 (46.0 at least); session_seconds (token reuse, default 3600);
                        retry_attempts (default 3), retry_max_wait (default 5 s) for in-call retries

Code serving a web request must call ``crm.without_retries()``: nothing then waits inside a call.
"""

from __future__ import annotations

from hub.ports import AdapterConfig

from .auth import warn_legacy_login
from .client import SalesforceSettings
from .crm import DEFAULT_CASE_KEY_FIELD, DEFAULT_CASE_OBJECT, SalesforceCRM
from .repair import SalesforceRepair, intent_field

__all__ = ["SalesforceCRM", "SalesforceRepair", "SalesforceSettings", "build_crm", "build_repair"]


def build_crm(config: AdapterConfig) -> SalesforceCRM:
    """The adapter for ``config``; checks the settings (ConfigError) but sends nothing."""
    settings = SalesforceSettings.from_settings(config.settings)
    if settings.legacy_login:
        warn_legacy_login(settings.username)
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
