from __future__ import annotations

import hashlib
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as America/Chicago")


class Region(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Store(models.Model):
    code = models.CharField(
        max_length=20, unique=True, help_text="The chain's store number, e.g. S0042"
    )
    name = models.CharField(max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="stores")
    time_zone = models.CharField(
        max_length=64, default="America/Chicago", validators=[validate_time_zone]
    )
    city = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Register(models.Model):
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="registers")
    code = models.CharField(max_length=20)

    class Meta:
        ordering = ["store", "code"]
        constraints = [
            models.UniqueConstraint(fields=["store", "code"], name="register_code_per_store")
        ]

    def __str__(self) -> str:
        return f"{self.store.code}/{self.code}"


class ComponentStatus(models.TextChoices):
    """The five statuses of the common status-page API, best to worst (maintenance aside)."""

    OPERATIONAL = "operational", "Operational"
    DEGRADED_PERFORMANCE = "degraded_performance", "Degraded performance"
    PARTIAL_OUTAGE = "partial_outage", "Partial outage"
    MAJOR_OUTAGE = "major_outage", "Major outage"
    UNDER_MAINTENANCE = "under_maintenance", "Under maintenance"


# How bad each status is, for the overall indicator and the history bars.
STATUS_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


class Component(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=32, choices=ComponentStatus.choices, default=ComponentStatus.OPERATIONAL
    )
    is_public = models.BooleanField(default=True, help_text="Shown on the public status page")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class StaffProfile(models.Model):
    """What a staff account needs beyond Django's user: its store and how to reach it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile"
    )
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
        help_text="Store associates and managers see only this store",
    )
    mobile_e164 = models.CharField(
        max_length=20, blank=True, help_text="For urgent reminders, E.164"
    )

    def __str__(self) -> str:
        return f"profile of {self.user}"


class TokenScope(models.TextChoices):
    INCIDENTS_READ = "incidents:read", "Read incidents and components"
    INCIDENTS_WRITE = "incidents:write", "Declare and update incidents, set component status"
    SALES_WRITE = "sales:write", "Post sales (store agents: own store only)"
    HEARTBEATS_WRITE = "heartbeats:write", "Send store agent heartbeats"
    LOYALTY_READ = "loyalty:read", "Read members, balances and statements"
    LOYALTY_WRITE = "loyalty:write", "Adjust points and manage members"
    SUBSCRIBERS_WRITE = "subscribers:write", "Manage status subscribers"
    SIGNALS_WRITE = "signals:write", "Push signal points and events"
    RECOVERY_WRITE = "recovery:write", "Report affected shoppers and failed web checkouts"


def hash_token(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a fast hash is enough: there is nothing to
    # brute-force, and lookups on every API call must stay cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiToken(models.Model):
    """A machine's key to the API. Only the SHA-256 of the secret is stored."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, help_text="Shown to tell tokens apart")
    hashed_secret = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="Set for a store agent: it may act only for this store",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class PeriodicSchedule(models.Model):
    """When a periodic job is next due. Moving ``next_run_at`` forward with a conditional UPDATE
    is the lock that lets exactly one of many workers enqueue each interval (core/periodic.py)."""

    name = models.CharField(max_length=60, primary_key=True)
    next_run_at = models.DateTimeField()
    last_enqueued_at = models.DateTimeField(null=True, blank=True)
    last_result_id = models.CharField(max_length=64, blank=True)
    skipped = models.PositiveIntegerField(
        default=0, help_text="Intervals skipped because the previous run was still waiting"
    )

    def __str__(self) -> str:
        return self.name


class PeriodicRun(models.Model):
    """One run of a periodic job for one interval (``slot`` is the interval's start); unique,
    so a task delivered twice runs once. Pruned after PRUNE_TASK_RESULTS_DAYS."""

    name = models.CharField(max_length=60)
    slot = models.DateTimeField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    succeeded = models.BooleanField(null=True)
    worker = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "slot"], name="periodic_run_once_per_slot")
        ]
        indexes = [models.Index(fields=["started_at"])]

    def __str__(self) -> str:
        return f"{self.name} @ {self.slot:%Y-%m-%d %H:%M:%S}"
