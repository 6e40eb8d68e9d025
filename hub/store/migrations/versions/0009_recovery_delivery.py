"""recovery: Twilio delivery statuses of recovery texts; attempts found by their provider id

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_sms_status",
        sa.Column("message_sid", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=10), nullable=True),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("message_sid", name=op.f("pk_recovery_sms_status")),
    )
    with op.batch_alter_table("recovery_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_attempts_provider", ["provider_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recovery_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_recovery_attempts_provider")
    op.drop_table("recovery_sms_status")
