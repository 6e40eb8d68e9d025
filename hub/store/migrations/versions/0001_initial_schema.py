"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_customers")),
    )
    op.create_table(
        "inbox",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("customer_key", sa.String(length=40), nullable=True),
        sa.Column("episode_id", sa.String(length=40), nullable=True),
        sa.Column("disposition", sa.String(length=100), nullable=True),
        sa.Column("linked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("source", "event_id", name=op.f("uq_inbox_source_event_id")),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "customer_identifiers",
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("raw", sa.String(length=320), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_key"], ["customers.key"], name=op.f("fk_customer_identifiers_customer_key_customers")
        ),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_customer_identifiers")),
    )
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_identifiers_customer_key"), ["customer_key"], unique=False
        )

    op.create_table(
        "episodes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("customer_key", sa.String(length=40), nullable=False),
        sa.Column("intent_family", sa.String(length=100), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(), nullable=False),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_key"], ["customers.key"], name=op.f("fk_episodes_customer_key_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_episodes")),
    )
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.create_index("ix_episodes_customer", ["customer_key", "opened_at"], unique=False)
        batch_op.create_index(
            "uq_episodes_open",
            ["customer_key", "intent_family"],
            unique=True,
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )

    op.create_table(
        "event_links",
        sa.Column("inbox_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("case_object", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=False),
        sa.Column("case_created", sa.Boolean(), nullable=False),
        sa.Column("activity_object", sa.String(length=40), nullable=False),
        sa.Column("activity_id", sa.String(length=100), nullable=False),
        sa.Column("activity_created", sa.Boolean(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["inbox_id"], ["inbox.id"], name=op.f("fk_event_links_inbox_id_inbox")),
        sa.PrimaryKeyConstraint("inbox_id", "crm", name=op.f("pk_event_links")),
    )
    op.create_table(
        "episode_cases",
        sa.Column("episode_id", sa.String(length=40), nullable=False),
        sa.Column("crm", sa.String(length=20), nullable=False),
        sa.Column("object", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=100), nullable=False),
        sa.Column("created_by_hub", sa.Boolean(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_episode_cases_episode_id_episodes")
        ),
        sa.PrimaryKeyConstraint("episode_id", "crm", name=op.f("pk_episode_cases")),
    )


def downgrade() -> None:
    op.drop_table("episode_cases")
    op.drop_table("event_links")
    with op.batch_alter_table("episodes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_episodes_open",
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
        batch_op.drop_index("ix_episodes_customer")

    op.drop_table("episodes")
    with op.batch_alter_table("customer_identifiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_identifiers_customer_key"))

    op.drop_table("customer_identifiers")
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_due")

    op.drop_table("inbox")
    op.drop_table("customers")
