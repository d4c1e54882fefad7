"""Tolerance profiles (seeded with the reference norms), measurement sessions, work log.

Revision ID: 6018d00332d5
Revises: eb3a4e943452
Create Date: 2026-11-23 13:41:28.750776+00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "6018d00332d5"
down_revision: str | None = "eb3a4e943452"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Reference norms from the product brief (ISO 3159/COSC, METAS, Rolex, ETA 2824-2 grades, the
# workshop's after-service default, quartz and water-resistance rules). COSC's mean and largest
# variations need several days of testing and are not judged from a workshop session.
# (id, code, name, kind, movement types, brand, caliber, limits)
SEEDED_PROFILES = [
    (
        "0ab7744a-b6a8-55ee-b965-8b9ce6412274",
        "iso3159_over_20mm",
        "ISO 3159 / COSC, movement over 20 mm",
        "timing",
        ["mechanical", "automatic"],
        None,
        None,
        {
            "mean_rate_min": "-4",
            "mean_rate_max": "6",
            "h_minus_v_min": "-6",
            "h_minus_v_max": "8",
            "delta_max": "10",
        },
    ),
    (
        "e1ee8645-d07f-5693-84e6-b6e5603888da",
        "iso3159_20mm_or_less",
        "ISO 3159 / COSC, movement of 20 mm or less",
        "timing",
        ["mechanical", "automatic"],
        None,
        None,
        {
            "mean_rate_min": "-5",
            "mean_rate_max": "8",
            "h_minus_v_min": "-8",
            "h_minus_v_max": "10",
            "delta_max": "15",
        },
    ),
    (
        "f3349f33-ed28-5fbf-9d3e-06ec7a9a2d78",
        "metas_master_chronometer",
        "METAS Master Chronometer (cased watch)",
        "timing",
        ["mechanical", "automatic"],
        None,
        None,
        {"mean_rate_min": "0", "mean_rate_max": "5"},
    ),
    (
        "847d11eb-bac4-54ab-8009-ccf4f81b91b2",
        "rolex_superlative_chronometer",
        "Rolex Superlative Chronometer (after casing)",
        "timing",
        ["mechanical", "automatic"],
        "Rolex",
        None,
        {"mean_rate_min": "-2", "mean_rate_max": "2"},
    ),
    (
        "e158aabc-6a32-5fd9-8576-6d498f1e7389",
        "eta_2824_standard",
        "ETA 2824-2 Standard",
        "timing",
        ["mechanical", "automatic"],
        None,
        "ETA 2824-2",
        {"mean_rate_min": "-12", "mean_rate_max": "12", "delta_max": "30"},
    ),
    (
        "5c901694-7b3c-5e34-948f-83b123e83f54",
        "eta_2824_elabore",
        "ETA 2824-2 Elaboré",
        "timing",
        ["mechanical", "automatic"],
        None,
        "ETA 2824-2",
        {"mean_rate_min": "-7", "mean_rate_max": "7", "delta_max": "20"},
    ),
    (
        "95e6a3c8-bd65-5790-9eed-0d6d5f7af706",
        "eta_2824_top",
        "ETA 2824-2 Top",
        "timing",
        ["mechanical", "automatic"],
        None,
        "ETA 2824-2",
        {"mean_rate_min": "-4", "mean_rate_max": "4", "delta_max": "15"},
    ),
    (
        "21820adb-6cb3-5ab4-9f71-59630cfaba8c",
        "workshop_after_service",
        "Workshop default after service",
        "timing",
        ["mechanical", "automatic"],
        None,
        None,
        {
            "mean_rate_min": "-5",
            "mean_rate_max": "10",
            "delta_max": "20",
            "amplitude_dial_up_min": "270",
            "amplitude_max": "315",
            "beat_error_max": "0.6",
            "vertical_amplitude_24h_min": "200",
            "power_reserve_ratio_min": "0.9",
        },
    ),
    (
        "84a87efc-97bd-5172-b068-8b472a8fbd83",
        "quartz_standard",
        "Ordinary quartz",
        "quartz",
        ["quartz"],
        None,
        None,
        {
            "monthly_rate_min": "-15",
            "monthly_rate_max": "15",
            "battery_voltage_min": "1.5",
            "insulation_min": "1",
        },
    ),
    (
        "4d06a608-34e5-546c-9f50-d061ec5bf603",
        "eta_976_001",
        "ETA 976.001 quartz",
        "quartz",
        ["quartz"],
        None,
        "ETA 976.001",
        {
            "monthly_rate_min": "-15",
            "monthly_rate_max": "15",
            "battery_voltage_min": "1.5",
            "consumption_max": "0.50",
            "coil_resistance_min": "2.10",
            "coil_resistance_max": "2.40",
            "insulation_min": "1",
        },
    ),
    (
        "13f45887-89ca-590c-a0c9-727307a646a0",
        "iso22810",
        "ISO 22810:2010 water resistance (everyday watches)",
        "water",
        [],
        None,
        None,
        {"leak_rate_max": "50", "test_pressure_factor": "1"},
    ),
    (
        "917fceba-90be-5250-8909-1d48ce410412",
        "iso6425",
        "ISO 6425 divers' watches (tested at 125 % of the rating)",
        "water",
        [],
        None,
        None,
        {"leak_rate_max": "50", "test_pressure_factor": "1.25"},
    ),
]
# Certifications judge a watch only when the technician names them.
NAMED_ONLY = {
    "iso3159_over_20mm",
    "iso3159_20mm_or_less",
    "metas_master_chronometer",
    "eta_2824_standard",
    "eta_2824_elabore",
    "eta_2824_top",
    "iso6425",
}
SEEDED_AT = datetime(2026, 11, 23, tzinfo=UTC)


def upgrade() -> None:
    op.create_table(
        "tolerance_profiles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("movement_types", sa.JSON(), nullable=False),
        sa.Column("brand", sa.String(length=100), nullable=True),
        sa.Column("caliber", sa.String(length=100), nullable=True),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("auto_select", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tolerance_profiles")),
        sa.UniqueConstraint("code", name=op.f("uq_tolerance_profiles_code")),
    )
    with op.batch_alter_table("tolerance_profiles", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tolerance_profiles_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tolerance_profiles_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "measurement_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("phase", sa.String(length=20), nullable=False),
        sa.Column("instrument", sa.String(length=100), nullable=True),
        sa.Column("operator_key_id", sa.Uuid(), nullable=True),
        sa.Column("operator_name", sa.String(length=200), nullable=False),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("readings", sa.JSON(), nullable=False),
        sa.Column("profile_codes", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["repair_orders.id"],
            name=op.f("fk_measurement_sessions_order_id_repair_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_measurement_sessions")),
    )
    with op.batch_alter_table("measurement_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_measurement_sessions_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_measurement_sessions_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "work_log_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("minutes_spent", sa.Integer(), nullable=False),
        sa.Column("anomaly", sa.Boolean(), nullable=False),
        sa.Column("alert_manager", sa.Boolean(), nullable=False),
        sa.Column("parts_used", sa.JSON(), nullable=False),
        sa.Column("author_key_id", sa.Uuid(), nullable=True),
        sa.Column("author_name", sa.String(length=200), nullable=False),
        sa.Column("alert_resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alert_resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolution_note", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["repair_orders.id"],
            name=op.f("fk_work_log_entries_order_id_repair_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_log_entries")),
    )
    with op.batch_alter_table("work_log_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_log_entries_alert_manager"), ["alert_manager"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_work_log_entries_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_work_log_entries_order_id"), ["order_id"], unique=False
        )

    profiles = sa.table(
        "tolerance_profiles",
        sa.column("id", sa.Uuid()),
        sa.column("code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("movement_types", sa.JSON()),
        sa.column("brand", sa.String()),
        sa.column("caliber", sa.String()),
        sa.column("limits", sa.JSON()),
        sa.column("auto_select", sa.Boolean()),
        sa.column("active", sa.Boolean()),
        sa.column("version", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(
        profiles,
        [
            {
                "id": uuid.UUID(profile_id),
                "code": code,
                "name": name,
                "kind": kind,
                "movement_types": movement_types,
                "brand": brand,
                "caliber": caliber,
                "limits": limits,
                "auto_select": code not in NAMED_ONLY,
                "active": True,
                "version": 1,
                "created_at": SEEDED_AT,
                "updated_at": SEEDED_AT,
            }
            for profile_id, code, name, kind, movement_types, brand, caliber, limits in (
                SEEDED_PROFILES
            )
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("work_log_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_log_entries_order_id"))
        batch_op.drop_index(batch_op.f("ix_work_log_entries_created_at"))
        batch_op.drop_index(batch_op.f("ix_work_log_entries_alert_manager"))

    op.drop_table("work_log_entries")
    with op.batch_alter_table("measurement_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_measurement_sessions_order_id"))
        batch_op.drop_index(batch_op.f("ix_measurement_sessions_created_at"))

    op.drop_table("measurement_sessions")
    with op.batch_alter_table("tolerance_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tolerance_profiles_updated_at"))
        batch_op.drop_index(batch_op.f("ix_tolerance_profiles_created_at"))

    op.drop_table("tolerance_profiles")
