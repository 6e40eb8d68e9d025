"""panel: disposition corrections, agent actions, and the indexes the panel's reads need

Revision ID: 0012
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0005"  # dedup's tables are indexed here; inbox and episode_cases come from 0001
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "disposition_corrections",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("inbox_id", _big_id(), nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("original_code", sa.String(length=100), nullable=True),
        sa.Column("corrected_code", sa.String(length=100), nullable=False),
        sa.Column("corrected_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_corrections")),
    )
    op.create_index(
        "ix_disposition_corrections_inbox", "disposition_corrections", ["inbox_id", "id"], unique=False
    )
    op.create_index(
        "ix_disposition_corrections_episode", "disposition_corrections", ["episode_id", "id"], unique=False
    )
    op.create_table(
        "panel_actions",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("record_id", sa.String(length=100), nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_panel_actions")),
        sa.UniqueConstraint("action_id", name=op.f("uq_panel_actions_action_id")),
    )
    op.create_index("ix_panel_actions_episode", "panel_actions", ["episode_id", "id"], unique=False)
    op.create_index("ix_episode_cases_record", "episode_cases", ["crm", "case_id"], unique=False)
    op.create_index("ix_inbox_episode", "inbox", ["episode_id", "id"], unique=False)
    op.create_index("ix_ambiguous_matches_assigned", "ambiguous_matches", ["assigned_key"], unique=False)
    op.create_index("ix_dedup_links_master", "dedup_links", ["crm", "master_id"], unique=False)
    op.create_index("ix_dedup_audit_customer", "dedup_audit", ["customer_key", "intent_family"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dedup_audit_customer", table_name="dedup_audit")
    op.drop_index("ix_dedup_links_master", table_name="dedup_links")
    op.drop_index("ix_ambiguous_matches_assigned", table_name="ambiguous_matches")
    op.drop_index("ix_inbox_episode", table_name="inbox")
    op.drop_index("ix_episode_cases_record", table_name="episode_cases")
    op.drop_index("ix_panel_actions_episode", table_name="panel_actions")
    op.drop_table("panel_actions")
    op.drop_index("ix_disposition_corrections_episode", table_name="disposition_corrections")
    op.drop_index("ix_disposition_corrections_inbox", table_name="disposition_corrections")
    op.drop_table("disposition_corrections")
