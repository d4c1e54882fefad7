"""Composite list indexes on repair orders: every filter ends with (created_at, id)

Revision ID: c286da99d556
Revises: 11ca84da5324
Create Date: 2026-11-23 16:05:50.670823+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c286da99d556"
down_revision: str | None = "11ca84da5324"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_orders_created_at"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_customer_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_partner_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_status"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_technician_key_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_watch_id"))
        batch_op.create_index("ix_repair_orders_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ix_repair_orders_customer_id_created_at_id",
            ["customer_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_repair_orders_partner_id_created_at_id",
            ["partner_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_repair_orders_status_created_at_id", ["status", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_repair_orders_technician_key_id_created_at_id",
            ["technician_key_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_repair_orders_watch_id_created_at_id",
            ["watch_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_repair_orders_watch_id_created_at_id")
        batch_op.drop_index("ix_repair_orders_technician_key_id_created_at_id")
        batch_op.drop_index("ix_repair_orders_status_created_at_id")
        batch_op.drop_index("ix_repair_orders_partner_id_created_at_id")
        batch_op.drop_index("ix_repair_orders_customer_id_created_at_id")
        batch_op.drop_index("ix_repair_orders_created_at_id")
        batch_op.create_index(batch_op.f("ix_repair_orders_watch_id"), ["watch_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_repair_orders_technician_key_id"), ["technician_key_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_repair_orders_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_repair_orders_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_created_at"), ["created_at"], unique=False
        )
