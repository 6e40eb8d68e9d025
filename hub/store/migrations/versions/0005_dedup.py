"""dedup: case-creation claims, ambiguous matches, shared identifiers, duplicate links, audit log

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None


def _big_id() -> sa.types.TypeEngine:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "case_claims",
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("inbox_id", _big_id(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("takeovers", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("episode_id", "crm", name=op.f("pk_case_claims")),
    )
    op.create_table(
        "ambiguous_matches",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("event_ref", sa.String(length=310), nullable=False),
        sa.Column("inbox_id", _big_id(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("assigned_key", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("resolved_key", sa.String(length=40), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ambiguous_matches")),
        sa.UniqueConstraint("event_ref", name=op.f("uq_ambiguous_matches_event_ref")),
    )
    with op.batch_alter_table("ambiguous_matches", schema=None) as batch_op:
        batch_op.create_index("ix_ambiguous_matches_open", ["resolved_at", "at"], unique=False)

    op.create_table(
        "shared_identifiers",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("noted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_shared_identifiers")),
    )
    op.create_table(
        "dedup_links",
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("duplicate_id", sa.String(length=100), nullable=False),
        sa.Column("master_id", sa.String(length=100), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("crm", "duplicate_id", name=op.f("pk_dedup_links")),
    )
    with op.batch_alter_table("dedup_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dedup_links_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "dedup_audit",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("intent_family", sa.String(length=100), nullable=False),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("master_id", sa.String(length=100), nullable=False),
        sa.Column("duplicate_ids", sa.Text(), nullable=False),
        sa.Column("irreversible", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), server_default="{}", nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dedup_audit")),
    )
    with op.batch_alter_table("dedup_audit", schema=None) as batch_op:
        batch_op.create_index("ix_dedup_audit_plan", ["plan_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dedup_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_dedup_audit_plan")
    op.drop_table("dedup_audit")
    with op.batch_alter_table("dedup_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dedup_links_plan_id"))
    op.drop_table("dedup_links")
    op.drop_table("shared_identifiers")
    with op.batch_alter_table("ambiguous_matches", schema=None) as batch_op:
        batch_op.drop_index("ix_ambiguous_matches_open")
    op.drop_table("ambiguous_matches")
    op.drop_table("case_claims")
