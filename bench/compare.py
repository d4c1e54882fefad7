"""Compare the in-process CPU per request of two checkouts, alternating them (A/B).

On a shared machine the CPU a request costs moves by up to 1.7× over an evening: two figures
taken half an hour apart compare the neighbours as much as the code. This runs
``bench.inprocess`` in a checkout of ``--base`` and in the working tree in turn, ``--pairs``
times, and reports for each operation the median and minimum over every round of each side and
the change of the median:

    python -m bench.compare --base HEAD~1                        # 4 pairs, reads and writes
    python -m bench.compare --base main --only get_order --pairs 6

The base is checked out with ``git worktree`` into a temporary folder (removed at the end) and
imported from there; both sides share this virtual environment.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OPERATIONS = ("get_order", "tracking_view", "create_order", "transition")


@dataclass
class Side:
    """Every round of every run of one checkout: CPU ms per request.

    The bare endpoint is measured too, as a sign of how busy the machine was, but nothing is
    divided by it: at 0.04 ms it is the noisiest figure of a run (±50 % between runs here)."""

    rounds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add_run(self, table: dict[str, list[float]]) -> None:
        for operation, values in table.items():
            self.rounds[operation].extend(values)


def parse_table(text: str) -> dict[str, list[float]]:
    """The rounds of each operation from ``bench.inprocess``'s table
    (``| get_order | 0.389 | 0.379, 0.423, 0.389 |``)."""
    table: dict[str, list[float]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("operation", "---"):
            continue
        try:
            table[cells[0]] = [float(value) for value in cells[2].split(",")]
        except ValueError:
            continue
    return table


def report(base: Side, head: Side, operations: Iterable[str]) -> str:
    lines = [
        "| operation | base median | head median | change | base min | head min |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for operation in ("bare", *(name for name in operations if name != "bare")):
        before, after = base.rounds.get(operation), head.rounds.get(operation)
        if not before or not after:
            continue
        change = statistics.median(after) / statistics.median(before) - 1
        lines.append(
            f"| {operation} | {statistics.median(before):.3f} | {statistics.median(after):.3f} "
            f"| {change:+.1%} | {min(before):.3f} | {min(after):.3f} |"
        )
    return "\n".join(lines) + "\n"


def _measure(tree: Path, args: argparse.Namespace) -> dict[str, list[float]]:
    command = [
        sys.executable, "-m", "bench.inprocess", "--database", args.database,
        "--orders", str(args.orders), "--rounds", str(args.rounds),
        "--only", "bare", *(name for name in args.only if name != "bare"),
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        command, cwd=tree, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.inprocess failed in {tree}:\n{done.stderr[-2000:]}")
    return parse_table(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="a git revision to compare against")
    parser.add_argument("--pairs", type=int, default=4, help="alternations base → head")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per run (bench.inprocess)")
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--only", nargs="*", default=list(DEFAULT_OPERATIONS))
    args = parser.parse_args(argv)

    base, head = Side(), Side()
    with tempfile.TemporaryDirectory(prefix="atelier-compare-") as work:
        tree = Path(work) / "base"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), args.base],
            cwd=ROOT,
            check=True,
        )
        try:
            for pair in range(args.pairs):
                base.add_run(_measure(tree, args))
                head.add_run(_measure(ROOT, args))
                print(f"pair {pair + 1}/{args.pairs} done", file=sys.stderr)
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False
            )
    print(f"base {args.base} against the working tree, {args.pairs} alternations:")
    print(report(base, head, args.only), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
