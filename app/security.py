"""API keys: generation, hashing, and authentication with a short-lived in-process cache.

Keys carry 256 random bits, so a single SHA-256 is the right hash (no stretching needed: nothing
to brute-force). The cache keeps a hot request free of a database round trip; a revoked key stops
working within ``api_key_cache_seconds`` on every instance, at once on the instance that revoked it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from app.domain.actors import Actor
from app.domain.roles import Role
from app.repositories import api_keys as api_key_repository

KEY_PREFIX = "atl_"
_MAX_CACHE_ENTRIES = 10_000


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The part of a key safe to show in lists, so people can tell keys apart."""
    return key[:12]


@dataclass
class _CacheEntry:
    actor: Actor | None
    expires_at: float


@dataclass
class ApiKeyAuthenticator:
    """Resolves bearer keys to actors, caching answers (including unknown keys) briefly."""

    ttl_seconds: float
    _cache: dict[str, _CacheEntry] = field(default_factory=dict)

    async def authenticate(self, session: AsyncSession, presented_key: str) -> Actor | None:
        key_hash = hash_api_key(presented_key)
        now = time.monotonic()
        entry = self._cache.get(key_hash)
        if entry is not None and entry.expires_at > now:
            return entry.actor
        stored = await api_key_repository.by_hash(session, key_hash)
        actor: Actor | None = None
        if stored is not None and stored.revoked_at is None:
            actor = Actor(
                key_id=stored.id,
                name=stored.name,
                role=Role(stored.role),
                partner_id=stored.partner_id,
            )
        if self.ttl_seconds > 0:
            if len(self._cache) >= _MAX_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key_hash] = _CacheEntry(actor, now + self.ttl_seconds)
        return actor

    def forget_all(self) -> None:
        """Drop every cached answer (after a revocation on this instance)."""
        self._cache.clear()
