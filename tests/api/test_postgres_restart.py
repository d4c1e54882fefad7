"""PostgreSQL stopped and started again under a running service: 503s, then recovery by itself.

The test runs its own throwaway PostgreSQL server (initdb in a temporary folder, its own port and
socket), so stopping it disturbs nothing else; it needs the PostgreSQL server binaries, which CI
machines have. Without them the test is skipped locally and fails in CI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from app.db import sync_database_url
from app.domain.roles import Role
from app.main import create_app
from app.migrate import upgrade_to_head
from app.models import Customer
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.factories import create_order


def _server_binaries() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class DisposableServer:
    """A PostgreSQL server of the test's own, started and stopped with pg_ctl."""

    def __init__(self, binaries: Path, folder: Path, port: int) -> None:
        self.binaries, self.folder, self.port = binaries, folder, port
        self.data = folder / "data"

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *command], check=True, capture_output=True, timeout=60, cwd=self.folder
        )

    def create(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-A", "trust",
                  "-U", "postgres", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.folder / "server.log"), "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def disposable_postgres() -> Iterator[DisposableServer]:
    binaries = _server_binaries()
    if binaries is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs the PostgreSQL server binaries for the restart test")
        pytest.skip("no PostgreSQL server binaries here")
    folder = Path(tempfile.mkdtemp(prefix="atelier-pg-restart-"))
    server = DisposableServer(binaries, folder, _free_port())
    server.create()
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_postgresql_stopped_then_restarted(
    disposable_postgres: DisposableServer, settings: Settings
) -> None:
    upgrade_to_head(disposable_postgres.url)
    app = create_app(settings.model_copy(update={"database_url": disposable_postgres.url}))
    headers = await KeyFactory(app).headers(Role.COUNTER)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            before = await client.post("/v1/customers", json={"name": "Avant"}, headers=headers)
            assert before.status_code == 201
            order = await create_order(client, headers)

            disposable_postgres.stop()
            write = await client.post(
                "/v1/customers",
                json={"name": "Pendant"},
                headers={**headers, "Idempotency-Key": "during-outage"},
            )
            assert write.status_code == 503
            assert write.headers["content-type"] == "application/problem+json"
            assert write.headers["retry-after"] == "2"
            read = await client.get(f"/v1/customers/{before.json()['id']}", headers=headers)
            assert read.status_code == 503
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200

            disposable_postgres.start()
            # No restart of the service: the pool notices the dead connections by itself, and
            # the POS's retry with the same key goes through once.
            retried = await client.post(
                "/v1/customers",
                json={"name": "Pendant"},
                headers={**headers, "Idempotency-Key": "during-outage"},
            )
            assert retried.status_code == 201
            again = await client.post(
                "/v1/customers",
                json={"name": "Pendant"},
                headers={**headers, "Idempotency-Key": "during-outage"},
            )
            assert again.headers["idempotent-replayed"] == "true"
            assert (await client.get("/readyz")).status_code == 200
            read = await client.get(f"/v1/customers/{before.json()['id']}", headers=headers)
            assert read.status_code == 200

            # A quiet restart: the pooled connections died unnoticed. A request may meet a dead
            # one (503, the pool is then renewed); a retry goes through.
            disposable_postgres.stop()
            disposable_postgres.start()
            answers = []
            for _ in range(3):
                answer = await client.get(f"/v1/customers/{before.json()['id']}", headers=headers)
                answers.append(answer.status_code)
                if answer.status_code == 200:
                    break
                assert answer.status_code == 503
                assert answer.headers["retry-after"] == "2"
            assert answers[-1] == 200, answers

            # The same through the statements run on psycopg's own cursor (app/prepared.py),
            # with several connections in the pool: the first dead one met renews the whole
            # pool, so one request at most gets the 503, not one per pooled connection.
            for target in (
                f"/v1/repair-orders/{order['id']}",
                f"/v1/tracking/{order['tracking_token']}",
            ):
                warm = [client.get(target, headers=headers) for _ in range(4)]
                assert {r.status_code for r in await asyncio.gather(*warm)} == {200}
                disposable_postgres.stop()
                disposable_postgres.start()
                answers = [(await client.get(target, headers=headers)).status_code]
                while answers[-1] != 200 and len(answers) < 5:
                    answers.append((await client.get(target, headers=headers)).status_code)
                assert answers in ([200], [503, 200]), (target, answers)

            # And the writes, whose connections wait between writes out of the pool (parked,
            # app/pg_writer_session.py): the first dead one met drops the others with the pool.
            # (The restarts above left the writers' connections dead too: one write meets them.)
            settled = [await client.post("/v1/customers", json={"name": "Settle"}, headers=headers)]
            if settled[0].status_code == 503:
                settled.append(
                    await client.post("/v1/customers", json={"name": "Settle"}, headers=headers)
                )
            assert [r.status_code for r in settled] in ([201], [503, 201])
            warm = [
                client.post("/v1/customers", json={"name": f"Warm {n}"}, headers=headers)
                for n in range(4)
            ]
            assert {r.status_code for r in await asyncio.gather(*warm)} == {201}
            parked = app.state.runtime.db.parked
            assert len(parked.idle) >= 2, "the writes ran one after another"
            disposable_postgres.stop()
            disposable_postgres.start()
            answers = []
            while not answers or (answers[-1] != 201 and len(answers) < 5):
                answer = await client.post("/v1/customers", json={"name": "Après"}, headers=headers)
                answers.append(answer.status_code)
            assert answers in ([201], [503, 201]), answers
    finally:
        await app.state.runtime.db.dispose()
    engine = create_engine(sync_database_url(disposable_postgres.url))
    with engine.connect() as connection:
        names = connection.execute(select(Customer.name).order_by(Customer.name)).scalars().all()
        warmed = [f"Warm {n}" for n in range(4)]
        assert names == ["Après", "Avant", "Claire Martin", "Pendant", "Settle", *warmed]
        assert connection.execute(select(func.count()).select_from(Customer)).scalar_one() == 9
    engine.dispose()
