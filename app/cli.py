"""The ``atelier`` command: serve, migrate, issue API keys, and maintenance."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from app.domain.clock import utc_now
from app.domain.errors import DomainError
from app.domain.roles import KEY_ROLES, Role
from app.settings import Settings, get_settings

if TYPE_CHECKING:
    from app.db import Database

T = TypeVar("T")


def sqlite_workers_warning(database_url: str, workers: int) -> str | None:
    """The warning ``atelier serve`` prints for several workers on one SQLite file."""
    from sqlalchemy.engine import make_url

    if workers < 2 or make_url(database_url).get_backend_name() != "sqlite":
        return None
    return (
        f"warning: {workers} workers on a SQLite file. Reads scale with them, writes do not: "
        "the processes take turns at the file's one write lock, and each write waits for "
        "the other processes' turns too (docs/deployment.md). One worker is the advice on "
        "SQLite; PostgreSQL for more."
    )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.serving import APP_FACTORY, HTTP_PROTOCOL

    settings = get_settings()
    workers = args.workers or settings.workers
    warning = sqlite_workers_warning(settings.database_url, workers)
    if warning is not None:
        print(warning, file=sys.stderr)
    if not args.no_migrate:
        _migrate(args)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=workers,
        loop=settings.event_loop,
        http=HTTP_PROTOCOL,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=True,
    )
    return 0


def _migrate(_args: argparse.Namespace) -> int:
    from app.migrate import upgrade_to_head

    upgrade_to_head(get_settings().database_url)
    print("database at head", file=sys.stderr)
    return 0


def _on_database(work: Callable[[Database, Settings], Awaitable[T]]) -> T:
    """``work`` run on the configured database, whose connections are closed afterwards."""
    from app.db import Database

    async def run() -> T:
        settings = get_settings()
        db = Database.from_settings(settings)
        try:
            return await work(db, settings)
        finally:
            await db.dispose()

    return asyncio.run(run())


async def _create_key(db: Database, role: Role, name: str, partner_id: uuid.UUID | None) -> str:
    from app.services import api_keys

    async with db.new_session(write=True) as session:
        issued = await api_keys.issue(
            session, name=name, role=role, partner_id=partner_id, created_by=None, now=utc_now()
        )
        await session.commit()
        print(f"created {role.value} key {issued.record.id} ({name})", file=sys.stderr)
        return issued.secret


def _keys_create(args: argparse.Namespace) -> int:
    try:
        secret = _on_database(
            lambda db, _settings: _create_key(db, Role(args.role), args.name, args.partner)
        )
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 2
    print("Store this key now: it is shown once.", file=sys.stderr)
    print(secret)
    return 0


async def _expire_quotes(db: Database, settings: Settings) -> int:
    from app.services.transitions import expire_due_quotes

    async with db.new_session(write=True) as session:
        count = await expire_due_quotes(session, utc_now(), settings)
        await session.commit()
        return count


def _quotes_expire(_args: argparse.Namespace) -> int:
    count = _on_database(_expire_quotes)
    print(f"{count} quote(s) expired", file=sys.stderr)
    return 0


def _dispatch(_args: argparse.Namespace) -> int:
    from app.dispatch import start_dispatcher
    from app.observability import configure_logging
    from app.runtime import Runtime

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    runtime = Runtime.from_settings(settings)

    async def run() -> None:
        try:
            await start_dispatcher(runtime)
        finally:
            await runtime.db.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


async def _purge_idempotency(db: Database, settings: Settings) -> int:
    from datetime import timedelta

    from app.repositories.idempotency import purge_older_than

    async with db.new_session(write=True) as session:
        cutoff = utc_now() - timedelta(hours=settings.idempotency_retention_hours)
        purged = await purge_older_than(session, cutoff)
        await session.commit()
        return purged


def _idempotency_purge(_args: argparse.Namespace) -> int:
    purged = _on_database(_purge_idempotency)
    print(f"{purged} idempotency record(s) purged", file=sys.stderr)
    return 0


async def _refresh_documents(db: Database, _settings: Settings) -> int:
    from app.services.order_documents import refresh

    return await refresh(db)


def _documents_refresh(_args: argparse.Namespace) -> int:
    written = _on_database(_refresh_documents)
    print(f"{written} order document(s) written", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atelier", description="Atelier watch workshop API")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="apply migrations and serve the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate first")
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="alembic upgrade head")
    migrate.set_defaults(handler=_migrate)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    create = key_commands.add_parser("create", help="issue a key; printed alone on the last line")
    create.add_argument("--role", required=True, choices=sorted(r.value for r in KEY_ROLES))
    create.add_argument("--name", required=True)
    create.add_argument("--partner", type=uuid.UUID, help="partner id (partner keys only)")
    create.set_defaults(handler=_keys_create)

    dispatch = commands.add_parser(
        "dispatch", help="send webhooks from the outbox (runs until stopped)"
    )
    dispatch.set_defaults(handler=_dispatch)

    idempotency = commands.add_parser("idempotency", help="idempotency-key maintenance")
    idempotency_commands = idempotency.add_subparsers(dest="idempotency_command", required=True)
    purge = idempotency_commands.add_parser(
        "purge", help="delete stored responses older than ATELIER_IDEMPOTENCY_RETENTION_HOURS"
    )
    purge.set_defaults(handler=_idempotency_purge)

    quotes = commands.add_parser("quotes", help="quote maintenance")
    quote_commands = quotes.add_subparsers(dest="quote_command", required=True)
    expire = quote_commands.add_parser(
        "expire", help="send orders whose quote validity passed back to diagnosed (run daily)"
    )
    expire.set_defaults(handler=_quotes_expire)

    documents = commands.add_parser("documents", help="the orders' documents, for list pages")
    document_commands = documents.add_subparsers(dest="documents_command", required=True)
    refresh = document_commands.add_parser(
        "refresh", help="write the documents orders lack (once after upgrading; safe while serving)"
    )
    refresh.set_defaults(handler=_documents_refresh)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.handler(args)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
