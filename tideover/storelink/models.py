"""HQ's side of the store agents: who is registered, what their last heartbeat said, which
minutes each store was heard in, and the offline card policy per store or region."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tideover.core.models import Region, Store


class LinkState(models.TextChoices):
    ONLINE = "online", "Online"
    DRAINING = "draining", "Draining"
    OFFLINE = "offline", "Offline"
    SILENT = "silent", "Silent"


class StoreAgent(models.Model):
    """A store's agent as HQ last heard it. One per store."""

    store = models.OneToOneField(Store, on_delete=models.CASCADE, related_name="agent")
    agent_id = models.CharField(max_length=64)
    version = models.CharField(max_length=32, blank=True)
    registered_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    mode = models.CharField(max_length=20, blank=True, help_text="As the agent reported it")
    queue_depth = models.PositiveIntegerField(default=0)
    oldest_unsent_at = models.DateTimeField(null=True, blank=True)
    offline_since = models.DateTimeField(null=True, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    card_exposure_cents = models.BigIntegerField(default=0)
    card_count = models.PositiveIntegerField(default=0)
    # Sales waiting for staff at the store, as its agent counts them: HQ rejected them, refused
    # them as conflicts, or fails on them every time (quarantined, tried again now and then).
    rejected = models.PositiveIntegerField(
        default=0, help_text="Sales HQ rejected, kept at the store"
    )
    conflicts = models.PositiveIntegerField(
        default=0, help_text="Sales HQ refused as conflicts, kept at the store"
    )
    quarantined = models.PositiveIntegerField(
        default=0, help_text="Sales HQ fails on every time, set aside at the store"
    )
    state = models.CharField(max_length=10, choices=LinkState.choices, default=LinkState.SILENT)
    state_since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["store__code"]

    def __str__(self) -> str:
        return f"agent of {self.store.code} ({self.state})"

    @property
    def needs_attention(self) -> int:
        """Sales at the store that staff must look at (none of them reached HQ's books)."""
        return self.rejected + self.conflicts + self.quarantined


class StateChange(models.Model):
    """A store's link changed state: the history the console shows (offline, draining, back)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=LinkState.choices)
    previous = models.CharField(max_length=10, choices=LinkState.choices)
    at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.store_id}: {self.previous} -> {self.state} at {self.at:%Y-%m-%d %H:%M:%S}"


class HeartbeatMinute(models.Model):
    """A store was heard from in this minute, with the sales its agent still had queued (its last
    heartbeat of the minute): heartbeat coverage and offline-queue depth are built from it."""

    minute = models.DateTimeField()
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    queue_depth = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["minute", "store"], name="one_heartbeat_minute_each")
        ]
        indexes = [models.Index(fields=["minute"])]

    def __str__(self) -> str:
        return f"{self.store_id} heard at {self.minute:%Y-%m-%d %H:%M}"


class CardPolicy(models.Model):
    """Limits on card payments the terminal could not authorise, for a store or a region.
    A store's own policy wins over its region's; with neither, the STORELINK_CARD_* settings."""

    store = models.OneToOneField(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="card_policy"
    )
    region = models.OneToOneField(
        Region, null=True, blank=True, on_delete=models.CASCADE, related_name="card_policy"
    )
    per_sale_limit_cents = models.PositiveIntegerField()
    total_limit_cents = models.PositiveBigIntegerField()
    max_count = models.PositiveIntegerField()
    max_age_minutes = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(store__isnull=True, region__isnull=False)
                | models.Q(store__isnull=False, region__isnull=True),
                name="card_policy_for_store_or_region",
            )
        ]

    def __str__(self) -> str:
        return f"card policy for {self.store or self.region}"

    def as_dict(self) -> dict:
        return {
            "per_sale_limit_cents": self.per_sale_limit_cents,
            "total_limit_cents": self.total_limit_cents,
            "max_count": self.max_count,
            "max_age_minutes": self.max_age_minutes,
        }
