"""Messages to end customers: when to send them, and what they say in French or English."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.domain.language import Language


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


TEMPLATES: dict[str, dict[Language, Template]] = {
    "quote_sent": {
        Language.FR: Template(
            "Votre devis pour la commande {number}",
            "Bonjour,\n\nLe devis de réparation de votre montre {watch} (commande {number}) "
            "est prêt. Vous pouvez le consulter et l'accepter ou le refuser ici : {link}\n\n"
            "{workshop}",
        ),
        Language.EN: Template(
            "Your quote for order {number}",
            "Hello,\n\nThe repair quote for your {watch} watch (order {number}) is ready. "
            "You can read it and approve or decline it here: {link}\n\n{workshop}",
        ),
    },
    "ready": {
        Language.FR: Template(
            "Votre montre est prête (commande {number})",
            "Bonjour,\n\nVotre montre {watch} (commande {number}) est prête à être retirée. "
            "Pensez à vous munir de votre bon de dépôt. Suivi : {link}\n\n{workshop}",
        ),
        Language.EN: Template(
            "Your watch is ready (order {number})",
            "Hello,\n\nYour {watch} watch (order {number}) is ready for collection. "
            "Please bring your deposit receipt. Tracking: {link}\n\n{workshop}",
        ),
    },
}
GENERIC = {
    Language.FR: Template(
        "Votre commande {number} : {status}",
        "Bonjour,\n\nVotre montre {watch} (commande {number}) : {status}. Suivi : {link}\n\n"
        "{workshop}",
    ),
    Language.EN: Template(
        "Your order {number}: {status}",
        "Hello,\n\nYour {watch} watch (order {number}): {status}. Tracking: {link}\n\n{workshop}",
    ),
}


def is_announced(status: str, notify_on: Iterable[str]) -> bool:
    """Whether the workshop tells customers about this status at all."""
    return status in set(notify_on)


def should_notify(
    status: str, notify_on: Iterable[str], *, consent: bool, address: str | None
) -> bool:
    """Only the statuses the workshop listed, only with the customer's consent and an address:
    a wrong "ready" must never go out by accident."""
    return is_announced(status, notify_on) and consent and bool(address)


def compose(
    status: str,
    status_label: str,
    language: Language,
    *,
    order_number: str,
    watch: str,
    link: str,
    workshop: str,
) -> Template:
    template = TEMPLATES.get(status, {}).get(language) or GENERIC[language]
    values = {
        "number": order_number,
        "watch": watch,
        "link": link,
        "workshop": workshop,
        "status": status_label,
    }
    return Template(template.subject.format(**values), template.body.format(**values))
