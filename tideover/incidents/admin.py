"""Incidents in the admin. Severities are settings and editable here; incidents are run from the
console (so every change lands on the timeline and reaches subscribers), so the admin shows them
read-only with everything that happened, for administrators looking into a past incident."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from tideover.core.admin import AdministratorsOnly, ReadOnly
from tideover.incidents.models import (
    AffectedComponent,
    ComponentStatusChange,
    Incident,
    PublicUpdate,
    Severity,
    TimelineEvent,
)


@admin.register(Severity)
class SeverityAdmin(AdministratorsOnly, admin.ModelAdmin):
    list_display = ["name", "level", "update_cadence_minutes", "impact", "description"]
    list_editable = ["update_cadence_minutes", "impact"]
    ordering = ["level"]

    def has_delete_permission(self, request, obj=None):
        # Incidents point at their severity (PROTECT); retiring one is a decision, not a click.
        return False


class AffectedComponentInline(ReadOnly, admin.TabularInline):
    model = AffectedComponent
    fields = ["component", "status"]
    extra = 0


class PublicUpdateInline(ReadOnly, admin.StackedInline):
    model = PublicUpdate
    fields = ["posted_at", "state", "author_name", "body"]
    extra = 0


class TimelineInline(ReadOnly, admin.TabularInline):
    model = TimelineEvent
    fields = ["at", "kind", "author_name", "is_internal", "body"]
    ordering = ["at", "pk"]
    extra = 0


@admin.register(Incident)
class IncidentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["title", "kind", "severity", "state", "is_drill", "declared_at", "resolved_at"]
    list_filter = ["kind", "state", "severity", "is_drill"]
    list_select_related = ["severity"]
    search_fields = ["title"]
    date_hierarchy = "declared_at"
    readonly_fields = ["console_link"]
    fields = [
        "console_link",
        "kind",
        "title",
        "severity",
        "state",
        "is_drill",
        "commander",
        "comms_lead",
        "affects_all_stores",
        "affected_regions",
        "started_at",
        "detected_at",
        "declared_at",
        "first_public_update_at",
        "last_public_update_at",
        "mitigated_at",
        "resolved_at",
        "scheduled_for",
        "scheduled_until",
    ]
    inlines = [AffectedComponentInline, PublicUpdateInline, TimelineInline]

    @admin.display(description="Run it in the console")
    def console_link(self, obj) -> str:
        url = reverse("incidents:detail", kwargs={"incident_id": obj.pk})
        return format_html('<a href="{}">Open the incident page</a>', url)


@admin.register(ComponentStatusChange)
class ComponentStatusChangeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["at", "component", "previous_status", "status", "incident"]
    list_filter = ["component", "status"]
    list_select_related = ["component", "incident"]
    date_hierarchy = "at"
