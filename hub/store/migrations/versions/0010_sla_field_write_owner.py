"""SLA field writes: who holds a claim, so only its holder writes, finishes or retries it

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_field_writes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sla_field_writes", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
