"""The committed OpenAPI contract: write it on purpose, compare it in the tests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.main import create_app
from app.migrate import PROJECT_ROOT
from app.settings import Settings

CONTRACT_PATH = PROJECT_ROOT / "openapi.json"


def served_contract() -> dict[str, Any]:
    # A throwaway in-memory app: building the schema touches no database.
    app = create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", log_level="WARNING"))
    return app.openapi()


def render(contract: dict[str, Any]) -> str:
    return json.dumps(contract, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write(path: Path = CONTRACT_PATH) -> None:
    path.write_text(render(served_contract()), encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["write"]:
        print("usage: python -m app.contract write", file=sys.stderr)
        raise SystemExit(2)
    write()
    print(f"wrote {CONTRACT_PATH}", file=sys.stderr)
