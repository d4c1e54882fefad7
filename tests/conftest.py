"""Test fixtures: a database built by ``alembic upgrade head``, cleaned after every test.

The suite runs on SQLite by default and on PostgreSQL when ``ATELIER_TEST_DATABASE_URL`` points
at one. Each test starts from the freshly migrated state (seed data included): after a test, every
table is emptied and the rows the migrations seeded are put back.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from app import libpq
from app.db import Database, sync_database_url
from app.domain.roles import Role
from app.main import create_app
from app.migrate import upgrade_to_head
from app.models import Partner, RepairOrder, metadata
from app.repositories.repair_orders import ACTIONS_MARK
from app.services import api_keys as api_key_service
from app.services.order_documents import document_of
from app.settings import Settings


class TestClock:
    """The application's clock in tests: real time unless a test pins or moves it."""

    __test__ = False

    def __init__(self) -> None:
        self._pinned: datetime | None = None

    def __call__(self) -> datetime:
        return self._pinned if self._pinned is not None else datetime.now(UTC)

    def pin(self, moment: datetime) -> None:
        self._pinned = moment

    def advance(self, delta: timedelta) -> None:
        self._pinned = self() + delta

    def release(self) -> None:
        self._pinned = None


def _database_url(tmp_dir: Path) -> str:
    configured = os.environ.get("ATELIER_TEST_DATABASE_URL")
    if configured:
        return configured
    return f"sqlite+aiosqlite:///{tmp_dir / 'atelier-test.db'}"


def _reset_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this run's own: on PostgreSQL, a throwaway database created beside the
    configured one, so that concurrent runs against one server never see each other."""
    url = _database_url(tmp_path_factory.mktemp("db"))
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield url
        return
    private = f"{parsed.database}_run_{uuid.uuid4().hex[:10]}"
    admin = create_engine(sync_database_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{private}"'))
    try:
        yield parsed.set(database=private).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{private}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sync_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(sync_database_url(database_url))
    _reset_schema(engine)
    upgrade_to_head(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def seeded_rows(sync_engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """What the migrations left in each table: the state every test starts from."""
    with sync_engine.connect() as connection:
        return {
            table.name: [dict(row._mapping) for row in connection.execute(table.select())]
            for table in metadata.sorted_tables
        }


def restore_seeded_state(engine: Engine, seeded: dict[str, list[dict[str, Any]]]) -> None:
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        for table in metadata.sorted_tables:
            if seeded.get(table.name):
                connection.execute(insert(table), seeded[table.name])


@pytest.fixture(scope="session")
def clock() -> TestClock:
    return TestClock()


@pytest.fixture(scope="session")
def settings(database_url: str, sync_engine: Engine) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        log_format="text",
        log_level="WARNING",
        max_request_bytes=65_536,
        tracking_rate_limit_per_minute=10_000,
        workshop_phone="+33 1 23 45 67 89",
        workshop_email="sav@atelier.example",
    )


@pytest.fixture(scope="session")
def app(settings: Settings, clock: TestClock) -> Any:
    return create_app(settings, clock=clock)


@pytest.fixture(autouse=True)
def _release_clock(clock: TestClock) -> Iterator[None]:
    yield
    clock.release()


def stale_documents(engine: Engine) -> list[str]:
    """The orders whose document (``app/services/order_documents.py``) is not what their
    columns make now: none, whatever wrote them. Orders without one are not stale."""
    with engine.connect() as connection:
        rows = connection.execute(RepairOrder.__table__.select()).mappings().all()  # type: ignore[attr-defined]
    return [
        str(row["id"])
        for row in rows
        if row["document"] is not None and _parsed(row["document"]) != _parsed(document_of(row))
    ]


def _parsed(document: str) -> Any:
    return json.loads(document.replace(ACTIONS_MARK, "null", 1))


@pytest.fixture
def clean_database(
    sync_engine: Engine, seeded_rows: dict[str, list[dict[str, Any]]]
) -> Iterator[Engine]:
    """The migrated database, put back to its seeded state once the test is over. Before
    that, every order's document must still be what its columns make (whatever the test's
    requests wrote), or the test errs."""
    yield sync_engine
    try:
        stale = stale_documents(sync_engine)
    except OperationalError:
        stale = []  # the database is gone (a fault test): nothing to look at
    restore_seeded_state(sync_engine, seeded_rows)
    assert not stale, f"orders whose document is stale: {stale}"


@pytest.fixture
async def client(app: Any, clean_database: Engine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def sent_sql(app: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the app's engines send (readers' and writers'), with its parameters, in
    order."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    engines = app.state.runtime.db.sync_engines()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    yield sent
    for engine in engines:
        event.remove(engine, "before_cursor_execute", record)


class KeyFactory:
    """Issues real API keys through the service, returning ready-to-use headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def headers(
        self, role: Role | str, *, name: str | None = None, partner_id: uuid.UUID | None = None
    ) -> dict[str, str]:
        role = Role(role)
        db = self.app.state.runtime.db
        async with db.new_session(write=True) as session:
            issued = await api_key_service.issue(
                session,
                name=name or f"{role.value} test key",
                role=role,
                partner_id=partner_id,
                created_by=None,
                now=datetime.now(UTC),
            )
            await session.commit()
        return {"Authorization": f"Bearer {issued.secret}"}

    async def partner(self, name: str = "Boutique du Port") -> uuid.UUID:
        """Create a partner boutique directly, returning its id."""
        db = self.app.state.runtime.db
        async with db.new_session(write=True) as session:
            partner = Partner(name=name)
            session.add(partner)
            await session.commit()
            return partner.id


@pytest.fixture
def keys(app: Any, clean_database: Engine) -> KeyFactory:
    return KeyFactory(app)


def is_postgresql(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


@pytest.fixture
async def one_connection_postgresql(
    settings: Settings, clean_database: Engine
) -> AsyncIterator[Database]:
    """The database with one connection per pool: every session of a test runs on the same
    one, in turn. PostgreSQL's own paths (libpq, the writer's session): skipped on SQLite."""
    if not is_postgresql(settings.database_url):
        pytest.skip("a PostgreSQL path")
    database = Database.from_settings(settings.model_copy(update={"database_pool_size": 1}))
    try:
        yield database
    finally:
        await database.dispose()


def count_round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, how many times a PostgreSQL statement or pipeline waits for its results
    through ``app/libpq.py`` (one round trip each): the list's one item."""
    trips = [0]
    results = libpq._results

    async def counted(*args: Any, **kwargs: Any) -> Any:
        trips[0] += 1
        return await results(*args, **kwargs)

    monkeypatch.setattr(libpq, "_results", counted)
    return trips
