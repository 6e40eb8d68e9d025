"""SLA field writes: each case's mapped SLA due/status fields, wanted and last written

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_field_writes",
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("wanted", sa.Text(), nullable=False),
        sa.Column("wanted_at", sa.DateTime(), nullable=False),
        sa.Column("written", sa.Text(), nullable=True),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.Column("written_by", sa.String(length=10), nullable=True),
        sa.Column("case_id", sa.String(length=100), nullable=True),
        sa.Column("pending", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("episode_id", "crm", name=op.f("pk_sla_field_writes")),
    )
    with op.batch_alter_table("sla_field_writes", schema=None) as batch_op:
        batch_op.create_index("ix_sla_field_writes_pending", ["pending", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_field_writes", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_field_writes_pending")
    op.drop_table("sla_field_writes")
