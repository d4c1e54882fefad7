"""A PostgreSQL reader connection's socket, watched for the connection's lifetime.

``SocketWatch`` (``app/libpq.py``) reads what the server sends and wakes the statement waiting
on the connection only once libpq holds a whole result: a result in several pieces wakes it
once, a report of the socket with nothing new to read wakes no one, and a connection lost
while a statement waits raises there, the watch then off the closed socket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.pq import ExecStatus
from sqlalchemy.engine import Engine, make_url

from app.libpq import SocketWatch, _results
from app.settings import Settings

# Fifty-one rows of 900 characters: more than one piece of the server's 8 KB output buffer.
_LARGE = b"SELECT repeat('x', 900) FROM generate_series(1, 51)"


@pytest.fixture
async def connection(
    settings: Settings, sync_engine: Engine
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("the readers' sockets are PostgreSQL's")
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    opened = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    try:
        yield opened
    finally:
        await opened.close()


class _Counted(SocketWatch):
    """A watch that counts the waits it ended."""

    __slots__ = ("woken",)

    def __init__(self, pgconn: Any) -> None:
        super().__init__(pgconn)
        self.woken = 0

    async def wait(self, loop: asyncio.AbstractEventLoop) -> None:
        await super().wait(loop)
        self.woken += 1


async def test_a_result_in_several_pieces_wakes_its_statement_once(
    connection: psycopg.AsyncConnection[Any],
) -> None:
    pgconn = connection.pgconn
    watch = _Counted(pgconn)
    try:
        for _ in range(20):
            pgconn.send_query(_LARGE)
            (result,) = await _results(pgconn, watch=watch)
            assert result.status == ExecStatus.TUPLES_OK
            assert result.ntuples == 51
        # Each statement woke at most once (none when its result was whole at the first read).
        assert watch.woken <= 20
    finally:
        watch.close()


async def test_a_report_with_nothing_new_to_read_wakes_no_one(
    connection: psycopg.AsyncConnection[Any],
) -> None:
    pgconn = connection.pgconn
    watch = SocketWatch(pgconn)
    loop = asyncio.get_running_loop()
    try:
        pgconn.send_query(b"SELECT pg_sleep(0.3)")
        waiting = asyncio.ensure_future(watch.wait(loop))
        await asyncio.sleep(0)  # the wait has begun
        watch._readable()  # as the loop would, late, for bytes already read: nothing to read
        await asyncio.sleep(0)
        assert not waiting.done()
        await asyncio.wait_for(waiting, 5)  # the result woke it
        (result,) = await _results(pgconn, watch=watch)
        assert result.status == ExecStatus.TUPLES_OK
    finally:
        watch.close()


async def test_a_connection_lost_while_a_statement_waits_raises_there(
    connection: psycopg.AsyncConnection[Any], sync_engine: Engine
) -> None:
    pgconn = connection.pgconn
    watch = SocketWatch(pgconn)
    try:
        pgconn.send_query(b"SELECT pg_sleep(5)")
        waiting = asyncio.ensure_future(_results(pgconn, watch=watch))
        await asyncio.sleep(0.05)
        with sync_engine.connect() as admin:
            pid = connection.info.backend_pid
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(psycopg.OperationalError):
            await asyncio.wait_for(waiting, 5)
        assert connection.closed
        assert watch.loop is None  # off the socket, before anyone closes it
    finally:
        watch.close()
