"""Outgoing webhooks: event types, Standard Webhooks signatures, the retry schedule, SSRF rules.

Signatures follow the Standard Webhooks scheme: the secret is ``whsec_`` + base64 of random
bytes; each message carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` — several space-separated
signatures while a rotated secret's overlap window runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Sequence
from datetime import timedelta
from enum import StrEnum

from app.domain.errors import BusinessValidationError

SECRET_PREFIX = "whsec_"


class EventType(StrEnum):
    ORDER_CREATED = "repair_order.created"
    ORDER_TRANSITIONED = "repair_order.transitioned"
    QUOTE_SENT = "quote.sent"
    QC_VERDICT = "measurement.qc_verdict"
    WORK_LOG_ALERT = "work_log.alert"
    PING = "webhook.ping"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    secrets_in_use: Iterable[str], message_id: str, timestamp: int, body: bytes
) -> str:
    return " ".join(sign(secret, message_id, timestamp, body) for secret in secrets_in_use)


# Roughly the Standard Webhooks schedule, stretched to about three days in all.
RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def next_delay(
    attempts_made: int, jitter: float, retry_after: timedelta | None = None
) -> timedelta | None:
    """The wait before the next attempt, or None once every attempt is spent (dead letter).

    ``jitter`` in [0, 1) spreads retries by up to ±10 % so receivers coming back from an
    outage are not hit by every sender at once; a receiver's ``Retry-After`` is honoured.
    """
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempts_made - 1]
    delay = base * (0.9 + 0.2 * jitter)
    if retry_after is not None and retry_after > delay:
        return retry_after
    return delay


def total_retry_window() -> timedelta:
    return sum(RETRY_DELAYS, timedelta())


def _forbidden_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def check_target(
    url_scheme: str,
    host: str,
    resolved: Sequence[str],
    *,
    allow_private: bool,
    pointer: str = "/url",
) -> None:
    """Refuse what would let a subscriber make the server call inside its own network
    (OWASP API7:2023): plain http, and any loopback, private, link-local (cloud metadata) or
    reserved address the host names or resolves to — unless a test setting allows them."""
    if url_scheme != "https" and not allow_private:
        raise BusinessValidationError("Webhook URLs must use https.", pointer)
    if not host:
        raise BusinessValidationError("The URL has no host.", pointer)
    if not resolved:
        raise BusinessValidationError(f"The host {host!r} does not resolve.", pointer)
    if allow_private:
        return
    for text in resolved:
        if _forbidden_address(ipaddress.ip_address(text)):
            raise BusinessValidationError(
                "The URL points to a private, loopback, link-local or reserved address.", pointer
            )
