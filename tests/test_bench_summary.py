"""The benchmark tools: the report (medians over repeats, ratios to the bare endpoint of the
same repeat, each operation judged against the issue's targets) and the in-process measure."""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app.db import sync_database_url
from app.settings import Settings
from bench import run as bench_run
from bench.compare import Side, parse_table, report
from bench.run import (
    STARTED,
    SessionCount,
    _cpu_times,
    _measure,
    _show_unusual,
    _wait_ready,
    is_local_postgres,
    summary,
)
from bench.seed import fresh_postgres_database, seed
from tests.conftest import is_postgresql


def _run(
    repeat: int,
    name: str,
    rps: float,
    p99: float,
    bare_rps: float,
    database_cpu: float | None = None,
    busy: float | None = None,
    kernel: tuple[float, float] | None = None,
) -> dict[str, object]:
    def measure(operation: str, rps: float, p99: float, cpu: float) -> dict[str, object]:
        return {
            "operation": operation,
            "requests_per_second": rps,
            "p50_ms": p99 / 2,
            "p99_ms": p99,
            "cpu_ms_per_request": cpu,
            "errors": 0,
        }

    operation, bare = measure(name, rps, p99, 0.4), measure("bare", bare_rps, 5.0, 0.1)
    if busy is not None:  # results written before these figures have neither key
        operation |= {"database_cpu_ms_per_request": database_cpu, "cores_busy": busy}
    if kernel is not None:  # nor, before the nineteenth round, the kernel's share
        operation["kernel_share"], bare["kernel_share"] = kernel
    return {"repeat": repeat, "bare": bare, "operation": operation}


def test_medians_and_ratios_are_per_repeat_and_targets_are_judged() -> None:
    runs = [
        _run(0, "get_order", 3_000, 20.0, 10_000, 0.05, 0.9, (0.12, 0.18)),  # 30 %
        _run(1, "get_order", 2_000, 30.0, 5_000, 0.07, 0.8, (0.10, 0.16)),  # 40 %
        _run(2, "get_order", 1_000, 90.0, 10_000, 0.06, 1.0, (0.14, 0.14)),  # 10 %
        _run(0, "transition", 500, 60.0, 10_000, None, 0.5),  # 5 %, SQLite: no database CPU
        _run(0, "list_filtered", 900, 40.0, 9_000),  # 10 %, an older result
    ]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in summary(runs).splitlines()[2:]}
    get_order = rows["get_order"].split(" | ")
    assert get_order[1:3] == ["2000", "30%"]  # median req/s; median of the three ratios
    assert get_order[4] == "30.0"  # median p99
    assert get_order[7:9] == ["0.06", "90%"]  # median database CPU and cores busy
    assert get_order[9] == "12% (16%)"  # the API's CPU in the kernel, the bare endpoint's
    assert get_order[10] == "1000–3000"
    assert rows["transition"].split(" | ")[7:10] == ["–", "50%", "–"]
    assert rows["list_filtered"].split(" | ")[7:10] == ["–", "–", "–"]
    assert rows["get_order"].endswith("≥ 30%: met; < 50 ms: met |")
    assert rows["transition"].endswith("≥ 10%: not met; < 50 ms: not met |")


async def test_the_in_process_measure_drives_an_asgi_app_and_sees_its_status() -> None:
    from bench.bare_app import app as bare_app
    from bench.inprocess import call, table

    assert await call(bare_app, "GET", "/bare", {}, b"") == 200
    assert await call(bare_app, "GET", "/nothing?x=1", {"Accept": "*/*"}, b"") == 404
    assert (
        table({"bare": [0.03, 0.01, 0.02]}).splitlines()[2]
        == "| bare | 0.020 | 0.030, 0.010, 0.020 |"
    )


def test_the_comparison_reads_both_tables_and_takes_medians_over_every_round() -> None:
    base, head = Side(), Side()
    base.add_run(parse_table(_TABLE.format(bare="0.040, 0.040, 0.040", get="0.400, 0.420, 0.410")))
    base.add_run(parse_table(_TABLE.format(bare="0.080, 0.080, 0.080", get="0.800, 0.800, 0.800")))
    head.add_run(parse_table(_TABLE.format(bare="0.040, 0.040, 0.040", get="0.300, 0.320, 0.310")))
    head.add_run(parse_table(_TABLE.format(bare="0.080, 0.080, 0.080", get="0.600, 0.600, 0.600")))
    lines = report(base, head, ["get_order"]).splitlines()[2:]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines}
    get_order = rows["get_order"].strip("| ").split(" | ")
    # Medians over all six rounds of a side (a busier second run doubled every figure).
    assert get_order[1:4] == ["0.610", "0.460", "-24.6%"]
    assert get_order[4:6] == ["0.400", "0.300"]
    assert rows["bare"].strip("| ").split(" | ")[1:4] == ["0.060", "0.060", "+0.0%"]


_TABLE = """| operation | CPU ms/request (median) | rounds |
| --- | --- | --- |
| bare | 0.040 | {bare} |
| get_order | 0.410 | {get} |
"""


def test_a_postgresql_on_loopback_or_its_unix_socket_is_local_and_another_host_is_not() -> None:
    """Its processes' CPU is then added up in the report (the database's CPU per request)."""
    assert is_local_postgres("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    assert is_local_postgres("postgresql+psycopg://postgres@localhost/test")
    assert is_local_postgres("postgresql+psycopg://postgres@/test?host=/var/run/postgresql")
    assert is_local_postgres("postgresql+psycopg://postgres@/test")
    assert not is_local_postgres("postgresql+psycopg://postgres@db.internal:5432/test")
    assert not is_local_postgres("postgresql+psycopg://postgres@/test?host=db.internal")


def test_the_session_count_sees_a_new_connection(database_url: str) -> None:
    if not is_postgresql(database_url):
        pytest.skip("PostgreSQL's statistics")
    count = SessionCount(database_url)
    try:
        before = count()
        engine = create_engine(sync_database_url(database_url), poolclass=NullPool)
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
        # A backend reports its connection with its statistics, by its exit at the latest.
        deadline = time.monotonic() + 5
        while count() == before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count() > before
    finally:
        count.close()


def test_a_process_cpu_is_split_between_user_space_and_the_kernel() -> None:
    """The report's kernel share reads the two apart: a loop of arithmetic is user time, a
    loop of system calls mostly system time."""
    user, system = _cpu_times(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        sum(range(1000))
    busy_user, busy_system = _cpu_times(os.getpid())
    assert busy_user - user > 0.15
    assert busy_system - system < 0.1
    descriptor = os.open(os.devnull, os.O_WRONLY)
    try:
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:
            for _ in range(100):
                os.write(descriptor, b"x")
    finally:
        os.close(descriptor)
    _, calls_system = _cpu_times(os.getpid())
    assert calls_system - busy_system > 0.05


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz"
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_is_measured_only_once_every_worker_has_started(
    answering: str, tmp_path: Path
) -> None:
    """With several workers the first answer comes from the first one ready: the benchmark
    also waits for each worker's start-up line in the server's log."""
    log = tmp_path / "server.log"
    log.write_text(f"INFO:     {STARTED}.\n")
    with pytest.raises(RuntimeError, match="did not start"):
        _wait_ready(answering, log, workers=2, timeout=0.3)
    with log.open("a") as more:
        more.write(f"INFO:     {STARTED}.\n")
    _wait_ready(answering, log, workers=2, timeout=5)


def test_what_a_server_logs_beyond_uvicorns_own_lines_is_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "server.log"
    log.write_text(f"INFO:     Started server process [1]\nINFO:     {STARTED}.\n")
    _show_unusual(log)
    assert capsys.readouterr().err == ""
    assert not log.exists()
    log.write_text('INFO:     Started server process [1]\n{"level": "ERROR", "event": "boom"}\n')
    _show_unusual(log)
    assert capsys.readouterr().err == '{"level": "ERROR", "event": "boom"}\n'


@pytest.mark.skipif(shutil.which("wrk") is None, reason="the benchmark's load generator, wrk")
def test_a_measure_carries_the_operations_name_and_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A measured run is reported under the operation it measured (the server's log file's
    name once took its place in the results and in the summary's rows). With two workers, the
    warm-up has as many connections per worker as the measured run has in all."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connections: list[int] = []
    real_wrk = bench_run._wrk

    def counted(url: str, script: Path | None, clients: int, duration: int) -> str:
        connections.append(clients)
        return real_wrk(url, script, clients, duration)

    monkeypatch.setattr(bench_run, "_wrk", counted)
    args = argparse.Namespace(duration=1, workers=2, connections=2, loop="auto")
    measured = _measure(
        "bare",
        "bench.bare_app:app",
        f"http://127.0.0.1:{port}/bare",
        (None, None),
        args,
        dict(os.environ),
        port,
    )
    assert measured.operation == "bare"
    assert measured.requests_per_second > 0
    assert 0 < measured.p50_ms <= measured.p99_ms
    assert measured.errors == 0
    assert connections == [4, 2]  # the warm-up's, then the measured run's


def test_a_measure_refuses_a_port_something_answers_on(answering: str, tmp_path: Path) -> None:
    """A server left by an interrupted run would be measured in the new one's place."""
    port = int(answering.rsplit(":", 1)[1].split("/")[0])
    args = argparse.Namespace(duration=1, workers=1, connections=2, loop="auto")
    with pytest.raises(RuntimeError, match=f"port {port} is taken"):
        _measure("bare", "bench.bare_app:app", answering, (None, None), args, {}, port)


def test_a_seed_leaves_nothing_of_its_load_to_the_measured_runs(database_url: str) -> None:
    """After the bulk load on PostgreSQL every table is vacuumed and analysed (no autovacuum
    to come) and a checkpoint is taken."""
    if not is_postgresql(database_url):
        pytest.skip("PostgreSQL's vacuum and checkpoints")
    with fresh_postgres_database(database_url) as url:
        before = _checkpoints(url)
        seed(Settings(database_url=url), 40)
        engine = create_engine(sync_database_url(url), poolclass=NullPool)
        with engine.connect() as connection:
            unsettled = connection.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE n_live_tup > 0"
                " AND (last_vacuum IS NULL OR last_analyze IS NULL)"
            ).all()
        engine.dispose()
        assert unsettled == []
        assert _checkpoints(url) > before


def _checkpoints(url: str) -> int:
    """Checkpoints the server has taken, asked for or timed."""
    engine = create_engine(sync_database_url(url), poolclass=NullPool)
    with engine.connect() as connection:
        count = connection.exec_driver_sql(
            "SELECT checkpoints_req + checkpoints_timed FROM pg_stat_bgwriter"
        ).scalar_one()
    engine.dispose()
    return int(count)
