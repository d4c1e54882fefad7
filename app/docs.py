"""Generated parts of the documentation: the lifecycle diagram in docs/architecture.md."""

from __future__ import annotations

import sys

from app.domain.lifecycle import TRANSITIONS, OrderStatus, mermaid_state_diagram
from app.migrate import PROJECT_ROOT

ARCHITECTURE_DOC = PROJECT_ROOT / "docs" / "architecture.md"
START = "<!-- state-diagram:start -->"
END = "<!-- state-diagram:end -->"


def transition_table() -> str:
    rows = ["| action | from | to | roles | guards |", "| --- | --- | --- | --- | --- |"]
    order = list(OrderStatus).index
    for t in TRANSITIONS.values():
        sources = ", ".join(s.value for s in sorted(t.sources, key=order))
        target = t.target.value + (f" ({t.outcome.value})" if t.outcome else "")
        roles = ", ".join(sorted(r.value for r in t.roles))
        guards = ", ".join(g.__name__ for g in t.guards) or "—"
        rows.append(f"| `{t.action}` | {sources} | {target} | {roles} | {guards} |")
    return "\n".join(rows) + "\n"


def diagram_block() -> str:
    return f"{START}\n```mermaid\n{mermaid_state_diagram()}```\n\n{transition_table()}{END}"


def with_current_diagram(document: str) -> str:
    head, _, rest = document.partition(START)
    _, _, tail = rest.partition(END)
    return head + diagram_block() + tail


def write() -> None:
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    ARCHITECTURE_DOC.write_text(with_current_diagram(text), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["write"]:
        print("usage: python -m app.docs write", file=sys.stderr)
        raise SystemExit(2)
    write()
