"""List latency as the table grows: the same list requests at 10 000, 100 000 and 1 000 000 orders.

The database grows in steps (bulk-seeded); at each size a fresh server is measured with wrk on
three list requests: the first page of a status filter, a page deep in the table reached by a
cursor, and one customer's orders. Flat latency means every filter and the cursor are served by
an index range, never by a scan or a sort of the matching rows.

    python -m bench.scaling --database sqlite --sizes 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from app.db import sync_database_url
from app.pagination import encode_cursor, filters_fingerprint
from app.repositories.repair_orders import OrderFilters
from app.settings import Settings
from bench.run import RESULTS, Measure, _measure, _script, on_database, server_arguments
from bench.seed import seed


def _deep_cursor(url: str, fraction: float) -> str:
    """The cursor of a `ready` order ``fraction`` of the way down the newest-first list."""
    engine = create_engine(sync_database_url(url))
    with engine.connect() as connection:
        total = connection.execute(
            text("SELECT count(*) FROM repair_orders WHERE status = 'ready'")
        ).scalar_one()
        created_at, row_id = connection.execute(
            text(
                "SELECT created_at, id FROM repair_orders WHERE status = 'ready' "
                "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET :skip"
            ),
            {"skip": int(total * fraction)},
        ).one()
    engine.dispose()
    if isinstance(created_at, str):  # SQLite hands back text
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:  # stored in UTC
        created_at = created_at.replace(tzinfo=UTC)
    row = uuid.UUID(str(row_id)) if not isinstance(row_id, uuid.UUID) else row_id
    filters = {**vars(OrderFilters()), "statuses": ["ready"]}
    return encode_cursor(created_at, row, filters_fingerprint(filters))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    server_arguments(parser, port=8766)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--duration", type=int, default=4)
    return on_database(parser.parse_args(argv), _run, "scaling")


def _run(args: argparse.Namespace, url: str, work: Path, env: dict[str, str]) -> int:
    base = f"http://127.0.0.1:{args.port}"
    seeded_so_far = 0
    rows: list[dict[str, object]] = []
    for size in sorted(args.sizes):
        started = time.monotonic()
        seeded = seed(Settings(database_url=url), size - seeded_so_far, start=seeded_so_far)
        seeded_so_far = size
        print(f"{size} orders seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        headers = {"Authorization": f"Bearer {seeded.counter_key}"}
        customer = _customer_of_an_order(url)
        requests = {
            "first page, status=ready": "/v1/repair-orders?status=ready&limit=50",
            "deep page (cursor at 50 %), status=ready": (
                f"/v1/repair-orders?status=ready&limit=50&cursor={_deep_cursor(url, 0.5)}"
            ),
            "customer_id filter": f"/v1/repair-orders?customer_id={customer}&limit=50",
        }
        for label, path in requests.items():
            script = _script(work, "scaling", "GET", path, ["x"], headers, None)
            measures: list[Measure] = [
                _measure(label, "app.main:create_app", f"{base}/v1/repair-orders",
                         (script, script), args, env, args.port)
                for _ in range(args.repeats)
            ]  # fmt: skip
            row = {
                "orders": size,
                "request": label,
                "rps": statistics.median(m.requests_per_second for m in measures),
                "p50_ms": statistics.median(m.p50_ms for m in measures),
                "p99_ms": statistics.median(m.p99_ms for m in measures),
                "cpu_ms": statistics.median(m.cpu_ms_per_request for m in measures),
                "errors": sum(m.errors for m in measures),
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{time.strftime('%Y%m%d-%H%M%S')}-scaling-{args.database}.json"
    out.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2))
    print("| orders | request | req/s | p50 ms | p99 ms | CPU ms/req | errors |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['orders']:,} | {row['request']} | {row['rps']:.0f} | {row['p50_ms']:.1f} "
            f"| {row['p99_ms']:.1f} | {row['cpu_ms']:.2f} | {row['errors']} |"
        )
    print(f"raw results: {out}", file=sys.stderr)
    return 0


def _customer_of_an_order(url: str) -> str:
    engine = create_engine(sync_database_url(url))
    with engine.connect() as connection:
        customer = connection.execute(
            text("SELECT customer_id FROM repair_orders ORDER BY created_at LIMIT 1")
        ).scalar_one()
    engine.dispose()
    return str(uuid.UUID(str(customer)))


if __name__ == "__main__":
    raise SystemExit(main())
