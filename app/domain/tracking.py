"""What the end customer sees through the tracking link: labels and a timeline, nothing internal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.domain.language import Language
from app.domain.lifecycle import OrderStatus

STATUS_LABELS: dict[OrderStatus, dict[Language, str]] = {
    OrderStatus.AWAITING_ARRIVAL: {
        Language.FR: "En attente de réception à l'atelier",
        Language.EN: "On its way to the workshop",
    },
    OrderStatus.RECEIVED: {
        Language.FR: "Reçue à l'atelier",
        Language.EN: "Received at the workshop",
    },
    OrderStatus.PRE_DIAGNOSED: {
        Language.FR: "Premier examen effectué",
        Language.EN: "First examination done",
    },
    OrderStatus.IN_DIAGNOSIS: {
        Language.FR: "Diagnostic en cours",
        Language.EN: "Being diagnosed",
    },
    OrderStatus.DIAGNOSED: {
        Language.FR: "Diagnostic terminé, devis en préparation",
        Language.EN: "Diagnosed, quote being prepared",
    },
    OrderStatus.QUOTE_SENT: {
        Language.FR: "Devis envoyé, en attente de votre accord",
        Language.EN: "Quote sent, awaiting your decision",
    },
    OrderStatus.APPROVED: {
        Language.FR: "Devis accepté, réparation planifiée",
        Language.EN: "Quote accepted, repair scheduled",
    },
    OrderStatus.IN_REPAIR: {Language.FR: "En réparation", Language.EN: "Being repaired"},
    OrderStatus.AWAITING_PARTS: {
        Language.FR: "En attente de pièces",
        Language.EN: "Waiting for parts",
    },
    OrderStatus.QUALITY_CONTROL: {
        Language.FR: "Contrôle qualité",
        Language.EN: "Quality control",
    },
    OrderStatus.READY: {
        Language.FR: "Prête à être retirée",
        Language.EN: "Ready for collection",
    },
    OrderStatus.RETURNED: {Language.FR: "Restituée", Language.EN: "Collected"},
    OrderStatus.CANCELLED: {Language.FR: "Annulée", Language.EN: "Cancelled"},
    OrderStatus.ABANDONED: {
        Language.FR: "Clôturée (non retirée)",
        Language.EN: "Closed (not collected)",
    },
}


def label(status: OrderStatus, language: Language) -> str:
    return STATUS_LABELS[status][language]


def negotiate_language(accept_language: str | None, default: Language = Language.FR) -> Language:
    """The best of French and English for an ``Accept-Language`` header (RFC 9110 weights)."""
    if not accept_language:
        return default
    best: tuple[float, int, Language] | None = None
    for position, item in enumerate(accept_language.split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in (Language.FR, Language.EN) and weight > 0:
            candidate = (weight, -position, Language(primary))
            if best is None or candidate[:2] > best[:2]:
                best = candidate
    return best[2] if best else default


@dataclass(frozen=True)
class TimelineStep:
    status: OrderStatus
    label: str
    at: datetime


@dataclass(frozen=True)
class StatusChange:
    """The customer-safe part of an event: where it went and when (no actor, no reason)."""

    from_status: OrderStatus | None
    to_status: OrderStatus
    at: datetime


def timeline(changes: Iterable[StatusChange], language: Language) -> list[TimelineStep]:
    """One step per status reached, oldest first; events that change nothing are left out."""
    return [
        TimelineStep(change.to_status, label(change.to_status, language), change.at)
        for change in changes
        if change.from_status != change.to_status
    ]
