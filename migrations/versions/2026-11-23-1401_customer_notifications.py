"""Customer notifications queued with the change they announce.

Revision ID: 11ca84da5324
Revises: 8c0c30d14b93
Create Date: 2026-11-23 14:01:48.814900+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "11ca84da5324"
down_revision: str | None = "8c0c30d14b93"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["repair_orders.id"],
            name=op.f("fk_customer_notifications_order_id_repair_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_notifications")),
    )
    with op.batch_alter_table("customer_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_notifications_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_notifications_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_customer_notifications_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_notifications_status"), ["status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_notifications_status"))
        batch_op.drop_index(batch_op.f("ix_customer_notifications_order_id"))
        batch_op.drop_index(batch_op.f("ix_customer_notifications_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_customer_notifications_created_at"))

    op.drop_table("customer_notifications")
