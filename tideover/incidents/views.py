"""Console pages for incidents: dashboard, list, declare and the incident page.

Views validate (Django forms) and translate; services decide. A DomainError from a service comes
back as the same form with the message on it and a 4xx status, never a 500. Every change is a
POST with CSRF and redirects after success. The incident page's actions live in
``views_actions``; maintenance, severities and component status in ``views_settings``.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from tideover.core import nav
from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.models import Component, ComponentStatus
from tideover.core.roles import Capability, has_capability, sees_all_stores
from tideover.incidents import panels, services
from tideover.incidents.forms import (
    ComponentStatusForm,
    DeclareForm,
    IncidentFilterForm,
    IncidentSettingsForm,
    MaintenanceStepForm,
    NoteForm,
    PublicUpdateForm,
    ReopenForm,
    StateForm,
)
from tideover.incidents.models import (
    CLOSED_STATES,
    AffectedComponent,
    Incident,
    IncidentKind,
    IncidentState,
)


def duration_text(delta: timedelta | None) -> str:
    """'2 h 05 min', '14 min', '40 s' — how long, for people reading in a hurry."""
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def actor(request) -> services.Actor:
    return services.Actor.of(request.user)


def add_domain_error(form, exc: DomainError) -> None:
    """Put the service's message on the field it names, or on the form as a whole."""
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def annotate_cadence(incident: Incident, now) -> Incident:
    """Attach what the console shows about the update cadence (overdue in red, by how much)."""
    due = incident.next_update_due_at()
    incident.due_at = due
    incident.overdue = due is not None and now > due
    incident.overdue_text = duration_text(now - due) if incident.overdue else ""
    incident.due_in_text = duration_text(due - now) if due and not incident.overdue else ""
    return incident


def own_store(user):
    """The store of a store associate or manager, None for HQ roles (they see every store)."""
    if sees_all_stores(user):
        return None
    profile = getattr(user, "staff_profile", None)
    return profile.store if profile is not None else None


def affects_store(incident: Incident, store) -> bool:
    """Does the incident touch this store? Uses the prefetched regions and stores."""
    if store is None:
        return False
    return (
        incident.affects_all_stores
        or any(s.pk == store.pk for s in incident.affected_stores.all())
        or any(r.pk == store.region_id for r in incident.affected_regions.all())
    )


def _with_components(query):
    return query.select_related("severity", "commander", "comms_lead").prefetch_related(
        Prefetch(
            "affected_components",
            queryset=AffectedComponent.objects.select_related("component").order_by(
                "component__position"
            ),
        ),
        "affected_regions",
        "affected_stores",
    )


DRILL_DASHBOARD_AGE = timedelta(hours=24)


@capability_required(Capability.VIEW_CONSOLE)
def dashboard(request):
    return render_dashboard(request)


def render_dashboard(request, status: int = 200):
    now = timezone.now()
    store = own_store(request.user)
    open_incidents = [
        annotate_cadence(incident, now)
        for incident in _with_components(
            Incident.objects.incidents().open().order_by("severity__level", "-declared_at")
        )
    ]
    for incident in open_incidents:
        incident.affects_my_store = affects_store(incident, store)
    # A drill is practice: it sits beside the real incidents, not among them, and one that was
    # never closed drops off the dashboard after a day (it stays in the incident list).
    drills = [i for i in open_incidents if i.is_drill and now - i.declared_at < DRILL_DASHBOARD_AGE]
    open_incidents = [i for i in open_incidents if not i.is_drill]
    maintenance = list(
        _with_components(
            Incident.objects.maintenances().open().order_by("scheduled_for", "pk")
        ).filter(Q(state=IncidentState.IN_PROGRESS) | Q(scheduled_until__gte=now))
    )
    context = {
        "incidents": open_incidents,
        "drills": drills,
        "overdue_count": sum(1 for i in open_incidents if i.overdue),
        "maintenance": maintenance,
        "components": Component.objects.all(),
        "my_store": store,
        "status_choices": ComponentStatus.choices,
        "now": now,
    }
    return render(request, "incidents/dashboard.html", context, status=status)


@capability_required(Capability.VIEW_CONSOLE)
def incident_list(request):
    form = IncidentFilterForm(request.GET or {"status": "open"})
    query = _with_components(Incident.objects.all())
    if form.is_valid():
        data = form.cleaned_data
        if data.get("status") == "open":
            query = query.open()
        elif data.get("status") == "resolved":
            query = query.filter(state__in=CLOSED_STATES)
        if data.get("severity"):
            query = query.filter(severity=data["severity"])
        if data.get("kind"):
            query = query.filter(kind=data["kind"])
        if data.get("q"):
            query = query.filter(title__icontains=data["q"])
    now = timezone.now()
    incidents = [annotate_cadence(i, now) for i in query.order_by("-declared_at", "-pk")[:100]]
    return render(
        request,
        "incidents/incident_list.html",
        {"form": form, "incidents": incidents, "shown": len(incidents)},
    )


@capability_required(Capability.DECLARE_INCIDENT)
def declare(request):
    if request.method == "POST":
        form = DeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.check_typed_times(started_at=data["started_at"])
                incident = services.declare_incident(
                    title=data["title"],
                    severity=data["severity"],
                    components=form.component_statuses(),
                    message=data["message"],
                    commander=data["commander"],
                    comms_lead=data["comms_lead"],
                    is_drill=data["is_drill"],
                    started_at=data["started_at"],
                    actor=actor(request),
                    once=True,
                    **form.scope_kwargs(),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
                return render(
                    request, "incidents/declare.html", {"form": form}, status=exc.status_code
                )
            messages.success(request, f"Declared {incident.severity.name}: {incident.title}")
            return redirect("incidents:detail", incident_id=incident.pk)
        return render(request, "incidents/declare.html", {"form": form}, status=400)
    return render(request, "incidents/declare.html", {"form": DeclareForm()})


def get_incident(incident_id: int) -> Incident:
    return get_object_or_404(_with_components(Incident.objects.all()), pk=incident_id)


def render_detail(request, incident: Incident, status: int = 200, **forms):
    """The incident page; ``forms`` replaces a blank form with a bound one that has errors."""
    now = timezone.now()
    annotate_cadence(incident, now)
    caps = {c.value for c in Capability if has_capability(request.user, c)}
    defaults = {}
    if Capability.POST_PUBLIC_UPDATE in caps and incident.is_open:
        defaults["update_form"] = lambda: PublicUpdateForm(incident, user=request.user)
        defaults["note_form"] = NoteForm
    elif Capability.POST_PUBLIC_UPDATE in caps:
        defaults["note_form"] = NoteForm
    if Capability.DECLARE_INCIDENT in caps and incident.kind == IncidentKind.INCIDENT:
        if incident.is_open:
            defaults["state_form"] = lambda: StateForm(incident)
            defaults["settings_form"] = lambda: IncidentSettingsForm.for_incident(incident)
        elif incident.state == IncidentState.RESOLVED:
            defaults["reopen_form"] = ReopenForm
    if Capability.SET_COMPONENT_STATUS in caps and incident.is_open:
        defaults["component_form"] = ComponentStatusForm
    if (
        Capability.SCHEDULE_MAINTENANCE in caps
        and incident.kind == IncidentKind.MAINTENANCE
        and incident.is_open
    ):
        defaults["maintenance_form"] = MaintenanceStepForm
    context = {name: make() for name, make in defaults.items()}
    context.update(forms)  # a refused form stays on the page with its message, whatever the state
    timeline = list(incident.timeline.order_by("-at", "-pk"))
    context.update(
        {
            "incident": incident,
            "timeline": timeline,
            "times": {
                "detect": duration_text(incident.time_to_detect),
                "first_update": duration_text(incident.time_to_first_update),
                "resolve": duration_text(incident.time_to_resolve),
                "open_for": duration_text(now - (incident.started_at or incident.declared_at)),
            },
            "status_choices": ComponentStatus.choices,
            "panels": panels.panels_for(request, incident),
            "incident_links": nav.incident_links_for(incident, caps),
        }
    )
    return render(request, "incidents/detail.html", context, status=status)


@capability_required(Capability.VIEW_CONSOLE)
def detail(request, incident_id: int):
    return render_detail(request, get_incident(incident_id))
