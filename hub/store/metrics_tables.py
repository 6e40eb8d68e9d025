"""The metrics area's tables: a rollup of the deflection metrics that the scheduler keeps current.

metric_contacts    one row per linked event: the facts the definitions read (from its payload),
                   its time also as integer microseconds since the epoch (``at_us``: exact window
                   arithmetic in SQL on every backend) and its kind (automated, agent, resolution)
metric_offer_facts one row per deflection decision: its customer, family and offered channels
metric_inquiries   one row per episode (inquiry), recomputed in SQL (hub.store.metrics_recompute)
                   whenever a fact about its customer and intent family arrives
metric_offers      one row per deflection decision: taken (in which episode), failed
metric_daily       the sums per day x channel x intent x CRM that the API and dashboard read;
                   a day is re-summed when one of its rows changed or one of its inquiries
                   settled since the last tick
metric_state       the rollup's watermarks, the R it was computed with, and when
metric_dedup_seen  the dedup links the rollup has counted (to notice new links and undos)
metric_ops_counts  the /metrics counters that grow with the rows stored, as of the last tick
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, PrimaryKeyConstraint, String, Table

from hub.store.tables import BigId, UTCDateTime, metadata

metric_contacts = Table(
    "metric_contacts",
    metadata,
    Column("inbox_id", BigId, primary_key=True, autoincrement=False),
    Column("customer_key", String(40), nullable=False),
    Column("family", String(100), nullable=False),
    Column("episode_id", String(40), nullable=False),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("at_us", BigInteger, nullable=False),  # occurred_at in microseconds since the epoch
    Column("day", String(10), nullable=False),  # UTC date of occurred_at
    Column("channel", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("intent", String(100), nullable=False),
    Column("handled_by", String(10)),
    Column("inbound", Boolean, nullable=False),
    Column("automated", Boolean, nullable=False),  # hub.domain.deflection_metrics.is_automated
    Column("agent", Boolean, nullable=False),  # ... is_agent
    Column("resolution", Boolean, nullable=False),  # ... is_automated_resolution
    Column("deflection_id", String(64)),
    Index("ix_metric_contacts_pair", "customer_key", "family", "at_us"),
    Index("ix_metric_contacts_episode", "episode_id"),
    Index("ix_metric_contacts_deflection_id", "deflection_id"),
)

metric_offer_facts = Table(
    "metric_offer_facts",
    metadata,
    Column("decision_id", BigId, primary_key=True, autoincrement=False),
    Column("jti", String(64), nullable=False, unique=True),
    Column("customer_key", String(40), nullable=False),  # "" when the caller was not known
    Column("family", String(100), nullable=False),
    Column("episode_id", String(40)),
    Column("decided_us", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("intent", String(100), nullable=False),
    Column("channel", String(20), nullable=False),  # the first digital channel offered, else voice
    Column("channels", String(200), nullable=False),  # the digital channels offered: ",chat,sms,"
    Index("ix_metric_offer_facts_pair", "customer_key", "family"),
)

metric_inquiries = Table(
    "metric_inquiries",
    metadata,
    Column("episode_id", String(40), primary_key=True),
    Column("customer_key", String(40), nullable=False),
    Column("family", String(100), nullable=False),
    Column("day", String(10), nullable=False),  # UTC date of the first contact
    Column("channel", String(20), nullable=False),  # of the first contact
    Column("intent", String(100), nullable=False),  # of the first contact
    Column("crm", String(20), nullable=False),  # "" when no case/ticket is recorded
    Column("first_at", UTCDateTime(), nullable=False),
    Column("automated", Boolean, nullable=False),
    Column("agent", Boolean, nullable=False),
    Column("resolved", Boolean, nullable=False),  # an automated resolution
    Column("recontacted", Boolean, nullable=False),  # ... followed by a contact within R
    Column("settles_us", BigInteger, nullable=False),  # pending until then (epoch microseconds)
    Column("offer_taken", Boolean, nullable=False),
    Column("sla_breached", Boolean, nullable=False),
    Column("case_created", Boolean, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("contacts", Integer, nullable=False),
    Index("ix_metric_inquiries_day", "day"),
    Index("ix_metric_inquiries_pair", "customer_key", "family"),
    Index("ix_metric_inquiries_settles", "settles_us", "day"),  # the days a tick's time settles
)

metric_offers = Table(
    "metric_offers",
    metadata,
    Column("decision_id", BigId, primary_key=True, autoincrement=False),
    Column("customer_key", String(40), nullable=False),  # "" when the caller was not known
    Column("family", String(100), nullable=False),
    Column("day", String(10), nullable=False),
    Column("channel", String(20), nullable=False),  # the first digital channel offered
    Column("intent", String(100), nullable=False),
    Column("taken", Boolean, nullable=False),
    Column("failed", Boolean, nullable=False),
    Column("taken_episode", String(40)),  # the episode of the contact that took it
    Index("ix_metric_offers_day", "day"),
    Index("ix_metric_offers_pair", "customer_key", "family"),
)

COUNTS = (
    "inquiries",
    "automated",
    "automated_resolutions",
    "contained",
    "pending",
    "settled",
    "held",
    "resolutions_settled",
    "recontacted",
    "cases_created",
    "duplicates",
    "offers",
    "offers_taken",
    "offers_failed",
    "offer_inquiries",
    "offer_breached",
    "other_inquiries",
    "other_breached",
    "contacts",
)

metric_daily = Table(
    "metric_daily",
    metadata,
    Column("day", String(10), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("intent", String(100), nullable=False),
    Column("crm", String(20), nullable=False),
    *(Column(name, Integer, nullable=False, server_default="0") for name in COUNTS),
    PrimaryKeyConstraint("day", "channel", "intent", "crm"),
)

metric_state = Table(
    "metric_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("recontact_window_hours", Float, nullable=False),
    Column("linked_through", UTCDateTime()),
    Column("decisions_through", BigId, nullable=False, server_default="0"),
    Column("sla_through", UTCDateTime()),
    Column("sla_actions_through", BigId, nullable=False, server_default="0"),
    Column("as_of", UTCDateTime()),
    Column("ops_counted_at", UTCDateTime()),  # when metric_ops_counts was last taken
)

# The /metrics counters that grow with what is stored (SLA actions by kind, recovery attempts by
# status, blocks by reason), counted by the rollup's tick so that a scrape reads a few rows
# (hub.store.ops_counts; a scrape counts live when the snapshot is older than a few minutes).
metric_ops_counts = Table(
    "metric_ops_counts",
    metadata,
    Column("family", String(40), nullable=False),
    Column("label", String(100), nullable=False),
    Column("value", BigInteger, nullable=False),
    PrimaryKeyConstraint("family", "label"),
)

metric_dedup_seen = Table(
    "metric_dedup_seen",
    metadata,
    Column("crm", String(20), nullable=False),
    Column("duplicate_id", String(100), nullable=False),
    Column("master_id", String(100), nullable=False),
    PrimaryKeyConstraint("crm", "duplicate_id"),
)
