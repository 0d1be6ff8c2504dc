"""Signals, their per-minute points, the reports and posts counted into them, and alerts.

A signal is one named series, one value per minute. Gauges (heartbeat coverage, a failure rate)
get a value pushed or derived each minute; counts (staff reports, complaint posts) add up the
events of each minute. Each signal carries its detector's state, a few kilobytes of floats
(``tideover.detect.detector``), so scoring needs nothing but the signal row and its new points.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tideover.core.models import Component, Region, Store


class SignalKind(models.TextChoices):
    GAUGE = "gauge", "A value each minute"
    COUNT = "count", "Events counted each minute"


class Direction(models.TextChoices):
    UP = "up", "Higher is worse"
    DOWN = "down", "Lower is worse"
    BOTH = "both", "Either way"


class Sensitivity(models.TextChoices):
    LOW = "low", "Low (only large departures)"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High (small departures too)"


class Signal(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=30, blank=True, help_text="e.g. %, reports, posts")
    owner = models.CharField(max_length=100, blank=True, help_text="Team that answers for it")
    kind = models.CharField(max_length=8, choices=SignalKind.choices, default=SignalKind.GAUGE)
    source = models.CharField(
        max_length=20, default="api", help_text="api, file, heartbeats, sales, staff, social"
    )
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.BOTH)
    sensitivity = models.CharField(
        max_length=8, choices=Sensitivity.choices, default=Sensitivity.NORMAL
    )
    # Signals measuring the same thing at different stores share a family, so the detector can
    # tell one store's failure from a chain-wide one.
    family = models.SlugField(max_length=80, blank=True)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="signals"
    )
    components = models.ManyToManyField(Component, blank=True, related_name="signals")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    detector_state = models.BinaryField(null=True, blank=True, editable=False)
    scored_until = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="The last minute the detector scored"
    )

    class Meta:
        ordering = ["slug"]
        indexes = [models.Index(fields=["family", "store"], name="signal_family_store")]

    def __str__(self) -> str:
        return self.name


class SignalPoint(models.Model):
    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="points")
    minute = models.DateTimeField()
    value = models.FloatField()
    score = models.FloatField(null=True, blank=True)
    baseline = models.FloatField(null=True, blank=True)
    low = models.FloatField(null=True, blank=True)
    high = models.FloatField(null=True, blank=True)
    anomalous = models.BooleanField(default=False)

    class Meta:
        ordering = ["signal", "minute"]
        constraints = [
            models.UniqueConstraint(fields=["signal", "minute"], name="one_point_per_minute")
        ]
        # Only the points waiting to be scored: scoring finds them without reading history.
        indexes = [
            models.Index(
                fields=["minute"], condition=models.Q(score__isnull=True), name="point_unscored"
            )
        ]

    def __str__(self) -> str:
        return f"{self.signal_id}@{self.minute:%Y-%m-%d %H:%M}={self.value}"


class SignalReport(models.Model):
    """One report counted into a count signal: one per person (``key``) and cause per hour,
    as Downdetector counts them, and a minute needs reports from several people before it is
    anomalous (``scoring.COUNT_FLOOR``), so one angry person cannot make an outage."""

    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="reports")
    at = models.DateTimeField()
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL)
    key = models.CharField(max_length=64, blank=True, help_text="Opaque per-person key (hashed)")
    cause = models.CharField(max_length=40, blank=True)
    dedupe = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-at"]
        indexes = [
            # Scoring reads one signal's minute (who reported), pruning everything before a day.
            models.Index(fields=["signal", "at"], name="detect_report_signal_at"),
            models.Index(fields=["at"], name="detect_report_at"),
        ]

    def __str__(self) -> str:
        return f"{self.signal_id}: {self.cause or 'report'} at {self.at:%H:%M}"


class RuleComparison(models.TextChoices):
    BELOW = "below", "Below"
    ABOVE = "above", "Above"


class Rule(models.Model):
    """A plain rule: fire when the signal stays below/above a value for so many minutes."""

    name = models.CharField(max_length=200)
    signal = models.ForeignKey(Signal, on_delete=models.CASCADE, related_name="rules")
    comparison = models.CharField(max_length=5, choices=RuleComparison.choices)
    threshold = models.FloatField()
    minutes = models.PositiveIntegerField(default=3)
    auto_declare = models.BooleanField(
        default=False, help_text="Declare an incident at once when it fires (no person needed)"
    )
    severity_level = models.PositiveSmallIntegerField(
        default=2, help_text="Severity level of the incident it declares (1 is the worst)"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def describe(self) -> str:
        unit = self.signal.unit
        return (
            f"{self.signal.name} {self.get_comparison_display().lower()} "
            f"{self.threshold:g}{unit} for {self.minutes} min"
        )


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    INCIDENT = "incident", "Became an incident"
    DISMISSED = "dismissed", "Dismissed"
    CLEARED = "cleared", "Cleared by itself"


LIVE_ALERT_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


class AlertScope(models.TextChoices):
    STORE = "store", "One store"
    REGION = "region", "A region"
    CHAIN = "chain", "Chain-wide"


class Alert(models.Model):
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=14, choices=AlertState.choices, default=AlertState.OPEN)
    scope = models.CharField(max_length=6, choices=AlertScope.choices, default=AlertScope.CHAIN)
    # What the alert is about (scope and the signal families/rules that fired), so a dismissed
    # pattern can be recognised when it comes back.
    cause = models.CharField(max_length=300, db_index=True)
    score = models.FloatField(default=0.0)
    started_at = models.DateTimeField(help_text="First anomalous minute")
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    paged = models.BooleanField(default=True, help_text="False when a dismissed pattern held it")
    pages_sent = models.PositiveSmallIntegerField(
        default=0, help_text="Pages queued to the on-call people (the first and the repeats)"
    )
    last_paged_at = models.DateTimeField(null=True, blank=True)
    signals = models.ManyToManyField(Signal, related_name="alerts")
    stores = models.ManyToManyField(Store, blank=True, related_name="+")
    regions = models.ManyToManyField(Region, blank=True, related_name="+")
    components = models.ManyToManyField(Component, blank=True, related_name="+")
    evidence = models.JSONField(default=dict, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        indexes = [models.Index(fields=["state", "scope"], name="alert_state_scope")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_ALERT_STATES


class DismissedPattern(models.Model):
    """A cause a person said is not an outage: alerts with it open quietly (no page)."""

    cause = models.CharField(max_length=300, unique=True)
    reason = models.CharField(max_length=300)
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.cause}: {self.reason}"


class SocialTermKind(models.TextChoices):
    BRAND = "brand", "Brand term (the post is about us)"
    OUTAGE = "outage", "Outage phrase (something is broken)"


class SocialTerm(models.Model):
    kind = models.CharField(max_length=6, choices=SocialTermKind.choices)
    phrase = models.CharField(max_length=100, help_text="Lower case; '#' for hashtags")

    class Meta:
        ordering = ["kind", "phrase"]
        constraints = [models.UniqueConstraint(fields=["kind", "phrase"], name="one_social_term")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.phrase}"


class SocialPost(models.Model):
    external_id = models.CharField(max_length=100, unique=True)
    handle = models.CharField(max_length=100, blank=True)
    text = models.TextField()
    posted_at = models.DateTimeField()
    place = models.CharField(max_length=100, blank=True)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL)
    about_brand = models.BooleanField(default=False)
    complaint = models.BooleanField(default=False, help_text="About us and about an outage")
    matched = models.JSONField(default=list, blank=True)
    sentiment = models.FloatField(default=0.0, help_text="-1 (angry) .. +1 (happy)")
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-posted_at"]
        indexes = [models.Index(fields=["complaint", "posted_at"], name="post_complaint_time")]

    def __str__(self) -> str:
        return self.text[:60]

    @property
    def negative(self) -> bool:
        return self.sentiment <= -0.05


class SaleTally(models.Model):
    """Sales and failed or declined sales per store and minute (by when they happened), kept as
    sales post, from which the failure rate signals are derived."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    total = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "minute"], name="one_tally_per_store_minute")
        ]
        indexes = [models.Index(fields=["minute"], name="tally_minute")]

    def __str__(self) -> str:
        return f"{self.store_id}@{self.minute:%H:%M}: {self.failed}/{self.total}"


class CheckoutTally(models.Model):
    """Checkouts and errored checkouts the web shop reported for one minute (one row per
    reporting server, ``source``), from which the web checkout error rate is derived."""

    source = models.CharField(max_length=60, default="web", help_text="The reporting server")
    minute = models.DateTimeField()
    total = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "minute"], name="one_checkout_tally_per_source_minute"
            )
        ]
        indexes = [models.Index(fields=["minute"], name="checkout_tally_minute")]

    def __str__(self) -> str:
        return f"{self.source}@{self.minute:%H:%M}: {self.failed}/{self.total}"
