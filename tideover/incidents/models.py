from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from tideover.core.models import Component, ComponentStatus, Region, Store


class Impact(models.TextChoices):
    """The status-page API's impact levels."""

    NONE = "none", "None"
    MINOR = "minor", "Minor"
    MAJOR = "major", "Major"
    CRITICAL = "critical", "Critical"
    MAINTENANCE = "maintenance", "Maintenance"


class Severity(models.Model):
    """SEV1..SEV4 with the public-update cadence each promises. Editable in the admin."""

    level = models.PositiveSmallIntegerField(unique=True, help_text="1 is the most severe")
    name = models.CharField(max_length=20, unique=True)
    description = models.CharField(max_length=200, blank=True)
    update_cadence_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Post a public update at least this often; empty: no cadence",
    )
    impact = models.CharField(max_length=12, choices=Impact.choices, default=Impact.MINOR)

    class Meta:
        ordering = ["level"]
        verbose_name_plural = "severities"

    def __str__(self) -> str:
        return self.name

    @property
    def cadence(self) -> timedelta | None:
        return (
            timedelta(minutes=self.update_cadence_minutes) if self.update_cadence_minutes else None
        )


class IncidentKind(models.TextChoices):
    INCIDENT = "incident", "Incident"
    MAINTENANCE = "maintenance", "Scheduled maintenance"


class IncidentState(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    IDENTIFIED = "identified", "Identified"
    MONITORING = "monitoring", "Monitoring"
    RESOLVED = "resolved", "Resolved"
    SCHEDULED = "scheduled", "Scheduled"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    # A maintenance window called off before it began (never "completed" with future dates).
    CANCELLED = "cancelled", "Cancelled"


OPEN_INCIDENT_STATES = (
    IncidentState.INVESTIGATING,
    IncidentState.IDENTIFIED,
    IncidentState.MONITORING,
)
CLOSED_STATES = (IncidentState.RESOLVED, IncidentState.COMPLETED, IncidentState.CANCELLED)


class IncidentQuerySet(models.QuerySet):
    def incidents(self):
        return self.filter(kind=IncidentKind.INCIDENT)

    def maintenances(self):
        return self.filter(kind=IncidentKind.MAINTENANCE)

    def open(self):
        return self.exclude(state__in=CLOSED_STATES)

    def public(self):
        return self.filter(is_drill=False)

    def affecting(self, store):
        """Incidents that touch ``store``: all stores, its region, or listed."""
        return self.filter(
            models.Q(affects_all_stores=True)
            | models.Q(affected_stores=store)
            | models.Q(affected_regions=store.region_id)
        ).distinct()


class Incident(models.Model):
    kind = models.CharField(
        max_length=12, choices=IncidentKind.choices, default=IncidentKind.INCIDENT
    )
    title = models.CharField(max_length=200)
    severity = models.ForeignKey(Severity, null=True, blank=True, on_delete=models.PROTECT)
    state = models.CharField(
        max_length=16, choices=IncidentState.choices, default=IncidentState.INVESTIGATING
    )
    is_drill = models.BooleanField(
        default=False, help_text="Runs everything; nothing reaches the public"
    )

    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comms_lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    affects_all_stores = models.BooleanField(default=False)
    affected_regions = models.ManyToManyField(Region, blank=True, related_name="incidents")
    affected_stores = models.ManyToManyField(Store, blank=True, related_name="incidents")

    started_at = models.DateTimeField(null=True, blank=True, help_text="When the failure began")
    detected_at = models.DateTimeField(
        null=True, blank=True, help_text="When a signal or person noticed"
    )
    declared_at = models.DateTimeField(default=timezone.now)
    first_public_update_at = models.DateTimeField(null=True, blank=True)
    last_public_update_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    scheduled_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-declared_at", "-pk"]
        indexes = [models.Index(fields=["kind", "state"]), models.Index(fields=["resolved_at"])]

    def __str__(self) -> str:
        return self.title

    # --- derived ------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES

    @property
    def impact(self) -> str:
        if self.kind == IncidentKind.MAINTENANCE:
            return Impact.MAINTENANCE
        return self.severity.impact if self.severity else Impact.NONE

    @property
    def time_to_detect(self) -> timedelta | None:
        if self.started_at and self.detected_at:
            return self.detected_at - self.started_at
        return None

    @property
    def time_to_first_update(self) -> timedelta | None:
        if self.first_public_update_at:
            return self.first_public_update_at - self.declared_at
        return None

    @property
    def time_to_resolve(self) -> timedelta | None:
        if self.resolved_at:
            return self.resolved_at - (self.started_at or self.declared_at)
        return None

    def next_update_due_at(self):
        """When the public must hear from us next, by the severity's cadence (None: no cadence)."""
        if self.kind != IncidentKind.INCIDENT or not self.is_open or not self.severity:
            return None
        cadence = self.severity.cadence
        if cadence is None:
            return None
        return (self.last_public_update_at or self.declared_at) + cadence

    def is_update_overdue(self, now=None) -> bool:
        due = self.next_update_due_at()
        return due is not None and (now or timezone.now()) > due

    def overdue_by(self, now=None) -> timedelta | None:
        due = self.next_update_due_at()
        now = now or timezone.now()
        return now - due if due is not None and now > due else None

    def affected_store_ids(self) -> set[int]:
        """Every store this incident touches (all, by region, or listed)."""
        if self.affects_all_stores:
            return set(Store.objects.filter(is_active=True).values_list("pk", flat=True))
        ids = set(self.affected_stores.values_list("pk", flat=True))
        region_ids = list(self.affected_regions.values_list("pk", flat=True))
        if region_ids:
            ids |= set(Store.objects.filter(region_id__in=region_ids).values_list("pk", flat=True))
        return ids

    def store_scope_label(self) -> str:
        if self.affects_all_stores:
            return "All stores"
        parts = [r.name for r in self.affected_regions.all()]
        count = self.affected_stores.count()
        if count:
            parts.append(f"{count} store{'s' if count != 1 else ''}")
        return ", ".join(parts) or "No stores"


class ScheduledMaintenance(Incident):
    """Maintenance windows: incidents of kind maintenance, with their own states."""

    class Meta:
        proxy = True
        verbose_name_plural = "scheduled maintenance"


class AffectedComponent(models.Model):
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="affected_components"
    )
    component = models.ForeignKey(Component, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=32, choices=ComponentStatus.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "component"], name="component_once_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component} {self.status} in {self.incident}"


class PublicUpdate(models.Model):
    """What the public is told: shown on the status page, feeds and every subscriber channel."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="public_updates")
    state = models.CharField(max_length=16, choices=IncidentState.choices)
    body = models.TextField()
    posted_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    author_name = models.CharField(max_length=150, blank=True)
    components = models.JSONField(default=list, help_text="[{slug, name, status}] at posting time")

    class Meta:
        ordering = ["-posted_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.incident}: {self.body[:60]}"


class TimelineKind(models.TextChoices):
    DECLARED = "declared", "Declared"
    PUBLIC_UPDATE = "public_update", "Public update"
    INTERNAL_NOTE = "internal_note", "Internal note"
    STATE_CHANGED = "state_changed", "State changed"
    RESOLVED = "resolved", "Resolved"
    REOPENED = "reopened", "Reopened"
    COMPONENT_STATUS = "component_status", "Component status"
    ROLES = "roles", "Roles assigned"
    SEVERITY = "severity", "Severity changed"
    CHECKLIST = "checklist", "Checklist"
    MESSAGES = "messages", "Messages sent"
    REMINDER = "reminder", "Update reminder"
    SIGNAL = "signal", "Signal / alert"


class TimelineEvent(models.Model):
    """Everything that happened in an incident, with who and when. Append-only."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=20, choices=TimelineKind.choices)
    at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    author_name = models.CharField(
        max_length=150, blank=True, help_text="User name, token or 'system'"
    )
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    is_internal = models.BooleanField(default=True, help_text="False for what the public also saw")

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["incident", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind} {self.body[:60]}"


class ComponentStatusChange(models.Model):
    """Each change of a component's status, for the 90-day history and postmortems."""

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="status_changes"
    )
    status = models.CharField(max_length=32, choices=ComponentStatus.choices)
    previous_status = models.CharField(max_length=32, choices=ComponentStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["component", "at"])]

    def __str__(self) -> str:
        return f"{self.component} → {self.status} at {self.at:%Y-%m-%d %H:%M}"
