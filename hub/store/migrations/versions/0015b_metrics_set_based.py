"""metrics rollup recomputed in SQL: contacts with integer times and their kind, offer facts, the
episode that took an offer, the /metrics counters as of the last tick; the rollup is rebuilt from
scratch on the next tick

(The indexes the tick and the /metrics scrape need on the SLA and recovery tables are in those
areas' branches: 0010b and 0009b.)

Revision ID: 0015b
Revises: 0015
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0015b"
down_revision = "0015"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _drop_rollup() -> None:
    op.drop_index("ix_metric_offers_pair", table_name="metric_offers")
    op.drop_index("ix_metric_offers_day", table_name="metric_offers")
    op.drop_table("metric_offers")
    op.drop_index("ix_metric_inquiries_pair", table_name="metric_inquiries")
    op.drop_index("ix_metric_inquiries_day", table_name="metric_inquiries")
    op.drop_table("metric_inquiries")
    op.drop_index("ix_metric_contacts_deflection_id", table_name="metric_contacts")
    op.drop_index("ix_metric_contacts_pair", table_name="metric_contacts")
    op.drop_table("metric_contacts")
    # the rollup is derived data: without its state row the next tick rebuilds it from the sources
    for table in ("metric_state", "metric_daily", "metric_dedup_seen"):
        op.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (our table names)


def upgrade() -> None:
    _drop_rollup()
    op.create_table(
        "metric_contacts",
        sa.Column("inbox_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("at_us", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("handled_by", sa.String(length=10), nullable=True),
        sa.Column("inbound", sa.Boolean(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("agent", sa.Boolean(), nullable=False),
        sa.Column("resolution", sa.Boolean(), nullable=False),
        sa.Column("deflection_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("inbox_id", name=op.f("pk_metric_contacts")),
    )
    op.create_index("ix_metric_contacts_pair", "metric_contacts", ["customer_key", "family", "at_us"])
    op.create_index("ix_metric_contacts_episode", "metric_contacts", ["episode_id"])
    op.create_index("ix_metric_contacts_deflection_id", "metric_contacts", ["deflection_id"])
    op.create_table(
        "metric_offer_facts",
        sa.Column("decision_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=True),
        sa.Column("decided_us", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("channels", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_metric_offer_facts")),
        sa.UniqueConstraint("jti", name=op.f("uq_metric_offer_facts_jti")),
    )
    op.create_index("ix_metric_offer_facts_pair", "metric_offer_facts", ["customer_key", "family"])
    op.create_table(
        "metric_inquiries",
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("agent", sa.Boolean(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("recontacted", sa.Boolean(), nullable=False),
        sa.Column("settles_us", sa.BigInteger(), nullable=False),
        sa.Column("offer_taken", sa.Boolean(), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("case_created", sa.Boolean(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("episode_id", name=op.f("pk_metric_inquiries")),
    )
    op.create_index("ix_metric_inquiries_day", "metric_inquiries", ["day"])
    op.create_index("ix_metric_inquiries_pair", "metric_inquiries", ["customer_key", "family"])
    op.create_index("ix_metric_inquiries_settles", "metric_inquiries", ["settles_us", "day"])
    op.create_table(
        "metric_offers",
        sa.Column("decision_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("taken", sa.Boolean(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("taken_episode", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_metric_offers")),
    )
    op.create_index("ix_metric_offers_day", "metric_offers", ["day"])
    op.create_index("ix_metric_offers_pair", "metric_offers", ["customer_key", "family"])
    op.create_table(
        "metric_ops_counts",
        sa.Column("family", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("family", "label", name=op.f("pk_metric_ops_counts")),
    )
    with op.batch_alter_table("metric_state") as batch:
        batch.add_column(sa.Column("ops_counted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("0015b: restore a backup taken before upgrading (the rollup is derived data)")
