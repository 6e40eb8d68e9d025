"""Identity proof and retention: how each customer identifier was proven; when raw payloads and
webhook bodies were purged (with partial indexes over what is still to purge)

Existing identifier rows were all joined on as proven: they become ``verified``, which keeps their
behaviour.

Revision ID: 0013
Revises: 0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0004"  # customer_identifiers and inbox (0001, 0002 before it), webhook_deliveries (0004)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("proof", sa.String(length=16), nullable=False, server_default="verified")
        )
    for table in ("inbox", "webhook_deliveries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_inbox_unpurged",
        "inbox",
        ["received_at"],
        unique=False,
        sqlite_where=sa.text("purged_at IS NULL"),
        postgresql_where=sa.text("purged_at IS NULL"),
    )
    op.create_index(
        "ix_webhook_deliveries_unpurged",
        "webhook_deliveries",
        ["received_at"],
        unique=False,
        sqlite_where=sa.text("purged_at IS NULL"),
        postgresql_where=sa.text("purged_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_unpurged", table_name="webhook_deliveries")
    op.drop_index("ix_inbox_unpurged", table_name="inbox")
    for table in ("webhook_deliveries", "inbox"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("purged_at")
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.drop_column("proof")
