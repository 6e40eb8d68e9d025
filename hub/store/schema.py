"""Every table of the hub, for migrations and tests: each area's tables module is imported here."""

import hub.store.config_tables  # config_versions, config_audit
import hub.store.dedup_tables  # case_claims, ambiguous_matches, dedup_audit, ...
import hub.store.deflection_tables  # deflection_decisions
import hub.store.leases  # leases (the scheduler's leadership)
import hub.store.metrics_tables  # metric_contacts, metric_inquiries, metric_daily, ...
import hub.store.panel_tables  # disposition_corrections, panel_actions
import hub.store.recovery_tables  # recovery_plans, recovery_attempts, recovery_audit, ...
import hub.store.requester_tables  # crm_requesters
import hub.store.sla_tables  # sla_events, sla_clocks, sla_actions
import hub.store.webhook_tables  # noqa: F401  (webhook_deliveries)
from hub.store.tables import metadata

__all__ = ["metadata"]
