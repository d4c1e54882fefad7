"""Drop the indexes no query uses: every write paid for them

The outbox's messages are read by id only (through their deliveries); an order's events are
read through the unique (order_id, sequence) index, which makes an index on order_id alone
redundant; customer names and watch brands are only searched within (ILIKE '%…%'), which no
B-tree serves. A creation wrote seven index entries for them, a transition five.

Revision ID: ebab34e5b1ac
Revises: c286da99d556
Create Date: 2026-11-24 21:33:09.136273+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ebab34e5b1ac"
down_revision: str | None = "c286da99d556"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column) of each index dropped, named as the models' index=True named them.
_DROPPED = (
    ("customers", "name"),
    ("order_events", "order_id"),
    ("outbox_messages", "created_at"),
    ("outbox_messages", "event_type"),
    ("outbox_messages", "order_id"),
    ("outbox_messages", "partner_id"),
    ("watches", "brand"),
)


def upgrade() -> None:
    for table, column in _DROPPED:
        op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, column in reversed(_DROPPED):
        op.create_index(f"ix_{table}_{column}", table, [column], unique=False)
