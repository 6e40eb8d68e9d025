"""metrics rollup: contacts, inquiries, offers, daily sums, state; inbox index on linked_at

Revision ID: 0015
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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


def upgrade() -> None:
    op.create_table(
        "metric_contacts",
        sa.Column("inbox_id", BIG_ID, autoincrement=False, nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("family", sa.String(length=100), nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("handled_by", sa.String(length=10), nullable=True),
        sa.Column("inbound", sa.Boolean(), nullable=False),
        sa.Column("deflection_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("inbox_id", name=op.f("pk_metric_contacts")),
    )
    op.create_index("ix_metric_contacts_pair", "metric_contacts", ["customer_key", "family"])
    op.create_index("ix_metric_contacts_deflection_id", "metric_contacts", ["deflection_id"])
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
        sa.Column("settles_at", sa.DateTime(), nullable=False),
        sa.Column("offer_taken", sa.Boolean(), nullable=False),
        sa.Column("sla_breached", sa.Boolean(), nullable=False),
        sa.Column("case_created", sa.Boolean(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("contacts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("episode_id", name=op.f("pk_metric_inquiries")),
    )
    op.create_index("ix_metric_inquiries_day", "metric_inquiries", ["day"])
    op.create_index("ix_metric_inquiries_pair", "metric_inquiries", ["customer_key", "family"])
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
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_metric_offers")),
    )
    op.create_index("ix_metric_offers_day", "metric_offers", ["day"])
    op.create_index("ix_metric_offers_pair", "metric_offers", ["customer_key", "family"])
    op.create_table(
        "metric_daily",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        *(sa.Column(name, sa.Integer(), server_default="0", nullable=False) for name in COUNTS),
        sa.PrimaryKeyConstraint("day", "channel", "intent", "crm", name=op.f("pk_metric_daily")),
    )
    op.create_table(
        "metric_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recontact_window_hours", sa.Float(), nullable=False),
        sa.Column("linked_through", sa.DateTime(), nullable=True),
        sa.Column("decisions_through", BIG_ID, server_default="0", nullable=False),
        sa.Column("sla_through", sa.DateTime(), nullable=True),
        sa.Column("sla_actions_through", BIG_ID, server_default="0", nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_state")),
    )
    op.create_table(
        "metric_dedup_seen",
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("duplicate_id", sa.String(length=100), nullable=False),
        sa.Column("master_id", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("crm", "duplicate_id", name=op.f("pk_metric_dedup_seen")),
    )
    op.create_index("ix_inbox_linked_at", "inbox", ["linked_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_linked_at", table_name="inbox")
    for table in ("metric_dedup_seen", "metric_state", "metric_daily"):
        op.drop_table(table)
    op.drop_index("ix_metric_offers_pair", table_name="metric_offers")
    op.drop_index("ix_metric_offers_day", table_name="metric_offers")
    op.drop_table("metric_offers")
    op.drop_index("ix_metric_inquiries_pair", table_name="metric_inquiries")
    op.drop_index("ix_metric_inquiries_day", table_name="metric_inquiries")
    op.drop_table("metric_inquiries")
    op.drop_index("ix_metric_contacts_deflection_id", table_name="metric_contacts")
    op.drop_index("ix_metric_contacts_pair", table_name="metric_contacts")
    op.drop_table("metric_contacts")
