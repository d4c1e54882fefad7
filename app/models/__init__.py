"""SQLModel tables. Importing this package registers every table on the shared metadata."""

from sqlmodel import SQLModel

from app.models.api_keys import ApiKey
from app.models.customers import Customer
from app.models.idempotency import IdempotencyRecord
from app.models.partners import Partner
from app.models.quotes import (
    CatalogService,
    Invoice,
    InvoiceNumberCounter,
    QuoteLineRow,
    QuoteRevision,
)
from app.models.repair_orders import OrderEvent, OrderNumberCounter, RepairOrder
from app.models.watches import Watch
from app.models.webhooks import (
    CustomerNotification,
    OutboxMessage,
    WebhookDelivery,
    WebhookSubscription,
)
from app.models.workshop import MeasurementSession, ToleranceProfileRow, WorkLogEntry

metadata = SQLModel.metadata

__all__ = [
    "ApiKey",
    "CatalogService",
    "Invoice",
    "MeasurementSession",
    "OutboxMessage",
    "InvoiceNumberCounter",
    "QuoteLineRow",
    "QuoteRevision",
    "Customer",
    "CustomerNotification",
    "IdempotencyRecord",
    "OrderEvent",
    "OrderNumberCounter",
    "Partner",
    "RepairOrder",
    "ToleranceProfileRow",
    "Watch",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkLogEntry",
    "metadata",
]
