"""The sandbox CRM: an in-process fake of the Salesforce REST and Zendesk Support API subsets we use.

It speaks the real paths, status codes, response shapes and error bodies (modeled on the recorded
traffic in ``fixtures/``), keeps its records in the hub's database, and lets the real client
libraries talk to it unchanged::

    from adapters.sandbox import Sandbox, SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL

    sb = Sandbox(engine)          # no I/O
    sb.ensure_schema()            # sandbox_* tables, idempotent

    sf = simple_salesforce.Salesforce(instance_url=SALESFORCE_INSTANCE_URL, session_id="sandbox",
                                      session=sb.session())
    zd = zenpy.Zenpy(subdomain="sandbox", email="agent@example.com", token="t", session=sb.session())
    # zenpy builds https://sandbox.zendesk.com/api/v2/... from the subdomain (default domain
    # "zendesk.com") and sets ``auth`` on the session it is given: give every client its own
    # ``sb.session()``. zenpy 2.0.57 has no ``raise_on_ratelimit``: on a 429 it sleeps out
    # Retry-After unless ``ratelimit_budget`` is set (``ratelimit_budget=1`` makes it raise
    # ``RatelimitBudgetExceeded`` at once). ``disable_cache=True`` stops it answering reads from
    # its own object cache.

    app.register_blueprint(sb.blueprint(), url_prefix="/sandbox")
    # curl -H 'Authorization: Bearer x' .../sandbox/salesforce/services/data/v59.0/sobjects/Case/describe
    # curl -u a@b.c/token:x .../sandbox/zendesk/api/v2/tickets.json

Test helpers: ``sb.reset()``, ``sb.records("salesforce", "Case")``, ``sb.request_log`` /
``sb.clear_log()``, ``sb.faults.add(...)`` (see ``faults``), ``sb.latency_seconds`` with ``sb.sleep``,
``sb.strict_zendesk_fields``, ``sb.zendesk.displays`` (Talk screen pops received).

Module map: ``schema`` (objects, fields, ticket fields), ``store`` (tables, transactions),
``salesforce`` / ``soql`` / ``zendesk`` (the APIs), ``faults``, ``app`` (blueprint), ``transport``
(requests adapter), ``core`` (``Sandbox``).

Caveat: the transport runs the sandbox in the caller's thread. On SQLite, a caller that holds a
write transaction on the same database while calling the sandbox will wait on its own lock.
"""

from .core import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL, ZENDESK_SUBDOMAIN, Sandbox
from .faults import Fault, Faults

__all__ = ["SALESFORCE_INSTANCE_URL", "ZENDESK_BASE_URL", "ZENDESK_SUBDOMAIN", "Fault", "Faults", "Sandbox"]
