"""Instructions per request of each benchmarked operation, counted by valgrind's callgrind.

CPU time moves with the neighbours on a shared machine (the in-process figures of
``bench.inprocess`` by 10 % and more between two runs of the same code); the instructions a
process runs do not. For each operation the application serves N requests in-process (after
a warm-up, as ``bench.inprocess`` calls it) under ``valgrind --tool=callgrind``, once with a
small N and once with a large one; the difference of the two counts divided by the difference
of the requests is what one request costs, the start-up and the warm-up cancelled out. Both
runs use ``PYTHONHASHSEED=0``. Runs of the same tree still differ by a few per cent (the
garbage collector's passes fall at other points), so read a change of a few per cent from
several operations, and confirm it served::

    python -m bench.instructions --database postgresql --only list_filtered get_order

Needs valgrind (``apt-get install valgrind``); about a minute and a half a run, two runs an
operation.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from app.settings import Settings
from bench.bare_app import app as bare_app
from bench.inprocess import (
    REQUESTS,
    app_for,
    call,
    database_arguments,
    requests,
    throwaway_database,
)
from bench.seed import Seeded, seed

WARM_UP = 30
COUNTS = (100, 400)


async def serve(url: str, seeded: Seeded, operation: str, count: int, run: int) -> None:
    """``WARM_UP`` + ``count`` requests of ``operation``; each run its own share of orders."""
    app = app_for(url)
    stream = requests(seeded, operation, run, len(COUNTS))
    target = bare_app if operation == "bare" else app
    async with app.router.lifespan_context(app):
        for _ in range(WARM_UP + count):
            status = await call(target, *next(stream))
            assert status < 300, status
    await app.state.runtime.db.dispose()


def counted(url: str, seeded_file: Path, operation: str, count: int, run: int) -> int:
    """The instructions of one run of ``serve`` in a process of its own, under callgrind."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "bench.instructions",
        "--serve",
        url,
        str(seeded_file),
        operation,
        str(count),
        str(run),
    ]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    assert match, done.stderr[-2000:]
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    if argv is None and sys.argv[1:2] == ["--serve"]:
        url, seeded_path, operation, count, run = sys.argv[2:7]
        seeded = Seeded(**json.loads(Path(seeded_path).read_text()))
        asyncio.run(serve(url, seeded, operation, int(count), int(run)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    database_arguments(parser)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is needed: apt-get install valgrind", file=sys.stderr)
        return 2
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="atelier-instructions-") as work,
        throwaway_database(args, Path(work)) as url,
    ):
        seeded = seed(Settings(database_url=url), args.orders)
        seeded_file = Path(work) / "seeded.json"
        seeded_file.write_text(json.dumps(dataclasses.asdict(seeded)))
        for operation in args.only or list(REQUESTS):
            few, many = (
                counted(url, seeded_file, operation, count, run) for run, count in enumerate(COUNTS)
            )
            per_request = (many - few) / (COUNTS[1] - COUNTS[0])
            rows.append((operation, per_request))
            print(f"{operation}: {per_request / 1e6:.3f} M instructions", file=sys.stderr)
    print("| operation | instructions per request |")
    print("| --- | --- |")
    for operation, per_request in rows:
        print(f"| {operation} | {per_request / 1e6:.3f} M |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
