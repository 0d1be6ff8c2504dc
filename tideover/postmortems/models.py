"""A postmortem's action items. The rest of the postmortem is drafted from the records each
time it is opened (see ``draft.py``), so its numbers never go stale."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tideover.incidents.models import Incident


class ActionItem(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="action_items")
    text = models.CharField(max_length=500)
    owner = models.CharField(max_length=150, blank=True)
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["incident", "created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:60]
