"""recovery: an index for the /metrics scrape (blocked and cancelled attempts counted by reason,
index-only)

Revision ID: 0009b
Revises: 0009
Create Date: 2026-12-07
"""

from alembic import op

revision = "0009b"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_recovery_attempts_status_reason", "recovery_attempts", ["status", "reason"])


def downgrade() -> None:
    op.drop_index("ix_recovery_attempts_status_reason", table_name="recovery_attempts")
