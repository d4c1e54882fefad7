"""CPU per request of each benchmarked operation, in-process: no server, no socket, no wrk.

The application is called as an ASGI app, one request after another, on a seeded database, and
the process's CPU time is divided by the requests served. Without the network, the load
generator and the scheduling of 32 connections, the figure moves by a few per cent between runs
on a shared machine (wrk's requests/s moves by ±15 %), which is what comparing two versions of
a hot path needs. Run it in two checkouts to compare them:

    python -m bench.inprocess --database sqlite                 # 20 000 orders, 3 rounds
    python -m bench.inprocess --only get_order --profile        # + a cProfile per operation

The bare FastAPI endpoint of ``bench/bare_app.py`` is measured the same way, as the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from app.main import create_app
from app.settings import Settings
from bench.bare_app import app as bare_app
from bench.seed import Seeded, fresh_postgres_database, seed

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# Requests per round: enough for a steady figure, few enough that the writes don't run out of
# orders in `received` (a fifth of the seed is moved by each transition round).
REQUESTS = {
    "bare": 5000,
    "get_order": 2000,
    "list_filtered": 200,
    "tracking_view": 1000,
    "create_order": 300,
    "transition": 300,
}
ORDER = json.dumps(
    {
        "customer": {"name": "Bench Client"},
        "watch": {"brand": "Omega", "movement_type": "automatic"},
    }
).encode()

Request = tuple[str, str, dict[str, str], bytes]


async def call(app: Any, method: str, target: str, headers: dict[str, str], body: bytes) -> int:
    """One HTTP request through the ASGI interface; returns the status code."""
    path, _, query = target.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    delivered = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never disconnects mid-request
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def requests(seeded: Seeded, operation: str, round_: int, rounds: int) -> Iterator[Request]:
    """The requests of one operation, endlessly; transitions walk their own share of orders."""
    counter = {"Authorization": f"Bearer {seeded.counter_key}", "Content-Type": "application/json"}
    technician = {**counter, "Authorization": f"Bearer {seeded.technician_key}"}
    share = len(seeded.received_ids) // rounds
    received = iter(seeded.received_ids[round_ * share : (round_ + 1) * share])
    i = 0
    while True:
        i += 1
        if operation == "bare":
            yield "GET", "/bare", {}, b""
        elif operation == "get_order":
            order_id = seeded.order_ids[i % len(seeded.order_ids)]
            yield "GET", f"/v1/repair-orders/{order_id}", counter, b""
        elif operation == "list_filtered":
            yield "GET", "/v1/repair-orders?status=ready&limit=50", counter, b""
        elif operation == "tracking_view":
            yield "GET", f"/v1/tracking/{seeded.tokens[i % len(seeded.tokens)]}", {}, b""
        elif operation == "create_order":
            yield "POST", "/v1/repair-orders", counter, ORDER
        elif operation == "transition":
            body = b'{"action":"start_diagnosis"}'
            yield "POST", f"/v1/repair-orders/{next(received)}/transitions", technician, body
        else:
            raise ValueError(operation)


async def measure(
    app: Any, stream: Iterator[Request], count: int, profile: cProfile.Profile | None
) -> float:
    """CPU milliseconds per request over ``count`` requests, after a short warm-up."""
    for _ in range(20):
        status = await call(app, *next(stream))
        assert status < 300, status
    batch = [next(stream) for _ in range(count)]
    profiling: AbstractContextManager[Any] = profile if profile is not None else nullcontext()
    started = time.process_time()
    with profiling:
        for request in batch:
            status = await call(app, *request)
            assert status < 300, (request, status)
            # Between two requests a server's loop runs whatever else is ready (background
            # tasks such as SQLite's WAL checkpoints, whose CPU is counted here too).
            await asyncio.sleep(0)
    return 1000 * (time.process_time() - started) / count


def app_for(url: str) -> Any:
    """The application as the in-process measures call it: quiet, no tracking rate limit."""
    return create_app(
        Settings(database_url=url, log_level="WARNING", tracking_rate_limit_per_minute=100_000_000)
    )


async def run(args: argparse.Namespace, url: str, seeded: Seeded) -> dict[str, list[float]]:
    app = app_for(url)
    operations = args.only or list(REQUESTS)
    figures: dict[str, list[float]] = {name: [] for name in operations}
    async with app.router.lifespan_context(app):
        for round_ in range(args.rounds):
            for name in operations:
                target = bare_app if name == "bare" else app
                # CPU time, as the figures are: the waits for the database are not counted.
                profile = cProfile.Profile(time.process_time) if args.profile else None
                stream = requests(seeded, name, round_, args.rounds)
                figures[name].append(await measure(target, stream, REQUESTS[name], profile))
                if profile is not None:
                    RESULTS.mkdir(exist_ok=True)
                    profile.dump_stats(RESULTS / f"inprocess-{name}-{round_}.prof")
                print(f"{round_} {name}: {figures[name][-1]:.3f} ms", file=sys.stderr)
    await app.state.runtime.db.dispose()
    return figures


def table(figures: dict[str, list[float]]) -> str:
    lines = ["| operation | CPU ms/request (median) | rounds |", "| --- | --- | --- |"]
    for name, values in figures.items():
        spread = ", ".join(f"{v:.3f}" for v in values)
        lines.append(f"| {name} | {statistics.median(values):.3f} | {spread} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    database_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="write cProfile files too")
    args = parser.parse_args(argv)

    with (
        tempfile.TemporaryDirectory(prefix="atelier-inprocess-") as work,
        throwaway_database(args, Path(work)) as url,
    ):
        seeded = seed(Settings(database_url=url), args.orders)
        figures = asyncio.run(run(args, url, seeded))
    print(table(figures), end="")
    return 0


def database_arguments(parser: argparse.ArgumentParser) -> None:
    """The database to seed and what to measure on it (``bench.instructions`` takes them too)."""
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--only", nargs="*", default=[], choices=list(REQUESTS))


def throwaway_database(args: argparse.Namespace, work: Path) -> AbstractContextManager[str]:
    """A throwaway PostgreSQL database, or a SQLite file in the work folder."""
    if args.database == "postgresql":
        return fresh_postgres_database(args.postgres_url)
    return nullcontext(f"sqlite+aiosqlite:///{work / 'bench.db'}")


if __name__ == "__main__":
    raise SystemExit(main())
