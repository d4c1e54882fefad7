"""Benchmark Atelier against a bare FastAPI endpoint measured in the same run.

For each repeat and each operation, a fresh server is started for the bare endpoint and then
for Atelier, and wrk drives it over loopback; the report gives requests/s, p50/p99 latency and
the server's CPU milliseconds per request, each as a ratio to the bare endpoint of that repeat,
with medians and the spread over repeats. On PostgreSQL, the database server's CPU per request
is reported beside the API's (on SQLite it is inside the API's), and for every run how busy the
machine's cores were (API, database and wrk together).

    python -m bench.run --database sqlite --workers 1      # 100 000 orders, 5 repeats of 5 s
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from app.db import sync_database_url
from app.serving import APP_FACTORY, HTTP_PROTOCOL
from app.settings import Settings
from bench.seed import Seeded, fresh_postgres_database, seed

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
WRK_THREADS = 2
# Each wrk thread walks its own interleaved share of the ids, so no id is used twice in a run
# (a transition on an id another thread already moved would be a 409, not a measure).
LUA = """
local ids = {%(ids)s}
local counter = 0
local created = 0
function setup(thread)
  thread:set("tid", created)
  created = created + 1
end
request = function()
  local id = ids[((counter * %(threads)d + tid) %% #ids) + 1]
  counter = counter + 1
  local path = string.gsub("%(path)s", "{id}", id)
  return wrk.format("%(method)s", path, nil, %(body)s)
end
"""


@dataclass
class Measure:
    operation: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    errors: int
    # The PostgreSQL server's processes (None on SQLite, or for a server on another machine).
    database_cpu_ms_per_request: float | None = None
    # API, database and wrk CPU over the measured run, as a share of all the machine's cores.
    cores_busy: float | None = None
    # Connections the PostgreSQL database accepted during the measured run: none from pools
    # that keep theirs open (overflow connections opened and closed under load were half the
    # database's CPU per write until the eighteenth round).
    connections_opened: int | None = None
    # The share of the API's CPU spent in the kernel (its system calls: the sockets to wrk and
    # to PostgreSQL, the loop's polling); the rest is user space, the interpreter mostly.
    kernel_share: float | None = None


class SessionCount:
    """How many connections a PostgreSQL database has accepted so far
    (``pg_stat_database.sessions``), read on one connection kept open for the run, so that
    reading opens none."""

    def __init__(self, url: str) -> None:
        engine = create_engine(sync_database_url(url), isolation_level="AUTOCOMMIT")
        self._connection = engine.connect()

    def __call__(self) -> int:
        self._connection.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        count = self._connection.exec_driver_sql(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ).scalar_one()
        return int(count)

    def close(self) -> None:
        engine = self._connection.engine
        self._connection.close()
        engine.dispose()


def _cpu_times(root_pid: int) -> tuple[float, float]:
    """User and system CPU of a process and its children, from /proc: a uvicorn server and its
    workers, or PostgreSQL's postmaster and its backends."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == root_pid:
            # Its own time, and its children's that have exited (a backend that closed).
            user += int(fields[11]) + int(fields[13])
            system += int(fields[12]) + int(fields[14])
        elif ppid == root_pid:
            user += int(fields[11])
            system += int(fields[12])
    return user / tick, system / tick


def _cpu_seconds(root_pid: int) -> float:
    """User + system CPU (``_cpu_times``)."""
    return sum(_cpu_times(root_pid))


def is_local_postgres(url: str) -> bool:
    """Whether ``url`` reaches a PostgreSQL server on this machine: over loopback, or through
    a Unix socket (no host, as libpq defaults to, or a socket folder as the ``host`` query
    parameter)."""
    parsed = make_url(url)
    if parsed.host is None:
        socket = parsed.query.get("host")
        folder = socket[0] if isinstance(socket, tuple) else socket
        return folder is None or folder.startswith("/")
    return parsed.host in ("127.0.0.1", "localhost", "::1")


def postgres_server_pid(url: str) -> int | None:
    """The postmaster of the PostgreSQL server at ``url``, whose processes' CPU the report
    adds up; None when the server is not on this machine or its processes cannot be read."""
    if not is_local_postgres(url):
        return None
    engine = create_engine(sync_database_url(url))
    try:
        with engine.connect() as connection:
            # Read while the backend lives: it exits with the connection.
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            try:
                stat = Path(f"/proc/{backend}/stat").read_text()
            except OSError:
                return None
    finally:
        engine.dispose()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _children_cpu_seconds() -> float:
    """User + system CPU of this process's finished children (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# What uvicorn logs once a worker has run the application's start-up: with several workers,
# a first answer comes from the first one ready, and a worker still starting would open its
# pools' connections during the measured run (20 new PostgreSQL connections in each 2-worker
# read's repeat, and their p99 with them, until the twenty-second round).
STARTED = "Application startup complete"


def _wait_ready(url: str, log: Path, workers: int, timeout: float = 30) -> None:
    """Until ``url`` answers and every worker has logged its start-up in ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback)
                if response.status == 200 and log.read_text().count(STARTED) >= workers:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not start: {log.read_text()[-2000:]}")


def _check_port_free(port: int) -> None:
    """Refuse to measure while something answers on ``port`` (a server left by an interrupted
    run): uvicorn logs its start-up before it fails to bind, so the benchmark would measure
    that one instead."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is taken: stop what listens there, or pass --port")


def _serve(
    target: str,
    port: int,
    workers: int,
    env: dict[str, str],
    loop: str = "auto",
    *,
    log: Path,
) -> subprocess.Popen[bytes]:
    """The server, its own log (uvicorn's, at info: its start-up and shutdown lines, no access
    log) written to ``log``."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "info",
        "--no-access-log",
        "--loop",
        loop,
        "--http",
        HTTP_PROTOCOL,  # what `atelier serve` uses, for both servers
    ]
    if target.startswith("app."):
        command.append("--factory")
    with log.open("wb") as output:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, start_new_session=True, stdout=output, stderr=output
        )


def _show_unusual(log: Path) -> None:
    """Print what a server logged beyond uvicorn's start-up and shutdown lines (a warning, an
    error's traceback), then remove its log."""
    lines = log.read_text(errors="replace").splitlines()
    unusual = [line for line in lines if not line.startswith("INFO:")]
    if unusual:
        print("\n".join(unusual), file=sys.stderr)
    log.unlink(missing_ok=True)


def _parse(output: str) -> tuple[float, float, float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", output, re.M)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return rps, percentile("50"), percentile("99"), errors


def _wrk(url: str, script: Path | None, connections: int, duration: int) -> str:
    command = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections)]
    command += ["-d", f"{duration}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def _script(
    directory: Path,
    name: str,
    method: str,
    path: str,
    ids: list[str],
    headers: dict[str, str],
    body: str | None,
) -> Path:
    lua_headers = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    script = directory / f"{name}.lua"
    script.write_text(
        lua_headers
        + LUA
        % {
            "ids": ",".join(f'"{i}"' for i in ids[:20000]),
            "threads": WRK_THREADS,
            "path": path,
            "method": method,
            "body": json.dumps(body) if body is not None else "nil",
        }
    )
    return script


def _measure(
    name: str,
    target: str,
    url: str,
    scripts: tuple[Path | None, Path | None],
    args: argparse.Namespace,
    env: dict[str, str],
    port: int,
) -> Measure:
    """Start a fresh server, warm it up for a second, then measure it for ``args.duration``."""
    warm_script, script = scripts
    _check_port_free(port)
    descriptor, log_name = tempfile.mkstemp(prefix="atelier-server-", suffix=".log")
    os.close(descriptor)  # the server's process writes it (``_serve``)
    log = Path(log_name)
    server = _serve(target, port, args.workers, env, args.loop, log=log)
    try:
        _wait_ready(
            f"http://127.0.0.1:{port}{'/bare' if target.startswith('bench') else '/healthz'}",
            log,
            args.workers,
        )
        # With several workers, the warm-up's connections and the measured run's are shared out
        # among them anew by the kernel: warmed with as many connections per worker as the run
        # has in all, each worker's pools open what the run can ask of them before it starts.
        _wrk(url, warm_script, args.connections * args.workers, 1)
        database: int | None = getattr(args, "database_pid", None)
        sessions: SessionCount | None = getattr(args, "database_sessions", None)
        sessions_before = sessions() if sessions is not None else 0
        before = _cpu_times(server.pid)
        database_before = _cpu_seconds(database) if database else 0.0
        wrk_before, started = _children_cpu_seconds(), time.monotonic()
        output = _wrk(url, script, args.connections, args.duration)
        elapsed = time.monotonic() - started
        wrk_cpu = _children_cpu_seconds() - wrk_before
        user, system = _cpu_times(server.pid)
        user, system = user - before[0], system - before[1]
        cpu = user + system
        database_cpu = _cpu_seconds(database) - database_before if database else None
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        _show_unusual(log)
    # Read once the server is gone: its backends report their connection by their exit at
    # the latest.
    opened = sessions() - sessions_before if sessions is not None else None
    rps, p50, p99, errors = _parse(output)
    requests = max(rps * args.duration, 1)
    return Measure(
        name,
        rps,
        p50,
        p99,
        1000 * cpu / requests,
        errors,
        database_cpu_ms_per_request=(
            1000 * database_cpu / requests if database_cpu is not None else None
        ),
        cores_busy=(cpu + (database_cpu or 0.0) + wrk_cpu) / (elapsed * (os.cpu_count() or 1)),
        connections_opened=opened,
        kernel_share=system / cpu if cpu > 0 else None,
    )


Scripts = tuple[Path | None, Path | None]


def operations(
    seeded: Seeded, work: Path, base: str, repeat: int, repeats: int
) -> dict[str, tuple[str, Scripts]]:
    """The measured operations of one repeat: (url, (warm-up script, measured script))."""
    counter = {"Authorization": f"Bearer {seeded.counter_key}", "Content-Type": "application/json"}
    technician = {
        "Authorization": f"Bearer {seeded.technician_key}",
        "Content-Type": "application/json",
    }
    order = json.dumps(
        {
            "customer": {"name": "Bench Client"},
            "watch": {"brand": "Omega", "movement_type": "automatic"},
        }
    )
    # Every repeat moves orders of its own out of `received`; the warm-up uses the first sixth.
    share = len(seeded.received_ids) // repeats
    mine = seeded.received_ids[repeat * share : (repeat + 1) * share]
    warm_ids, measured_ids = mine[: share // 6], mine[share // 6 :]
    start_diagnosis = json.dumps({"action": "start_diagnosis"})
    transition_path = "/v1/repair-orders/{id}/transitions"

    def same(script: Path) -> Scripts:
        return script, script

    return {
        "create_order": (
            f"{base}/v1/repair-orders",
            same(_script(work, "create", "POST", "/v1/repair-orders", ["x"], counter, order)),
        ),
        "get_order": (
            f"{base}/v1/repair-orders",
            same(
                _script(
                    work, "get", "GET", "/v1/repair-orders/{id}", seeded.order_ids, counter, None
                )
            ),
        ),
        "transition": (
            f"{base}/v1/repair-orders",
            (
                _script(
                    work,
                    "transition-warm",
                    "POST",
                    transition_path,
                    warm_ids,
                    technician,
                    start_diagnosis,
                ),
                _script(
                    work,
                    "transition",
                    "POST",
                    transition_path,
                    measured_ids,
                    technician,
                    start_diagnosis,
                ),
            ),
        ),  # fmt: skip
        "list_filtered": (
            f"{base}/v1/repair-orders",
            same(
                _script(
                    work,
                    "list",
                    "GET",
                    "/v1/repair-orders?status=ready&limit=50",
                    ["x"],
                    counter,
                    None,
                )
            ),
        ),  # fmt: skip
        "tracking_view": (
            f"{base}/v1/tracking",
            same(_script(work, "tracking", "GET", "/v1/tracking/{id}", seeded.tokens, {}, None)),
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    server_arguments(parser, port=8765)
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument(
        "--only", nargs="*", default=[], help="measure only these operations (default: all)"
    )
    return on_database(parser.parse_args(argv), _run, "bench")


def server_arguments(parser: argparse.ArgumentParser, *, port: int) -> None:
    """Where and how the measured servers run (shared by bench.run and bench.scaling)."""
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="the server to use: the benchmark creates a database of its own there, then drops it",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default="asyncio",
        help="uvicorn's event loop, for every server (the service's default is asyncio)",
    )


def on_database(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace, str, Path, dict[str, str]], int],
    name: str,
) -> int:
    """Check for wrk, make a work folder, and run with a throwaway PostgreSQL database or a
    SQLite file in that folder; ``run`` gets the URL and the servers' environment."""
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix=f"atelier-{name}-"))
    if args.database == "postgresql":
        args.database_pid = postgres_server_pid(args.postgres_url)
        with fresh_postgres_database(args.postgres_url) as url:
            return run(args, url, work, _server_environment(url))
    url = f"sqlite+aiosqlite:///{work / f'{name}.db'}"
    return run(args, url, work, _server_environment(url))


def _server_environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "ATELIER_DATABASE_URL": url,
        "ATELIER_LOG_LEVEL": "WARNING",  # no JSON access line, like the bare endpoint's server
        "ATELIER_TRACKING_RATE_LIMIT_PER_MINUTE": "100000000",
    }


def _run(args: argparse.Namespace, url: str, work: Path, env: dict[str, str]) -> int:
    seeded = seed(Settings(database_url=url), args.orders)
    sessions = SessionCount(url) if args.database == "postgresql" else None
    args.database_sessions = sessions
    try:
        return _run_seeded(args, seeded, work, env)
    finally:
        if sessions is not None:
            sessions.close()


def _run_seeded(args: argparse.Namespace, seeded: Seeded, work: Path, env: dict[str, str]) -> int:
    base = f"http://127.0.0.1:{args.port}"
    runs: list[dict[str, object]] = []
    for repeat in range(args.repeats):
        measured_operations = operations(seeded, work, base, repeat, args.repeats)
        for name, (target_url, scripts) in measured_operations.items():
            if args.only and name not in args.only:
                continue
            bare = _measure(
                "bare", "bench.bare_app:app", f"{base}/bare", (None, None), args, env, args.port
            )
            measured = _measure(name, APP_FACTORY, target_url, scripts, args, env, args.port)
            runs.append({"repeat": repeat, "bare": asdict(bare), "operation": asdict(measured)})
            print(
                f"{repeat} {name}: {measured.requests_per_second:.0f} req/s "
                f"({measured.requests_per_second / bare.requests_per_second:.0%} of bare), "
                f"p99 {measured.p99_ms:.1f} ms, errors {measured.errors}"
                + (
                    f", new database connections {measured.connections_opened}"
                    if measured.connections_opened is not None
                    else ""
                ),
                file=sys.stderr,
            )
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = RESULTS / f"{stamp}-{args.database}-w{args.workers}.json"
    settings = {name: value for name, value in vars(args).items() if name != "database_sessions"}
    out.write_text(json.dumps({"args": settings, "runs": runs}, indent=2))
    print(summary(runs), end="")
    print(f"raw results: {out}", file=sys.stderr)
    return 0


# The targets, per operation: share of the bare endpoint's requests/s, and p99.
READS = ("get_order", "list_filtered", "tracking_view")
WRITES = ("create_order", "transition")
TARGET_SHARE = {**dict.fromkeys(READS, 0.30), **dict.fromkeys(WRITES, 0.10)}
TARGET_P99_MS = 50.0


# One measure as the raw results hold it (``Measure``'s fields, by name).
Figures = dict[str, Any]


def summary(runs: list[dict[str, object]]) -> str:
    """A Markdown table: medians over repeats, ratios to the bare endpoint, the spread, and
    whether the operation meets its targets (share of the bare endpoint's req/s, p99). The
    database's CPU per request (PostgreSQL), the cores' busy share and the share of the API's
    CPU spent in the kernel (with the bare endpoint's beside it) are medians too."""
    by_operation: dict[str, list[tuple[Figures, Figures]]] = {}
    for run in runs:
        operation, bare = cast(Figures, run["operation"]), cast(Figures, run["bare"])
        by_operation.setdefault(operation["operation"], []).append((operation, bare))
    header = (
        "| operation | req/s (median) | vs bare | p50 ms | p99 ms | CPU ms/req | vs bare "
        "| DB CPU ms/req | cores busy | API CPU in kernel (bare's) | spread req/s | errors "
        "| target (vs bare, p99) |"
    )
    lines = [header, "| --- " * 13 + "|"]
    for name, pairs in by_operation.items():
        rps = [o["requests_per_second"] for o, _ in pairs]
        ratio = statistics.median(
            o["requests_per_second"] / b["requests_per_second"] for o, b in pairs
        )
        p99 = statistics.median(o["p99_ms"] for o, _ in pairs)
        cpu_ratio = [o["cpu_ms_per_request"] / max(b["cpu_ms_per_request"], 1e-9) for o, b in pairs]
        database = _median_of(pairs, "database_cpu_ms_per_request")
        busy = _median_of(pairs, "cores_busy")
        kernel = _median_of(pairs, "kernel_share")
        bare_kernel = _median_of([(b, o) for o, b in pairs], "kernel_share")
        in_kernel = (
            "–" if kernel is None or bare_kernel is None else f"{kernel:.0%} ({bare_kernel:.0%})"
        )
        lines.append(
            f"| {name} | {statistics.median(rps):.0f} | {ratio:.0%} "
            f"| {statistics.median(o['p50_ms'] for o, _ in pairs):.1f} "
            f"| {p99:.1f} "
            f"| {statistics.median(o['cpu_ms_per_request'] for o, _ in pairs):.2f} "
            f"| {statistics.median(cpu_ratio):.1f}× "
            f"| {'–' if database is None else f'{database:.2f}'} "
            f"| {'–' if busy is None else f'{busy:.0%}'} "
            f"| {in_kernel} "
            f"| {min(rps):.0f}–{max(rps):.0f} "
            f"| {sum(o['errors'] for o, _ in pairs)} | {_verdict(name, ratio, p99)} |"
        )
    return "\n".join(lines) + "\n"


def _median_of(pairs: list[tuple[Figures, Figures]], key: str) -> float | None:
    """The operation's median of an optional figure (None where no run has it: older
    results, SQLite's database CPU)."""
    values = [o[key] for o, _ in pairs if o.get(key) is not None]
    return statistics.median(values) if values else None


def _verdict(name: str, ratio: float, p99_ms: float) -> str:
    share = TARGET_SHARE.get(name)
    if share is None:
        return "–"
    share_met = "met" if ratio >= share else "not met"
    p99_met = "met" if p99_ms < TARGET_P99_MS else "not met"
    return f"≥ {share:.0%}: {share_met}; < {TARGET_P99_MS:.0f} ms: {p99_met}"


if __name__ == "__main__":
    raise SystemExit(main())
