"""Inbound shipment of partner orders (carrier, tracking number).

Revision ID: 7427c5b48bf9
Revises: 1e502e517fcc
Create Date: 2026-11-23 13:29:16.958391+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7427c5b48bf9"
down_revision: str | None = "1e502e517fcc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inbound_shipment", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.drop_column("inbound_shipment")
