"""A replayed scenario and the scorecard its records gave."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ScenarioRun(models.Model):
    """One ``tideover scenario run``: which file, which incident it produced, its scorecard."""

    name = models.CharField(max_length=120)
    file = models.CharField(max_length=500, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="scenario_runs",
    )
    ran_at = models.DateTimeField(default=timezone.now)
    scorecard = models.JSONField(default=dict)

    class Meta:
        ordering = ["-ran_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ran_at:%Y-%m-%d %H:%M})"
