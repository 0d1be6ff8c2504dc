"""Drill pages: readiness per store and region over the last drills, and one drill's report."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from tideover.core.access import capability_required
from tideover.core.roles import Capability
from tideover.incidents.models import Incident
from tideover.runbooks import drills


@capability_required(Capability.VIEW_RESPONSE)
def readiness(request):
    return render(request, "runbooks/drills.html", drills.readiness())


@capability_required(Capability.VIEW_RESPONSE)
def drill_report(request, incident_id: int):
    incident = get_object_or_404(Incident.objects.incidents().filter(is_drill=True), pk=incident_id)
    return render(request, "runbooks/drill_report.html", drills.drill_report(incident))
