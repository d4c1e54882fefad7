"""The documentation's generated parts are up to date."""

from __future__ import annotations

from app.docs import ARCHITECTURE_DOC, diagram_block, with_current_diagram


def test_architecture_doc_shows_the_current_state_machine() -> None:
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    assert diagram_block() in text, "docs/architecture.md is stale: run `make docs`"
    assert with_current_diagram(text) == text
