"""Console pages around incidents: scheduled maintenance, severities and their update cadence,
and a component's status outside any incident."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.models import Component, ComponentStatus
from tideover.core.roles import Capability, has_capability
from tideover.incidents import services
from tideover.incidents.forms import MaintenanceForm, SeverityForm, StatusOnlyForm
from tideover.incidents.models import CLOSED_STATES, Incident, Severity
from tideover.incidents.views import actor, add_domain_error, render_dashboard


@capability_required(Capability.VIEW_CONSOLE)
def maintenance_list(request):
    windows = Incident.objects.maintenances().prefetch_related("affected_components__component")
    return render(
        request,
        "incidents/maintenance_list.html",
        {
            "upcoming": windows.open().order_by("scheduled_for", "pk"),
            "past": windows.filter(state__in=CLOSED_STATES).order_by("-scheduled_for")[:20],
            "now": timezone.now(),
        },
    )


@capability_required(Capability.SCHEDULE_MAINTENANCE)
def schedule_maintenance(request):
    if request.method != "POST":
        return render(request, "incidents/maintenance_form.html", {"form": MaintenanceForm()})
    form = MaintenanceForm(request.POST)
    if not form.is_valid():
        return render(request, "incidents/maintenance_form.html", {"form": form}, status=400)
    data = form.cleaned_data
    try:
        services.check_typed_times(
            scheduled_for=data["scheduled_for"], scheduled_until=data["scheduled_until"]
        )
        incident = services.schedule_maintenance(
            title=data["title"],
            scheduled_for=data["scheduled_for"],
            scheduled_until=data["scheduled_until"],
            components=list(data["components"]),
            message=data["message"],
            actor=actor(request),
            **form.scope_kwargs(),
        )
    except DomainError as exc:
        add_domain_error(form, exc)
        return render(
            request, "incidents/maintenance_form.html", {"form": form}, status=exc.status_code
        )
    messages.success(request, f"Maintenance scheduled: {incident.title}")
    return redirect("incidents:detail", incident_id=incident.pk)


def _severities_page(request, bound: SeverityForm | None = None, status: int = 200):
    may_edit = has_capability(request.user, Capability.MANAGE_SEVERITIES)
    rows = []
    for severity in Severity.objects.all():
        form = None
        if may_edit:
            same = bound is not None and bound.instance.pk == severity.pk
            form = bound if same else SeverityForm(instance=severity, prefix=f"sev{severity.pk}")
        rows.append({"severity": severity, "form": form})
    return render(
        request, "incidents/severities.html", {"rows": rows, "may_edit": may_edit}, status=status
    )


@capability_required(Capability.VIEW_CONSOLE)
def severities(request):
    return _severities_page(request)


@capability_required(Capability.MANAGE_SEVERITIES)
@require_POST
def edit_severity(request, severity_id: int):
    severity = get_object_or_404(Severity, pk=severity_id)
    form = SeverityForm(request.POST, instance=severity, prefix=f"sev{severity.pk}")
    if not form.is_valid():
        return _severities_page(request, bound=form, status=400)
    # A severity is a setting, not an incident event: the model form saves it as it is.
    form.save()
    cadence = severity.update_cadence_minutes
    messages.success(
        request,
        f"{severity.name}: "
        + (f"public update every {cadence} min." if cadence else "no update cadence."),
    )
    return redirect("incidents:severities")


@capability_required(Capability.SET_COMPONENT_STATUS)
@require_POST
def component_status(request, slug: str):
    component = get_object_or_404(Component, slug=slug)
    form = StatusOnlyForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, f"Choose a status for {component.name}: {', '.join(ComponentStatus.labels)}."
        )
        return render_dashboard(request, status=400)
    status = form.cleaned_data["status"]
    try:
        changed = services.set_component_status(component, status, actor=actor(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return render_dashboard(request, status=exc.status_code)
    label = ComponentStatus(status).label.lower()
    messages.success(
        request,
        f"{component.name} is now {label}."
        if changed
        else f"{component.name} was already {label}.",
    )
    return redirect("incidents:dashboard")
