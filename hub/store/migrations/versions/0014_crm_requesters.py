"""crm requesters: a customer's CRM user (Zendesk requester) adopted or made, and its claim

Revision ID: 0014
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_requesters",
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("how", sa.String(length=20), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("crm", "customer_key", name=op.f("pk_crm_requesters")),
    )


def downgrade() -> None:
    op.drop_table("crm_requesters")
