"""recovery: plans, attempts, customer lock rows, episode facts, audit trail, CRM write-back outbox

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _partial(condition: str) -> dict[str, sa.TextClause]:
    return {"sqlite_where": sa.text(condition), "postgresql_where": sa.text(condition)}


def upgrade() -> None:
    op.create_table(
        "recovery_plans",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("trigger_key", sa.String(length=40), nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("postal_state", sa.String(length=10), nullable=True),
        sa.Column("customer_name", sa.String(length=200), nullable=True),
        sa.Column("external_ids", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=True),
        sa.Column("steps", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Integer(), server_default="0", nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("planned_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_plans")),
        sa.UniqueConstraint("trigger_key", name=op.f("uq_recovery_plans_trigger_key")),
    )
    with op.batch_alter_table("recovery_plans", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_plans_episode", ["episode_id", "status"], unique=False)
        batch_op.create_index(
            "ix_recovery_plans_recorded", ["id"], unique=False, **_partial("status = 'recorded'")
        )

    op.create_table(
        "recovery_attempts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("planned_for", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("claims", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reschedules", sa.Integer(), server_default="0", nullable=False),
        sa.Column("send_started", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("touched_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("case_id", sa.String(length=100), nullable=True),
        sa.Column("activity_id", sa.String(length=100), nullable=True),
        sa.Column("guards", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_attempts")),
        sa.UniqueConstraint("key", name=op.f("uq_recovery_attempts_key")),
    )
    with op.batch_alter_table("recovery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            "uq_recovery_attempts_live",
            ["episode_id"],
            unique=True,
            **_partial("status IN ('pending', 'claimed')"),
        )
        batch_op.create_index(
            "ix_recovery_attempts_due", ["due_at"], unique=False, **_partial("status = 'pending'")
        )
        batch_op.create_index(
            "ix_recovery_attempts_claimed", ["lease_until"], unique=False, **_partial("status = 'claimed'")
        )
        batch_op.create_index("ix_recovery_attempts_status", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_recovery_attempts_episode", ["episode_id", "status"], unique=False)
        batch_op.create_index("ix_recovery_attempts_touches", ["customer_key", "touched_at"], unique=False)
        batch_op.create_index("ix_recovery_attempts_plan", ["plan_id", "step"], unique=False)

    op.create_table(
        "recovery_customers",
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_key", name=op.f("pk_recovery_customers")),
    )

    op.create_table(
        "recovery_episodes",
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("last_contact_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("episode_id", name=op.f("pk_recovery_episodes")),
    )

    op.create_table(
        "recovery_audit",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=True),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=60), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("guards", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_audit")),
    )
    with op.batch_alter_table("recovery_audit", schema=None) as batch_op:
        batch_op.create_index("ix_recovery_audit_attempt", ["attempt_id", "id"], unique=False)
        batch_op.create_index("ix_recovery_audit_episode", ["episode_id", "id"], unique=False)

    op.create_table(
        "recovery_writebacks",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("attempt_id", BIG_ID, nullable=False),
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("disposition", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("tries", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(length=100), nullable=True),
        sa.Column("activity_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_writebacks")),
        sa.UniqueConstraint("key", name=op.f("uq_recovery_writebacks_key")),
    )
    with op.batch_alter_table("recovery_writebacks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recovery_writebacks_due", ["due_at"], unique=False, **_partial("status = 'pending'")
        )
        batch_op.create_index("ix_recovery_writebacks_attempt", ["attempt_id"], unique=False)


def downgrade() -> None:
    op.drop_table("recovery_writebacks")
    op.drop_table("recovery_audit")
    op.drop_table("recovery_episodes")
    op.drop_table("recovery_customers")
    op.drop_table("recovery_attempts")
    op.drop_table("recovery_plans")
