"""Making it right after an incident: who was affected (and how we know), what we offer them,
the campaign that tells them, and what came of it.

One person is one ``AffectedCustomer`` per incident (matched by member, E.164 phone or e-mail);
every way we learned about them stays as ``Evidence``. A person gets at most one
``GoodwillOffer`` per incident; its code is a loyalty ``Reward`` (the one code mechanism).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tideover.core.models import Store


class Source(models.TextChoices):
    ASSOCIATE = "associate", "Signed up by an associate"
    QR = "qr", "Signed up themselves (QR code)"
    API = "api", "Reported by another system"
    SALE_FAILED = "sale_failed", "Sale failed at the till"
    SALE_DECLINED = "sale_declined", "Card declined at the till"
    SALE_OFFLINE = "sale_offline", "Sale queued offline at the store"
    WEB_CHECKOUT = "web_checkout", "Web checkout failed"
    SERVICE = "service", "Added by customer service"


class AffectedCustomer(models.Model):
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.CASCADE, related_name="affected_customers"
    )
    name = models.CharField(max_length=200, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True)
    email = models.EmailField(blank=True)
    member = models.ForeignKey(
        "loyalty.Member", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Marketing consent given at sign-up, with the exact words the shopper agreed to.
    consent_marketing = models.BooleanField(default=False)
    consent_text = models.TextField(blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_source = models.CharField(max_length=40, blank=True)
    # Held out of the offer on purpose (policy holdout share), to measure what the offer did.
    holdout = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "member"],
                condition=Q(member__isnull=False),
                name="affected_once_per_member",
            ),
            models.UniqueConstraint(
                fields=["incident", "phone_e164"],
                condition=~Q(phone_e164=""),
                name="affected_once_per_phone",
            ),
            models.UniqueConstraint(
                fields=["incident", "email"], condition=~Q(email=""), name="affected_once_per_email"
            ),
        ]
        indexes = [
            models.Index(fields=["phone_e164"], name="affected_phone"),
            models.Index(fields=["email"], name="affected_email"),
        ]

    def __str__(self) -> str:
        return f"affected customer #{self.pk}"


class Evidence(models.Model):
    """One way we learned that a person was affected (kept when records merge)."""

    customer = models.ForeignKey(
        AffectedCustomer, on_delete=models.CASCADE, related_name="evidence"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    at = models.DateTimeField(default=timezone.now)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount_cents = models.BigIntegerField(null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True, help_text="sale id, order id ...")
    detail = models.CharField(max_length=300, blank=True, help_text="error text, who signed up")
    recorded_by = models.CharField(max_length=150, blank=True)
    # The same sale or web order reported twice is one piece of evidence.
    dedupe_key = models.CharField(max_length=160, unique=True, null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.source} for #{self.customer_id}"


class OfferKind(models.TextChoices):
    AMOUNT = "amount", "Amount off"
    PERCENT = "percent", "Percent off"


class ChannelPreference(models.TextChoices):
    SMS_FIRST = "sms_first", "SMS, else e-mail"
    EMAIL_FIRST = "email_first", "E-mail, else SMS"
    SMS_ONLY = "sms", "SMS only"
    EMAIL_ONLY = "email", "E-mail only"


class GoodwillPolicy(models.Model):
    """What an incident's affected customers are offered, and what it may cost."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="goodwill_policy"
    )
    offer_kind = models.CharField(max_length=8, choices=OfferKind.choices, default="amount")
    offer_value = models.PositiveIntegerField(
        default=500, help_text="Cents off (amount) or percent off (percent)"
    )
    min_spend_cents = models.PositiveIntegerField(default=2500)
    # tier -> {"points": n} (extra points through the ledger) or {"extra": n} (more off: cents
    # for an amount offer, percentage points for a percent offer).
    tier_bonus = models.JSONField(default=dict, blank=True)
    valid_days = models.PositiveSmallIntegerField(default=30)
    channel = models.CharField(
        max_length=12, choices=ChannelPreference.choices, default=ChannelPreference.SMS_FIRST
    )
    budget_cents = models.PositiveBigIntegerField(default=0, help_text="0: no cap")
    expected_redemption_percent = models.PositiveSmallIntegerField(default=20)
    holdout_percent = models.PositiveSmallIntegerField(default=0)
    recovery_window_days = models.PositiveSmallIntegerField(
        default=7, help_text="Sign-up (and its QR code) stays open this long after resolution"
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"goodwill policy of incident {self.incident_id}"


class CampaignState(models.TextChoices):
    RUNNING = "running", "Sending"
    PAUSED = "paused", "Paused"
    DONE = "done", "Done"


class Campaign(models.Model):
    """The send of an incident's offers; resumable after a crash (``cursor``)."""

    incident = models.OneToOneField(
        "incidents.Incident", on_delete=models.CASCADE, related_name="goodwill_campaign"
    )
    state = models.CharField(max_length=8, choices=CampaignState.choices)
    is_drill = models.BooleanField(default=False)
    total = models.PositiveIntegerField(default=0, help_text="Affected customers at the start")
    cursor = models.BigIntegerField(default=0, help_text="Last affected customer processed")
    offers = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=dict, help_text="reason -> count")
    started_by = models.CharField(max_length=150)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Template: {name} {offer} {code} {until} {minimum}")

    def __str__(self) -> str:
        return f"campaign of incident {self.incident_id} ({self.state})"


class GoodwillOffer(models.Model):
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    customer = models.OneToOneField(
        AffectedCustomer, on_delete=models.CASCADE, related_name="offer"
    )
    reward = models.OneToOneField(
        "loyalty.Reward", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.CharField(max_length=20, blank=True)
    discount_text = models.CharField(max_length=40)
    cost_cents = models.BigIntegerField(help_text="Most this offer can cost if redeemed")
    bonus_points = models.PositiveIntegerField(default=0)
    points_granted = models.BooleanField(default=False)
    channel = models.CharField(max_length=10, blank=True, help_text="email / sms / '' (none)")
    dedupe_key = models.CharField(max_length=200, blank=True)
    message_state = models.CharField(
        max_length=10,
        blank=True,
        help_text="Its message's last state, kept when pruning deletes the message ('' before)",
    )
    store_time_zone = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, default="campaign")

    class Meta:
        ordering = ["pk"]
        indexes = [
            # A campaign message's text is written from its offer, found by this key.
            models.Index(
                fields=["dedupe_key"], condition=~Q(dedupe_key=""), name="offer_message_key"
            )
        ]

    def __str__(self) -> str:
        return f"offer for #{self.customer_id}"


class ServiceAction(models.Model):
    """What customer service did with an affected customer (lookups, resends, grants)."""

    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=150)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=30)
    customer = models.ForeignKey(
        AffectedCustomer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    detail = models.CharField(max_length=300, blank=True, help_text="Never a phone or e-mail")

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"
