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

from app.db import after_commit
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
    """Resolves bearer keys to actors, caching answers (including unknown keys) briefly.

    ``forget_all`` starts a new generation: a lookup that began before it (and may have read the
    key before its revocation committed) does not store its answer.
    """

    ttl_seconds: float
    _cache: dict[str, _CacheEntry] = field(default_factory=dict)
    _generation: int = 0

    async def authenticate(self, session: AsyncSession, presented_key: str) -> Actor | None:
        key_hash = hash_api_key(presented_key)
        now = time.monotonic()
        entry = self._cache.get(key_hash)
        if entry is not None and entry.expires_at > now:
            return entry.actor
        generation = self._generation
        actor = await self._lookup(session, key_hash)
        if self.ttl_seconds > 0 and generation == self._generation:
            if len(self._cache) >= _MAX_CACHE_ENTRIES:
                self._cache.clear()
            self._cache[key_hash] = _CacheEntry(actor, now + self.ttl_seconds)
        return actor

    async def _lookup(self, session: AsyncSession, key_hash: str) -> Actor | None:
        stored = await api_key_repository.by_hash(session, key_hash)
        if stored is None or stored.revoked_at is not None:
            return None
        return Actor(
            key_id=stored.id, name=stored.name, role=Role(stored.role), partner_id=stored.partner_id
        )

    def forget_all(self) -> None:
        """Drop every cached answer (after a revocation on this instance)."""
        self._generation += 1
        self._cache.clear()

    def forget_all_when_committed(self, session: AsyncSession) -> None:
        """Forget now, and again once ``session`` commits: a request that reads the key between
        the two sees it still valid and must not keep that answer."""
        self.forget_all()
        after_commit(session, self.forget_all)
