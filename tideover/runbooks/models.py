"""Runbooks ("Plan B, Plan C, Plan D") and the checklists an incident hands out from them.

A runbook is written per component (and optionally per severity) as text; every save is a new
immutable ``RunbookVersion`` holding the parsed plans, so an incident keeps the version it
started with however the runbook is edited afterwards. When an incident is declared, the matching
version is attached (``IncidentRunbook``) and the plan in force becomes one ``Checklist`` per
affected store (the store audiences' steps) and one per team (customer service, social, IT).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tideover.core.models import Component, Store
from tideover.incidents.models import Incident, Severity


class Audience(models.TextChoices):
    STORE_ASSOCIATES = "store_associates", "Store associates"
    STORE_MANAGERS = "store_managers", "Store managers"
    CUSTOMER_SERVICE = "customer_service", "Customer service"
    SOCIAL_TEAM = "social_team", "Social team"
    IT = "it", "IT"


# Steps for these audiences become one checklist per affected store; the rest one per team.
STORE_AUDIENCES = (Audience.STORE_ASSOCIATES, Audience.STORE_MANAGERS)
TEAM_AUDIENCES = (Audience.CUSTOMER_SERVICE, Audience.SOCIAL_TEAM, Audience.IT)


class Runbook(models.Model):
    """What to do when a component fails; ``severity`` empty: for any severity."""

    component = models.ForeignKey(Component, on_delete=models.CASCADE, related_name="+")
    severity = models.ForeignKey(
        Severity,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: used for every severity without a runbook of its own",
    )
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["component__position", "component__name", "severity__level"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "severity"], name="runbook_per_component_severity"
            ),
            models.UniqueConstraint(
                fields=["component"],
                condition=models.Q(severity__isnull=True),
                name="one_any_severity_runbook_per_component",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def latest_version(self) -> RunbookVersion | None:
        return self.versions.order_by("-number").first()


class RunbookVersion(models.Model):
    """One saved text of a runbook and its parsed plans. Never changed once written."""

    runbook = models.ForeignKey(Runbook, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    text = models.TextField(help_text="The runbook as written (see docs/respond.md)")
    plans = models.JSONField(default=list, help_text="Parsed from text")
    note = models.CharField(max_length=200, blank=True, help_text="What changed")
    author_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["runbook", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["runbook", "number"], name="runbook_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.runbook} v{self.number}"


class IncidentRunbook(models.Model):
    """The runbook version an incident runs on, and which of its plans is in force."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="runbook")
    version = models.ForeignKey(RunbookVersion, on_delete=models.PROTECT, related_name="+")
    plan_index = models.PositiveSmallIntegerField(default=0)
    attached_at = models.DateTimeField(default=timezone.now)
    plan_since = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.incident} on {self.version}"

    @property
    def plans(self) -> list[dict]:
        return self.version.plans

    @property
    def plan(self) -> dict:
        return self.version.plans[self.plan_index]

    @property
    def next_plan(self) -> dict | None:
        plans = self.version.plans
        return plans[self.plan_index + 1] if self.plan_index + 1 < len(plans) else None


class Checklist(models.Model):
    """One store's (``store`` set) or one team's (``team`` set) steps for one plan."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="checklists")
    plan_index = models.PositiveSmallIntegerField()
    plan_name = models.CharField(max_length=100)
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="checklists"
    )
    team = models.CharField(max_length=20, choices=Audience.choices, blank=True)
    is_drill = models.BooleanField(default=False)
    issued_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    stuck_at = models.DateTimeField(null=True, blank=True)
    stuck_note = models.CharField(max_length=500, blank=True)
    # Kept on the row (not counted from the steps) so the progress page for 2,000 stores is one
    # plain query; ``tick`` keeps them right under the checklist's row lock.
    steps_total = models.PositiveSmallIntegerField(default=0)
    steps_done = models.PositiveSmallIntegerField(default=0)
    nudged_at = models.DateTimeField(null=True, blank=True)
    nudges = models.PositiveSmallIntegerField(default=0)
    superseded_at = models.DateTimeField(
        null=True, blank=True, help_text="Set when the incident moved to another plan"
    )

    class Meta:
        ordering = ["incident", "store__code", "team"]
        indexes = [
            models.Index(fields=["incident", "superseded_at", "store"]),
            models.Index(fields=["store", "superseded_at"]),
        ]
        # No unique constraint per store and plan: moving B → C → B issues Plan B again.
        # Fan-out runs with the incident row locked, so two never race.

    def __str__(self) -> str:
        who = self.store.code if self.store_id else self.get_team_display()
        return f"{self.plan_name} for {who} in {self.incident_id}"

    @property
    def is_current(self) -> bool:
        return self.superseded_at is None


class ChecklistStep(models.Model):
    checklist = models.ForeignKey(Checklist, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    audience = models.CharField(max_length=20, choices=Audience.choices)
    text = models.CharField(max_length=500)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["checklist", "position"]

    def __str__(self) -> str:
        return self.text[:60]
