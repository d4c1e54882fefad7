"""Configuration, read from the environment with the ``ATELIER_`` prefix."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service; defaults run a workshop on an embedded SQLite file."""

    model_config = SettingsConfigDict(env_prefix="ATELIER_", env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/atelier.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # PostgreSQL: the writes a process runs at once (at most ``database_pool_size``), the others
    # queued in their order of arrival (app/db.py ``Database.writer_slot``). Four kept the API
    # busy beside a database on the same machine, and fewer transactions at once cost the
    # database less CPU than ten (docs/benchmarks.md, twenty-second round); a database further
    # away, each round trip longer, may need more.
    database_writers: int = Field(default=4, ge=1, le=200)
    # Seconds a SQLite connection waits for the write lock before the request gets a 503.
    sqlite_busy_timeout_seconds: float = Field(default=5.0, gt=0)
    # Writers queued on a SQLite file share one transaction and its commit, each in a savepoint
    # of its own (app/sqlite_session.py ``WriteGroup``); off: one commit per writer.
    sqlite_group_commit: bool = True

    environment: Literal["development", "production", "test"] = "development"
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    # FastAPI's own OpenTelemetry spans and metrics, through the globally configured providers
    # (opentelemetry-instrument or an SDK set up beside the app). Off, a request does not look
    # the providers up: 2 % of a list page's CPU (docs/benchmarks.md, eighteenth round);
    # Prometheus metrics and the request log are there either way.
    opentelemetry: bool = False

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(default=1, ge=1, le=64)
    # uvicorn's event loop. uvloop serves 15-50 % more requests/s when saturated, but its p99
    # is three to seven times asyncio's (docs/benchmarks.md); a counter waiting on a receipt
    # notices the tail more than the throughput.
    event_loop: Literal["asyncio", "uvloop", "auto"] = "asyncio"

    # Security
    api_key_cache_seconds: float = Field(default=5.0, ge=0, le=60)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    cors_allow_origins: list[str] = Field(default_factory=list)
    # Requests per minute and client address on the public tracking endpoints.
    tracking_rate_limit_per_minute: int = Field(default=30, ge=1)

    # Workshop identity (printed on receipts, quotes and invoices)
    workshop_name: str = "Atelier horloger"
    workshop_address: str = "1 rue de l'Horloge, 75001 Paris, France"
    workshop_phone: str = ""
    workshop_email: str = ""
    workshop_siret: str = ""
    workshop_vat_number: str = ""
    vat_regime: Literal["standard", "exempt"] = "standard"
    mediator_name: str = ""
    mediator_contact: str = ""

    # Business rules
    quote_validity_days: int = Field(default=30, ge=1, le=365)
    quote_review_threshold: Decimal = Field(default=Decimal("500.00"), ge=0)
    four_eyes_qc: bool = False
    unclaimed_delay_days: int = Field(default=365, ge=1)
    # Outgoing webhooks
    webhook_allow_private_targets: bool = False  # tests and closed networks only
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_secret_overlap_hours: int = Field(default=24, ge=0, le=720)
    dispatch_batch_size: int = Field(default=50, ge=1, le=1000)
    dispatch_interval_seconds: float = Field(default=1.0, gt=0)
    # Run a dispatcher inside each API process (else run `atelier dispatch` beside it).
    dispatch_in_app: bool = False

    # Customer notifications: which statuses notify (with consent), where the tracking page is,
    # and the SMTP relay (empty host: messages are only logged).
    notify_customer_on: list[str] = Field(default_factory=lambda: ["quote_sent", "ready"])
    tracking_page_url: str = "http://127.0.0.1:8000/v1/tracking/{token}"
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_sender: str = "atelier@localhost"

    idempotency_retention_hours: int = Field(default=24, ge=24)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
