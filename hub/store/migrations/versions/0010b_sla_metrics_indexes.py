"""sla: indexes for the metrics rollup's tick (clocks recomputed since) and the /metrics scrape
(actions counted by kind, index-only)

Revision ID: 0010b
Revises: 0010
Create Date: 2026-12-07
"""

from alembic import op

revision = "0010b"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sla_clocks_computed", "sla_clocks", ["computed_at"])
    op.create_index("ix_sla_actions_kind", "sla_actions", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_sla_actions_kind", table_name="sla_actions")
    op.drop_index("ix_sla_clocks_computed", table_name="sla_clocks")
