"""PostgreSQL's reader and writer sessions make their ORM side at its first use only: the hot
reads never touch it (``app.psycopg_readers.PreparedFirstSession``). Nothing connects here."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from app.pg_writer_session import WriterSession
from app.psycopg_readers import ReaderSession

URL = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # never connected to


async def test_a_reader_that_runs_only_prepared_statements_makes_no_orm_session() -> None:
    engine = create_async_engine(URL)
    readers: Any = object()
    session = ReaderSession(engine, readers)
    assert not session.orm_used
    assert "sync_session" not in vars(session)
    await session.close()  # nothing to close: still not made
    assert not session.orm_used
    await engine.dispose()


async def test_the_orm_side_is_made_at_its_first_use_with_the_sessions_options() -> None:
    engine = create_async_engine(URL)
    session = ReaderSession(engine, object())  # type: ignore[arg-type]
    session.info["seen"] = True  # anything of AsyncSession's makes it
    assert session.orm_used
    orm = session.sync_session
    assert orm.bind is engine.sync_engine
    assert orm.expire_on_commit is False and orm.autoflush is False
    assert session.info == {"seen": True} and session.sync_session is orm  # made once
    await session.close()
    await engine.dispose()


async def test_a_writers_orm_session_knows_its_writer() -> None:
    engine = create_async_engine(URL)
    session = WriterSession(engine)
    assert not session.orm_used
    assert session.sync_session.writer is session
    await session.close()
    await engine.dispose()


async def test_a_missing_attribute_is_still_an_attribute_error() -> None:
    engine = create_async_engine(URL)
    session = ReaderSession(engine, object())  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        session.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    assert not session.orm_used
    await engine.dispose()
