"""deflection decisions

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deflection_decisions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=True),
        sa.Column("episode_id", sa.String(length=40), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("offers", sa.Text(), nullable=False),
        sa.Column("token_expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deflection_decisions")),
        sa.UniqueConstraint("jti", name=op.f("uq_deflection_decisions_jti")),
    )
    with op.batch_alter_table("deflection_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deflection_decisions_customer", ["customer_key", "decided_at"], unique=False
        )
        batch_op.create_index("ix_deflection_decisions_episode", ["episode_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deflection_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_deflection_decisions_episode")
        batch_op.drop_index("ix_deflection_decisions_customer")

    op.drop_table("deflection_decisions")
