"""Alembic is the only way the schema is made: the models and the migrations never drift."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from app.migrate import MIGRATIONS_DIR
from app.models import metadata


def test_models_and_migrations_do_not_drift(sync_engine: Engine) -> None:
    with sync_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], f"models differ from migrations; run `make migration`: {differences}"


def test_migrations_form_one_line_of_history() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert len(script.get_heads()) == 1


def test_migration_files_are_date_stamped() -> None:
    for path in Path(MIGRATIONS_DIR, "versions").glob("*.py"):
        stamp = path.name[:15]
        assert stamp[4] == "-" and stamp[7] == "-" and stamp[10] == "-", path.name
        assert stamp.replace("-", "").isdigit(), path.name


def test_migrations_are_reversible(tmp_path: Path) -> None:
    from alembic import command

    from app.migrate import alembic_config

    config = alembic_config(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    command.upgrade(config, "heads")
    command.downgrade(config, "base")
    command.upgrade(config, "heads")
