"""What the front line tells HQ: problems ("report a problem") and what customers are saying
("share what customers are saying"), each answered in the triage queue."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone

from tideover.core.models import Store
from tideover.incidents.models import Incident


def upload_storage() -> FileSystemStorage:
    # Photos are served only through a view that checks the viewer's role, never as static files.
    return FileSystemStorage(location=settings.FRONTLINE_UPLOAD_DIR, base_url=None)


class ReportKind(models.TextChoices):
    PROBLEM = "problem", "A problem"
    INSIGHT = "insight", "What customers are saying"


class Category(models.TextChoices):
    REGISTERS = "registers", "Registers / tills"
    CARD_PAYMENTS = "card-payments", "Card payments"
    LOYALTY = "loyalty", "Loyalty points or rewards"
    ONLINE = "online", "Website or app"
    QUEUES = "queues", "Long queues"
    CUSTOMERS_ASKING = "customers-asking", "Customers keep asking about it"
    CUSTOMERS_UPSET = "customers-upset", "Customers are upset"
    OTHER = "other", "Something else"


class ReportState(models.TextChoices):
    NEW = "new", "New"
    LINKED = "linked", "Linked to an incident"
    ANSWERED = "answered", "Answered"
    ACTED_ON = "acted_on", "Acted on"


class Report(models.Model):
    kind = models.CharField(max_length=10, choices=ReportKind.choices)
    category = models.CharField(max_length=20, choices=Category.choices)
    text = models.TextField()
    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    photo = models.FileField(upload_to="reports/%Y/%m/", storage=upload_storage, blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reporter_key = models.CharField(
        max_length=40, help_text="Stable and opaque per person, for counting without names"
    )
    created_at = models.DateTimeField(default=timezone.now)
    is_drill = models.BooleanField(default=False, help_text="Sent while the store ran a drill")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    state = models.CharField(max_length=10, choices=ReportState.choices, default=ReportState.NEW)
    answer = models.TextField(blank=True, help_text="Shown to the store: 'you said, we did'")
    answered_by = models.CharField(max_length=150, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    acted_on_at = models.DateTimeField(null=True, blank=True)
    acted_on_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["store", "created_at"]),
            models.Index(fields=["reporter_key", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
