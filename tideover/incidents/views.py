"""Console pages for incidents. Views validate and translate; services decide."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from tideover.core.access import capability_required
from tideover.core.models import Component
from tideover.core.roles import Capability
from tideover.incidents.models import Incident


@capability_required(Capability.VIEW_CONSOLE)
def dashboard(request):
    now = timezone.now()
    open_incidents = list(
        Incident.objects.open()
        .select_related("severity", "commander", "comms_lead")
        .order_by("severity__level", "-declared_at")
    )
    for incident in open_incidents:
        incident.overdue = incident.is_update_overdue(now)
    return render(
        request,
        "incidents/dashboard.html",
        {"incidents": open_incidents, "components": Component.objects.all(), "now": now},
    )
