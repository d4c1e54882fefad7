"""Schemathesis over the whole committed contract, against a live server, authenticated.

Any server error, undocumented status, wrong content type or body that does not match the
contract fails the suite. CI uses a fixed seed; `make fuzz` runs longer with a random one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import Engine

from app.contract import CONTRACT_PATH
from app.domain.roles import Role
from app.main import create_app
from app.settings import Settings
from tests.conftest import KeyFactory
from tests.live_server import LiveServer

schema = schemathesis.openapi.from_path(str(CONTRACT_PATH))
MAX_EXAMPLES = int(os.environ.get("ATELIER_FUZZ_EXAMPLES", "40"))
ROLE_FOR_PREFIX = {"/v1/api-keys": Role.ADMIN}


@pytest.fixture(scope="module")
def live(settings: Settings, sync_engine: Engine) -> Iterator[LiveServer]:
    server = LiveServer(create_app(settings)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def auth_headers(live: LiveServer) -> dict[Role, dict[str, str]]:
    factory = KeyFactory(live.app)

    async def issue_all() -> dict[Role, dict[str, str]]:
        return {role: await factory.headers(role) for role in (Role.ADMIN, Role.MANAGER)}

    # The live app's engine belongs to the server's loop: issue keys with a throwaway engine.
    factory.app = create_app(live.app.state.runtime.settings)
    return asyncio.run(issue_all())


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _headers_for(path: str, auth: dict[Role, dict[str, str]]) -> dict[str, str]:
    for prefix, role in ROLE_FOR_PREFIX.items():
        if path.startswith(prefix):
            return auth[role]
    return auth[Role.MANAGER]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("ATELIER_FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_contract(
    case: Any,
    live: LiveServer,
    auth_headers: dict[Role, dict[str, str]],
    http: requests.Session,
    clean_database: Engine,
) -> None:
    case.call_and_validate(
        base_url=live.url, session=http, headers=_headers_for(case.path, auth_headers)
    )
