"""The commander's view of staff briefings for one incident: which staff channels failed, and
which backup channel reached which team."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render

from tideover.core.access import capability_required
from tideover.core.roles import Capability
from tideover.incidents.models import Incident
from tideover.notifications.models import StaffTeam
from tideover.notifications.teams import briefing_report


@capability_required(Capability.VIEW_DELIVERY)
def briefings(request, incident_id: int):
    incident = get_object_or_404(Incident, pk=incident_id)
    return render(
        request,
        "notifications/briefings.html",
        {
            "incident": incident,
            "briefings": briefing_report(incident.pk),
            "teams": StaffTeam.objects.prefetch_related("channels__endpoint"),
        },
    )
