"""What one running application holds: settings, database, authenticator, clock."""

from __future__ import annotations

from dataclasses import dataclass

from app.db import Database
from app.domain.clock import Clock, utc_now
from app.ratelimit import SlidingWindowLimiter
from app.security import ApiKeyAuthenticator
from app.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    authenticator: ApiKeyAuthenticator
    tracking_limiter: SlidingWindowLimiter
    clock: Clock = utc_now

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock = utc_now) -> Runtime:
        return cls(
            settings=settings,
            db=Database.from_settings(settings),
            authenticator=ApiKeyAuthenticator(ttl_seconds=settings.api_key_cache_seconds),
            tracking_limiter=SlidingWindowLimiter(limit=settings.tracking_rate_limit_per_minute),
            clock=clock,
        )
