"""Repair orders, the append-only order event log and per-year order-number counters.

Revision ID: 1e502e517fcc
Revises: 0001
Create Date: 2026-11-23 13:02:22.507850+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "1e502e517fcc"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_number_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_order_number_counters")),
    )
    op.create_table(
        "repair_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("tracking_token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("partner_id", sa.Uuid(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("watch_id", sa.Uuid(), nullable=False),
        sa.Column("warranty_of", sa.Uuid(), nullable=True),
        sa.Column("free_of_charge", sa.Boolean(), nullable=False),
        sa.Column("complaint", sa.Text(), nullable=True),
        sa.Column("condition_report", sa.JSON(), nullable=False),
        sa.Column("accessories", sa.JSON(), nullable=False),
        sa.Column("accessibility_needs", sa.String(length=1000), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("deposited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("intake_acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("intake_acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("technician_key_id", sa.Uuid(), nullable=True),
        sa.Column("technician_name", sa.String(length=120), nullable=True),
        sa.Column("pre_diagnosis", sa.JSON(), nullable=True),
        sa.Column("diagnosis", sa.JSON(), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hand_back", sa.JSON(), nullable=True),
        sa.Column("warranty_until", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_repair_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_repair_orders_partner_id_partners")
        ),
        sa.ForeignKeyConstraint(
            ["warranty_of"],
            ["repair_orders.id"],
            name=op.f("fk_repair_orders_warranty_of_repair_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["watch_id"], ["watches.id"], name=op.f("fk_repair_orders_watch_id_watches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repair_orders")),
        sa.UniqueConstraint("number", name=op.f("uq_repair_orders_number")),
        sa.UniqueConstraint("tracking_token", name=op.f("uq_repair_orders_tracking_token")),
    )
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repair_orders_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_partner_id"), ["partner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_promised_date"), ["promised_date"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_repair_orders_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_repair_orders_technician_key_id"), ["technician_key_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_updated_at"), ["updated_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_repair_orders_warranty_of"), ["warranty_of"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_repair_orders_watch_id"), ["watch_id"], unique=False)

    op.create_table(
        "order_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=30), nullable=True),
        sa.Column("to_status", sa.String(length=30), nullable=False),
        sa.Column("actor_key_id", sa.Uuid(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["repair_orders.id"], name=op.f("fk_order_events_order_id_repair_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_events")),
        sa.UniqueConstraint("order_id", "sequence", name=op.f("uq_order_events_order_id_sequence")),
    )
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_events_order_id"), ["order_id"], unique=False)

    # The audit trail is append-only: the database itself refuses to rewrite an event.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER order_events_append_only BEFORE UPDATE ON order_events "
            "BEGIN SELECT RAISE(ABORT, 'order events are append-only'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION order_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'order events are append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER order_events_append_only BEFORE UPDATE ON order_events "
            "FOR EACH ROW EXECUTE FUNCTION order_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS order_events_append_only")
    else:
        op.execute("DROP TRIGGER IF EXISTS order_events_append_only ON order_events")
        op.execute("DROP FUNCTION IF EXISTS order_events_append_only()")
    with op.batch_alter_table("order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_events_order_id"))

    op.drop_table("order_events")
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repair_orders_watch_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_warranty_of"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_updated_at"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_technician_key_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_status"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_promised_date"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_partner_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_customer_id"))
        batch_op.drop_index(batch_op.f("ix_repair_orders_created_at"))

    op.drop_table("repair_orders")
    op.drop_table("order_number_counters")
