"""The intake vocabulary of the deposit receipt (bon de dépôt)."""

from __future__ import annotations

from enum import StrEnum


class WatchPart(StrEnum):
    """Parts whose condition is recorded at intake."""

    CASE = "case"
    CASEBACK = "caseback"
    CRYSTAL = "crystal"
    DIAL = "dial"
    HANDS = "hands"
    CROWN = "crown"
    BEZEL = "bezel"
    STRAP_BRACELET = "strap_bracelet"
    CLASP = "clasp"


class Defect(StrEnum):
    SCRATCHES = "scratches"
    DENTS = "dents"
    CRACKS = "cracks"
    CHIPS = "chips"
    MISSING = "missing"
    WORN = "worn"
    DISCOLOURED = "discoloured"
    CORROSION = "corrosion"
    MOISTURE = "moisture"
    LOOSE = "loose"


class Accessory(StrEnum):
    BOX = "box"
    PAPERS = "papers"
    WARRANTY_CARD = "warranty_card"
    EXTRA_LINKS = "extra_links"
    POUCH = "pouch"
    SPARE_STRAP = "spare_strap"
    OTHER = "other"


class IdentityProof(StrEnum):
    """What the person collecting a watch presented."""

    DEPOSIT_RECEIPT = "deposit_receipt"
    TRACKING_LINK = "tracking_link"
    IDENTITY_DOCUMENT = "identity_document"
