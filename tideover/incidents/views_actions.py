"""What staff do on an incident's page: each a POST that redirects back after success, or shows
the page again with the form's errors and a 4xx status."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from tideover.core.access import capability_required
from tideover.core.errors import DomainError
from tideover.core.roles import Capability
from tideover.incidents import services
from tideover.incidents.forms import (
    ComponentStatusForm,
    IncidentSettingsForm,
    MaintenanceStepForm,
    NoteForm,
    PublicUpdateForm,
    ReopenForm,
    StateForm,
)
from tideover.incidents.models import IncidentKind, IncidentState
from tideover.incidents.views import actor, add_domain_error, get_incident, render_detail


def _carry_out(request, incident, form_name: str, form, action: Callable, done: str, anchor=""):
    """Validate, run the service, then redirect (PRG) or show the page again with the error."""
    if not form.is_valid():
        return render_detail(request, incident, status=400, **{form_name: form})
    try:
        action(form.cleaned_data)
    except DomainError as exc:
        add_domain_error(form, exc)
        return render_detail(request, incident, status=exc.status_code, **{form_name: form})
    messages.success(request, done)
    url = reverse("incidents:detail", kwargs={"incident_id": incident.pk})
    return redirect(f"{url}#{anchor}" if anchor else url)


@capability_required(Capability.POST_PUBLIC_UPDATE)
@require_POST
def post_update(request, incident_id: int):
    incident = get_incident(incident_id)
    form = PublicUpdateForm(incident, request.POST, user=request.user)
    if form.refused:
        # Moving the state or a component through an update needs the same role as doing it
        # directly; refused as a whole, so nothing is half-posted.
        raise PermissionDenied(f"Your role does not allow: {form.refused[0]}")

    def act(data):
        services.post_public_update(
            incident,
            data["body"],
            state=data.get("state") or None,
            components=form.component_statuses() or None,
            actor=actor(request),
            once=True,
        )

    return _carry_out(request, incident, "update_form", form, act, "Public update posted.")


@capability_required(Capability.POST_PUBLIC_UPDATE)
@require_POST
def add_note(request, incident_id: int):
    incident = get_incident(incident_id)

    def act(data):
        services.add_internal_note(
            incident, data["body"], talking_points=data["talking_points"], actor=actor(request)
        )

    return _carry_out(
        request, incident, "note_form", NoteForm(request.POST), act, "Internal note added."
    )


@capability_required(Capability.DECLARE_INCIDENT)
@require_POST
def change_state(request, incident_id: int):
    incident = get_incident(incident_id)
    form = StateForm(incident, request.POST)

    def act(data):
        services.change_state(
            incident, data["state"], message=data["message"], actor=actor(request)
        )

    target = IncidentState(request.POST.get("state", "investigating")) if form.is_valid() else None
    done = "Incident resolved." if target == IncidentState.RESOLVED else "State changed."
    return _carry_out(request, incident, "state_form", form, act, done)


@capability_required(Capability.DECLARE_INCIDENT)
@require_POST
def reopen(request, incident_id: int):
    incident = get_incident(incident_id)

    def act(data):
        services.reopen_incident(
            incident, data["reason"], state=data["state"], actor=actor(request)
        )

    return _carry_out(
        request, incident, "reopen_form", ReopenForm(request.POST), act, "Incident reopened."
    )


@capability_required(Capability.SET_COMPONENT_STATUS)
@require_POST
def set_component(request, incident_id: int):
    incident = get_incident(incident_id)

    def act(data):
        services.set_component_status(
            data["component"], data["status"], incident=incident, actor=actor(request)
        )

    return _carry_out(
        request,
        incident,
        "component_form",
        ComponentStatusForm(request.POST),
        act,
        "Component status changed.",
        anchor="components",
    )


@capability_required(Capability.DECLARE_INCIDENT)
@require_POST
def update_settings(request, incident_id: int):
    incident = get_incident(incident_id)
    form = IncidentSettingsForm(request.POST)

    @transaction.atomic  # severity, roles and stores change together or not at all
    def act(data):
        who = actor(request)
        if incident.kind != IncidentKind.INCIDENT:
            raise DomainError("Maintenance has no severity or roles")
        # Only what this person changed on the page: what someone else changed since it was
        # shown stays (the services lock the incident and work from its newest state).
        if form.severity_changed():
            services.change_severity(incident, data["severity"], actor=who)
        services.assign_roles(
            incident, commander=data["commander"], comms_lead=data["comms_lead"], actor=who
        )
        if form.scope_changed() and form.scope_signature() != form.signature_of(incident):
            services.set_store_scope(incident, actor=who, **form.scope_kwargs())

    return _carry_out(request, incident, "settings_form", form, act, "Incident settings saved.")


@capability_required(Capability.SCHEDULE_MAINTENANCE)
@require_POST
def maintenance_step(request, incident_id: int, step: str):
    incident = get_incident(incident_id)
    form = MaintenanceStepForm(request.POST)

    def act(data):
        if incident.kind != IncidentKind.MAINTENANCE:
            raise DomainError("Only scheduled maintenance can be started, completed or cancelled")
        step_service = {
            "start": services.start_maintenance,
            "complete": services.complete_maintenance,
            "cancel": services.cancel_maintenance,
        }[step]
        step_service(incident, data["message"], actor=actor(request))

    done = {
        "start": "Maintenance started.",
        "complete": "Maintenance completed.",
        "cancel": "Maintenance cancelled; subscribers are told.",
    }[step]
    return _carry_out(request, incident, "maintenance_form", form, act, done)
