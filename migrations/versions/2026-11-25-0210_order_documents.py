"""The order's presented document, kept with its row for the list pages

A list page presented fifty orders by having the database format every column of each as JSON
(most of the page's CPU). ``repair_orders.document`` holds the order as the API presents it, but
for the caller's actions, written by the application with each change of the order. A trigger
empties it when a write changes the row without writing it too, so a stale document is never
served: such an order (and every order until ``atelier documents refresh`` has run once after
this migration) is presented from its columns.

Revision ID: 5d0c7a3e9b21
Revises: ebab34e5b1ac
Create Date: 2026-11-25 02:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d0c7a3e9b21"
down_revision: str | None = "ebab34e5b1ac"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("repair_orders", sa.Column("document", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # recursive_triggers is off: the trigger's own UPDATE does not fire it again.
        op.execute(
            "CREATE TRIGGER repair_orders_document_stale AFTER UPDATE ON repair_orders "
            "FOR EACH ROW WHEN NEW.document IS NOT NULL AND NEW.document IS OLD.document "
            "BEGIN UPDATE repair_orders SET document = NULL WHERE id = NEW.id; END"
        )
    else:
        op.execute(
            "CREATE FUNCTION repair_orders_document_stale() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN NEW.document := NULL; RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER repair_orders_document_stale BEFORE UPDATE ON repair_orders "
            "FOR EACH ROW WHEN (NEW.document IS NOT NULL "
            "AND NEW.document IS NOT DISTINCT FROM OLD.document) "
            "EXECUTE FUNCTION repair_orders_document_stale()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS repair_orders_document_stale")
    else:
        op.execute("DROP TRIGGER IF EXISTS repair_orders_document_stale ON repair_orders")
        op.execute("DROP FUNCTION IF EXISTS repair_orders_document_stale()")
    with op.batch_alter_table("repair_orders") as batch:
        batch.drop_column("document")
