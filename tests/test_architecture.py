"""The layering rules of docs/architecture.md, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
FORBIDDEN_IN_DOMAIN = ("fastapi", "starlette", "sqlmodel", "sqlalchemy", "pydantic", "alembic")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_domain_imports_no_framework_and_no_outer_layer() -> None:
    for path in (APP / "domain").rglob("*.py"):
        for name in _imports(path):
            root = name.split(".")[0]
            assert root not in FORBIDDEN_IN_DOMAIN, f"{path.name} imports {name}"
            if root == "app":
                assert name.startswith("app.domain"), f"{path.name} reaches up to {name}"


def test_routers_do_not_query_the_database_themselves() -> None:
    for path in (APP / "routers").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        for marker in ("select(", ".exec(", ".execute(", ".commit(", "sqlalchemy"):
            assert marker not in source, f"{path.name} contains {marker}"
