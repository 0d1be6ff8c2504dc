"""Members and their points: a double-entry, append-only ledger with FIFO lots.

Every change to a member's points is a ``JournalEntry`` whose ``JournalLine``s sum to zero over
the accounts below; the member's ``balance`` is kept equal to the sum of their member-points
lines in the same transaction. Nothing in the journal is ever updated or deleted (the model API
refuses, and migration 0002 adds database triggers); a correction is a new entry.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tideover.core.models import Store


class Member(models.Model):
    loyalty_id = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    phone_e164 = models.CharField(max_length=20, blank=True, db_index=True)
    email = models.EmailField(blank=True, db_index=True)
    tier = models.CharField(max_length=20, default="member")
    home_store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    balance = models.BigIntegerField(default=0)
    # Consent, each with when and how it was given (the history is in ConsentRecord).
    consent_transactional = models.BooleanField(default=True)
    consent_marketing_sms = models.BooleanField(default=False)
    consent_marketing_email = models.BooleanField(default=False)
    consent_updated_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["loyalty_id"]

    def __str__(self) -> str:
        return self.loyalty_id


class ConsentChannel(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional messages"
    MARKETING_SMS = "marketing_sms", "Marketing by SMS"
    MARKETING_EMAIL = "marketing_email", "Marketing by e-mail"


class ConsentRecord(models.Model):
    """When and how a member gave or withdrew a consent (kept for proof)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=20, choices=ConsentChannel.choices)
    granted = models.BooleanField()
    at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=40, help_text="e.g. store sign-up form, app, call")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.channel}={self.granted}"


class Account(models.TextChoices):
    MEMBER_POINTS = "member_points", "Member points"
    POINTS_ISSUED = "points_issued", "Points issued"
    POINTS_REDEEMED = "points_redeemed", "Points redeemed"
    POINTS_EXPIRED = "points_expired", "Points expired"
    ADJUSTMENTS = "adjustments", "Adjustments"


class EntryKind(models.TextChoices):
    ACCRUAL = "accrual", "Points for a purchase"
    REVERSAL = "reversal", "Points taken back for a return"
    REWARD = "reward", "Points turned into a reward"
    EXPIRY = "expiry", "Points expired"
    REINSTATE = "reinstate", "Expired points reinstated for a sale made before the deadline"
    ADJUSTMENT = "adjustment", "Customer-service adjustment"
    GRANT = "grant", "Points granted"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("The journal is append-only: post a correcting entry instead")

    def delete(self):
        raise TypeError("The journal is append-only: post a correcting entry instead")

    def bulk_update(self, objs, fields, batch_size=None):
        raise TypeError("The journal is append-only: post a correcting entry instead")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("The journal is append-only: post a correcting entry instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("The journal is append-only: post a correcting entry instead")


class JournalEntry(AppendOnly):
    # Idempotency: one entry per source (a sale as store/sale id, a reward code, an adjustment
    # id, a lot).
    source_type = models.CharField(max_length=20)
    source_id = models.CharField(max_length=100, help_text="e.g. S001/S001-R1-000123 for a sale")
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="entries")
    points = models.BigIntegerField(help_text="Change to the member's balance")
    occurred_at = models.DateTimeField(help_text="When it happened (a sale's occurred_at)")
    posted_at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150, default="system", help_text="Who")
    reason = models.CharField(max_length=300, blank=True, help_text="Why")
    related_source_id = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="e.g. the sale a return undoes"
    )

    class Meta:
        ordering = ["-posted_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_type", "source_id"], name="one_entry_per_source"
            )
        ]
        indexes = [models.Index(fields=["member", "posted_at"], name="entry_member_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_type}:{self.source_id} {self.points:+d}"


class JournalLine(AppendOnly):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.CharField(max_length=16, choices=Account.choices)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="journal_lines"
    )
    points = models.BigIntegerField()

    class Meta:
        ordering = ["entry", "pk"]

    def __str__(self) -> str:
        return f"{self.account} {self.points:+d}"


class PointsLot(models.Model):
    """Points earned with the same deadline, spent and expired first-in first-out."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="lots")
    expires_on = models.DateField(help_text="Last day these points can be used")
    earned = models.BigIntegerField(default=0)
    remaining = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    expiry_seq = models.IntegerField(default=0, help_text="How often this lot has expired")

    class Meta:
        ordering = ["member", "expires_on"]
        constraints = [
            models.UniqueConstraint(fields=["member", "expires_on"], name="one_lot_per_deadline")
        ]
        indexes = [models.Index(fields=["expires_on"], name="lot_deadline")]

    def __str__(self) -> str:
        return f"{self.remaining} until {self.expires_on}"


class AccrualRule(models.Model):
    """Points per currency unit from a moment on (the latest rule started by a sale's time wins)."""

    points_per_dollar = models.PositiveIntegerField()
    starts_at = models.DateTimeField()

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return f"{self.points_per_dollar} points per $ from {self.starts_at:%Y-%m-%d}"


class Promotion(models.Model):
    """Extra points for sales made in a time window (e.g. double points weekend)."""

    name = models.CharField(max_length=120)
    multiplier_percent = models.PositiveIntegerField(help_text="200 = double points")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    tiers = models.JSONField(default=list, blank=True, help_text="Empty: every tier")

    class Meta:
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.name


class RewardKind(models.TextChoices):
    REWARD = "reward", "Reward for points"
    GOODWILL = "goodwill", "Goodwill offer"


class Reward(models.Model):
    """A single-use code worth money off: a reward issued the moment points cross a threshold,
    or a goodwill offer after an incident (then perhaps to a shopper who is not a member, a
    percentage, with a minimum spend). One table, one redemption path at the till."""

    # Indexed only where set (Meta.indexes): most goodwill codes go to shoppers who are not members.
    member = models.ForeignKey(
        Member,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="rewards",
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=RewardKind.choices, default=RewardKind.REWARD)
    code = models.CharField(max_length=20, unique=True)
    value_cents = models.PositiveIntegerField(help_text="Money off (0 when percent_off is set)")
    percent_off = models.PositiveSmallIntegerField(default=0, help_text="e.g. 15 = 15% off")
    min_spend_cents = models.PositiveIntegerField(default=0, help_text="Minimum purchase")
    points = models.PositiveIntegerField()
    source = models.CharField(max_length=40, blank=True, help_text="e.g. incident:12")
    issued_at = models.DateTimeField(default=timezone.now)
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redeemed_sale_id = models.CharField(max_length=64, blank=True)
    redeemed_store = models.CharField(max_length=20, blank=True)
    discount_cents = models.BigIntegerField(null=True, blank=True, help_text="Given at the till")

    class Meta:
        ordering = ["-issued_at", "-pk"]
        indexes = [
            models.Index(
                fields=["member"], condition=models.Q(member__isnull=False), name="reward_member"
            )
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def value_text(self) -> str:
        if self.percent_off:
            return f"{self.percent_off}% off"
        return f"${self.value_cents // 100:,}.{self.value_cents % 100:02d}"

    def is_usable(self, at=None) -> bool:
        at = at or timezone.now()
        started = self.valid_from is None or self.valid_from <= at
        return self.redeemed_at is None and started and at <= self.expires_at


class AdjustmentReason(models.TextChoices):
    MISSING_POINTS = "missing_points", "Points missing from a purchase"
    GOODWILL = "goodwill", "Goodwill"
    CORRECTION = "correction", "Correction of an error"
    RETURN_NOT_RECORDED = "return_not_recorded", "Return not recorded"
    FRAUD = "fraud", "Fraud or abuse"
    OTHER = "other", "Other (explain in the note)"


class AdjustmentState(models.TextChoices):
    PENDING = "pending", "Waiting for a second person"
    POSTED = "posted", "Posted"
    REJECTED = "rejected", "Rejected"


class Adjustment(models.Model):
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="adjustments")
    points = models.BigIntegerField(help_text="Positive credits, negative debits")
    reason_code = models.CharField(max_length=24, choices=AdjustmentReason.choices)
    note = models.TextField()
    state = models.CharField(max_length=10, choices=AdjustmentState.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_by_name = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]

    def __str__(self) -> str:
        return f"adjustment #{self.pk} {self.points:+d}"


class NoticeKind(models.TextChoices):
    REWARD_ISSUED = "reward_issued", "Reward issued"
    EXPIRY_REMINDER = "expiry_reminder", "Points expiry reminder"


class MemberNotice(models.Model):
    """What we told a member (the outbox sends it; this is the member page's record)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    dedupe_key = models.CharField(max_length=120, unique=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} to {self.member_id}"


class AuditRecord(models.Model):
    """Who looked at or changed a member's loyalty record, and why. Never carries contacts."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit"
    )
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


class HoldState(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    APPROVED = "approved", "Approved and posted"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled (the sale was returned or voided)"


class HeldPoints(models.Model):
    """Points of one sale above LOYALTY_SALE_POINTS_REVIEW: held, not posted, until customer
    service or CX approves them (they post then, as the sale's accrual) or rejects them."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="held_points")
    sale_key = models.CharField(max_length=100, unique=True, help_text="STORE/SALE_ID")
    store_code = models.CharField(max_length=20)
    sale_id = models.CharField(max_length=64)
    paid_cents = models.BigIntegerField()
    held = models.BigIntegerField(help_text="Points the sale earned (after the per-sale cap)")
    points = models.BigIntegerField(help_text="Points that post if approved (less any returns)")
    occurred_at = models.DateTimeField()
    held_at = models.DateTimeField(default=timezone.now)
    posted_by = models.CharField(max_length=150, blank=True)
    state = models.CharField(max_length=10, choices=HoldState.choices, default=HoldState.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-held_at", "-pk"]
        indexes = [models.Index(fields=["state", "held_at"], name="held_points_queue")]

    def __str__(self) -> str:
        return f"{self.points} points held for {self.sale_key}"
