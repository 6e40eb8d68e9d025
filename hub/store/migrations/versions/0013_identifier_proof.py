"""Customer identifiers: how each was proven (carrier, platform, verified, asserted)

Existing rows were all joined on as proven: they become ``verified``, which keeps their behaviour.

Revision ID: 0013
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("proof", sa.String(length=16), nullable=False, server_default="verified")
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.drop_column("proof")
