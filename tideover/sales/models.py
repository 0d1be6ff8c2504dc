"""Sales as the registers rang them up, and the postings HQ refused because they clashed.

A sale is written once and never changed: the till is the source of truth, and a sale that
arrives again with different content is a *conflict* for staff to look at, never merged.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tideover.core.models import Store


class SaleStatus(models.TextChoices):
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    DECLINED = "declined", "Declined"
    VOIDED = "voided", "Voided at the till"


class SaleKind(models.TextChoices):
    SALE = "sale", "Sale"
    RETURN = "return", "Return (some items of an earlier sale)"
    VOID = "void", "Void of an earlier sale (all of it)"


class TenderKind(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card"
    CARD_OFFLINE = "card_offline", "Card taken offline"


class Sale(models.Model):
    # The id the register or store agent made. Posting is idempotent per store: a store's
    # token can only ever claim ids in its own store, so it cannot block another store's sale.
    sale_id = models.CharField(max_length=64, db_index=True)
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="sales")
    register = models.CharField(max_length=20)
    occurred_at = models.DateTimeField(help_text="When the customer paid, not when HQ heard")
    posted_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=12, choices=SaleStatus.choices)
    kind = models.CharField(max_length=8, choices=SaleKind.choices, default=SaleKind.SALE)
    original_sale_id = models.CharField(
        max_length=64, blank=True, help_text="For returns and voids: the sale they undo"
    )
    original = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="undone_by",
        help_text="For returns and voids: the posted sale they undo (any store)",
    )
    # The loyalty id as scanned; sales does not reach into the loyalty tables.
    member_id = models.CharField(max_length=32, blank=True, db_index=True)
    codes = models.JSONField(default=list, blank=True)
    total_cents = models.BigIntegerField()
    paid_cents = models.BigIntegerField()
    content_hash = models.CharField(max_length=64)
    # Said by the store agent in the batch, not part of the sale's content (a resend of the
    # same sale is the same sale): it took this sale while HQ could not be reached.
    queued_offline = models.BooleanField(
        default=False, help_text="Taken by the store agent while HQ could not be reached"
    )

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["store", "occurred_at"], name="sale_store_time")]
        constraints = [
            models.UniqueConstraint(fields=["store", "sale_id"], name="one_sale_id_per_store")
        ]

    def __str__(self) -> str:
        return self.sale_id

    @property
    def key(self) -> str:
        """The sale's chain-wide name: store code and sale id (how loyalty refers to it)."""
        return f"{self.store.code}/{self.sale_id}"


class SaleLine(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    line_no = models.PositiveSmallIntegerField()
    sku = models.CharField(max_length=40)
    quantity = models.IntegerField()
    unit_price_cents = models.BigIntegerField()
    amount_cents = models.BigIntegerField()

    class Meta:
        ordering = ["sale", "line_no"]

    def __str__(self) -> str:
        return f"{self.sku} x{self.quantity}"


class SaleTender(models.Model):
    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="tenders")
    kind = models.CharField(max_length=14, choices=TenderKind.choices)
    amount_cents = models.BigIntegerField()

    class Meta:
        ordering = ["sale", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents}"


class SaleConflict(models.Model):
    """A sale id that came back with different content. Refused; kept for staff to settle."""

    sale_id = models.CharField(max_length=64, db_index=True)
    store_code = models.CharField(max_length=20)
    content_hash = models.CharField(max_length=64)
    posted_hash = models.CharField(max_length=64, help_text="Hash of the sale already posted")
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    received_from = models.CharField(max_length=120, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            # The same clashing content sent again is one conflict, not a hundred.
            models.UniqueConstraint(
                fields=["store_code", "sale_id", "content_hash"], name="one_conflict_per_store"
            )
        ]

    def __str__(self) -> str:
        return f"conflict on {self.sale_id}"
