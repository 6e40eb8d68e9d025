"""SLA history, derived clocks and actions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sla_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("merged_into", sa.String(length=40), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("intent", sa.String(length=100), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("crm", sa.String(length=20), nullable=True),
        sa.Column("tier", sa.String(length=64), nullable=True),
        sa.Column("event_key", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("applied", sa.Text(), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_events")),
        sa.UniqueConstraint("event_key", name=op.f("uq_sla_events_event_key")),
    )
    with op.batch_alter_table("sla_events", schema=None) as batch_op:
        batch_op.create_index("ix_sla_events_episode", ["episode_id", "at"], unique=False)
        batch_op.create_index("ix_sla_events_unassigned", ["assigned_at"], unique=False)
        batch_op.create_index("ix_sla_events_merged_into", ["merged_into"], unique=False)

    op.create_table(
        "sla_clocks",
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=False),
        sa.Column("target_minutes", sa.Float(), nullable=False),
        sa.Column("business_hours", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("warn_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("breached_at", sa.DateTime(), nullable=True),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("episode_id", "metric", name=op.f("pk_sla_clocks")),
    )
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.create_index("ix_sla_clocks_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_sla_clocks_warn", ["status", "warn_at"], unique=False)

    op.create_table(
        "sla_actions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("breached_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("case_id", sa.String(length=100), nullable=True),
        sa.Column("activity_id", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_actions")),
        sa.UniqueConstraint("key", name=op.f("uq_sla_actions_key")),
    )
    with op.batch_alter_table("sla_actions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_sla_actions_once", ["episode_id", "metric", "instance", "kind"], unique=True
        )
        batch_op.create_index("ix_sla_actions_pending", ["done_at", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_actions_pending")
        batch_op.drop_index("uq_sla_actions_once")
    op.drop_table("sla_actions")

    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_clocks_warn")
        batch_op.drop_index("ix_sla_clocks_due")
    op.drop_table("sla_clocks")

    with op.batch_alter_table("sla_events", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_events_merged_into")
        batch_op.drop_index("ix_sla_events_unassigned")
        batch_op.drop_index("ix_sla_events_episode")
    op.drop_table("sla_events")
