"""Service catalogue (seeded), quote revisions and lines, invoices, order money columns.

Revision ID: eb3a4e943452
Revises: 7427c5b48bf9
Create Date: 2026-11-23 13:31:14.128026+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "eb3a4e943452"
down_revision: str | None = "7427c5b48bf9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Indicative independent-workshop prices from the product brief, stored excl. VAT (20 %): each
# workshop edits its own catalogue over the API. (id, code, name_fr, name_en, labour minutes,
# price excl. VAT in cents, warranty months, movement types it applies to; [] = all).
SEEDED_SERVICES = [
    (
        "0d6680f2-9236-5a88-ba82-3f683bee4376",
        "diagnosis",
        "Diagnostic et devis",
        "Diagnosis and quote",
        15,
        2500,
        0,
        [],
    ),
    (
        "7ea66fcd-a656-5951-bad3-c196a3be4136",
        "battery",
        "Remplacement de pile",
        "Battery replacement",
        15,
        1500,
        12,
        ["quartz"],
    ),
    (
        "c41a40aa-3f7e-5447-9b74-3b4b66cea3e4",
        "battery_seal_test",
        "Pile, joint et test d'étanchéité",
        "Battery, gasket and water-resistance test",
        25,
        3500,
        12,
        ["quartz"],
    ),
    (
        "4b4afe51-64eb-5e71-b3a4-1c4e40aff403",
        "water_test",
        "Test d'étanchéité",
        "Water-resistance test",
        10,
        1500,
        0,
        [],
    ),
    (
        "d41a4aea-75d8-5b86-9661-a7f5a7c8b28b",
        "gaskets",
        "Jeu de joints",
        "Gasket set",
        25,
        3000,
        12,
        [],
    ),
    (
        "3931e869-497e-5a9c-94f8-dd97f7705aa5",
        "crystal_mineral",
        "Remplacement du verre minéral",
        "Mineral crystal replacement",
        45,
        5000,
        12,
        [],
    ),
    (
        "a8dff6ea-8fe1-54b8-9fa0-2d060d003353",
        "crystal_sapphire",
        "Remplacement du verre saphir",
        "Sapphire crystal replacement",
        45,
        10000,
        12,
        [],
    ),
    (
        "5789a893-d05c-5be8-a875-b09a11354132",
        "crown_stem",
        "Couronne et tige",
        "Crown and stem",
        40,
        4500,
        12,
        [],
    ),
    (
        "3b982132-e435-5ebf-b2f0-0388984e9ce3",
        "bracelet_adjust",
        "Ajustage du bracelet",
        "Strap or bracelet adjustment",
        10,
        1000,
        0,
        [],
    ),
    (
        "02c43d0a-ced3-572c-8a1b-d688012339a5",
        "service_manual",
        "Révision complète, mouvement à remontage manuel",
        "Full service, manual-wind movement",
        240,
        20000,
        24,
        ["mechanical"],
    ),
    (
        "5d5bad2c-f7fa-5497-9dd6-ca4a346f1124",
        "service_automatic",
        "Révision complète, mouvement automatique",
        "Full service, automatic movement",
        270,
        22500,
        24,
        ["automatic"],
    ),
    (
        "4673957a-23e0-5038-9379-31e49a9c5443",
        "service_chronograph",
        "Révision complète, chronographe",
        "Full service, chronograph",
        390,
        30000,
        24,
        ["mechanical", "automatic"],
    ),
    (
        "5a67891a-9ee5-50c7-a93c-f46c4399be92",
        "service_quartz",
        "Révision complète, mouvement quartz",
        "Full service, quartz movement",
        90,
        9500,
        24,
        ["quartz"],
    ),
    (
        "e5efe5e6-7bc2-5bc9-a2a1-ca5be02554b0",
        "polishing",
        "Polissage de la boîte et du bracelet",
        "Case and bracelet polishing",
        90,
        8000,
        0,
        [],
    ),
    (
        "2e3a4030-8fd4-5fea-a537-398f854f54c3",
        "demagnetise",
        "Démagnétisation",
        "Demagnetisation",
        10,
        1250,
        0,
        ["mechanical", "automatic"],
    ),
    (
        "4e180e7f-ca2c-5fc3-8d8b-70c53740a496",
        "calendar_repair",
        "Réparation du quantième",
        "Calendar repair",
        60,
        6000,
        12,
        [],
    ),
    (
        "0a8b27e6-1518-59e1-9b9e-b6a2be32cd4d",
        "chronograph_adjustment",
        "Réglage du chronographe",
        "Chronograph adjustment",
        60,
        7000,
        12,
        [],
    ),
]
SEEDED_AT = datetime(2026, 11, 23, tzinfo=UTC)


def upgrade() -> None:
    op.create_table(
        "catalog_services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name_fr", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("labour_minutes", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.Integer(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("warranty_months", sa.Integer(), nullable=False),
        sa.Column("movement_types", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_services")),
        sa.UniqueConstraint("code", name=op.f("uq_catalog_services_code")),
    )
    with op.batch_alter_table("catalog_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_services_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_catalog_services_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "invoice_number_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_invoice_number_counters")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_incl_cents", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["repair_orders.id"], name=op.f("fk_invoices_order_id_repair_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
        sa.UniqueConstraint("order_id", name=op.f("uq_invoices_order_id")),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoices_created_at"), ["created_at"], unique=False)

    op.create_table(
        "quote_revisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("supplement", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat_regime", sa.String(length=20), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("diagnosis_fee_cents", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("manager_approved_by", sa.String(length=200), nullable=True),
        sa.Column("manager_approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision", sa.JSON(), nullable=True),
        sa.Column("approved_total_cents", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["repair_orders.id"],
            name=op.f("fk_quote_revisions_order_id_repair_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_revisions")),
        sa.UniqueConstraint("order_id", "number", name=op.f("uq_quote_revisions_order_id_number")),
    )
    with op.batch_alter_table("quote_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quote_revisions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quote_revisions_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_quote_revisions_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "quote_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("revision_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("vat_rate_bp", sa.Integer(), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("warranty_months", sa.Integer(), nullable=False),
        sa.Column("labour_minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["quote_revisions.id"],
            name=op.f("fk_quote_lines_revision_id_quote_revisions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_lines")),
    )
    with op.batch_alter_table("quote_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quote_lines_revision_id"), ["revision_id"], unique=False
        )

    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=False))
        batch_op.add_column(sa.Column("deposit_cents", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("preapproved_ceiling_cents", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_total_cents", sa.Integer(), nullable=False))
        batch_op.add_column(sa.Column("fee_due_cents", sa.Integer(), nullable=False))

    catalog = sa.table(
        "catalog_services",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name_fr", sa.String()),
        sa.column("name_en", sa.String()),
        sa.column("labour_minutes", sa.Integer()),
        sa.column("price_cents", sa.Integer()),
        sa.column("vat_rate_bp", sa.Integer()),
        sa.column("warranty_months", sa.Integer()),
        sa.column("movement_types", sa.JSON()),
        sa.column("active", sa.Boolean()),
        sa.column("version", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        catalog,
        [
            {
                "id": uuid.UUID(service_id),
                "code": code,
                "name_fr": name_fr,
                "name_en": name_en,
                "labour_minutes": minutes,
                "price_cents": cents,
                "vat_rate_bp": 2000,
                "warranty_months": warranty,
                "movement_types": movement_types,
                "active": True,
                "version": 1,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
            for service_id, code, name_fr, name_en, minutes, cents, warranty, movement_types in (
                SEEDED_SERVICES
            )
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("repair_orders", schema=None) as batch_op:
        batch_op.drop_column("fee_due_cents")
        batch_op.drop_column("approved_total_cents")
        batch_op.drop_column("preapproved_ceiling_cents")
        batch_op.drop_column("deposit_cents")
        batch_op.drop_column("currency")

    with op.batch_alter_table("quote_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quote_lines_revision_id"))

    op.drop_table("quote_lines")
    with op.batch_alter_table("quote_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quote_revisions_updated_at"))
        batch_op.drop_index(batch_op.f("ix_quote_revisions_order_id"))
        batch_op.drop_index(batch_op.f("ix_quote_revisions_created_at"))

    op.drop_table("quote_revisions")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoices_created_at"))

    op.drop_table("invoices")
    op.drop_table("invoice_number_counters")
    with op.batch_alter_table("catalog_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_services_updated_at"))
        batch_op.drop_index(batch_op.f("ix_catalog_services_created_at"))

    op.drop_table("catalog_services")
