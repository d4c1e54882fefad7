"""The baseline: a bare FastAPI endpoint returning a small JSON, served the same way as Atelier."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/bare")
async def bare() -> dict[str, str]:
    return {"status": "ok", "service": "bare"}
