"""/api/v1/components and /api/v1/incidents: validate, translate, call a service."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.shortcuts import get_object_or_404
from ninja import Router, Status

from tideover.core.api_auth import access, actor_name, actor_user
from tideover.core.errors import DomainError, NotFound
from tideover.core.models import Component, Region, TokenScope
from tideover.core.roles import Capability
from tideover.core.services import get_component, stores_by_code
from tideover.incidents import services
from tideover.incidents.models import CLOSED_STATES, Incident, Severity
from tideover.incidents.schemas import (
    CancelIn,
    ComponentOut,
    ComponentStatusIn,
    IncidentCreateIn,
    IncidentOut,
    IncidentPatchIn,
    MaintenanceIn,
    NoteIn,
    PublicUpdateIn,
    ReopenIn,
    StateChangeIn,
    TimelineEventOut,
)

components_router = Router(tags=["components"])
maintenance_router = Router(tags=["scheduled maintenance"])
router = Router(tags=["incidents"])

READ = {"scope": TokenScope.INCIDENTS_READ, "capability": Capability.VIEW_CONSOLE}


def _actor(request) -> services.Actor:
    return services.Actor(user=actor_user(request), name=actor_name(request))


def _seconds(delta) -> int | None:
    return int(delta.total_seconds()) if delta is not None else None


def incident_out(incident: Incident) -> dict:
    return {
        "id": incident.pk,
        "kind": incident.kind,
        "title": incident.title,
        "severity": incident.severity.name if incident.severity else None,
        "impact": incident.impact,
        "state": incident.state,
        "is_drill": incident.is_drill,
        "commander": incident.commander.get_username() if incident.commander else None,
        "comms_lead": incident.comms_lead.get_username() if incident.comms_lead else None,
        "stores": incident.store_scope_label(),
        "components": services.components_snapshot(incident),
        "started_at": incident.started_at,
        "detected_at": incident.detected_at,
        "declared_at": incident.declared_at,
        "first_public_update_at": incident.first_public_update_at,
        "last_public_update_at": incident.last_public_update_at,
        "mitigated_at": incident.mitigated_at,
        "resolved_at": incident.resolved_at,
        "scheduled_for": incident.scheduled_for,
        "scheduled_until": incident.scheduled_until,
        "next_update_due_at": incident.next_update_due_at(),
        "update_overdue": incident.is_update_overdue(),
        "time_to_first_update_seconds": _seconds(incident.time_to_first_update),
        "time_to_resolve_seconds": _seconds(incident.time_to_resolve),
        "updates": list(incident.public_updates.all()),
    }


def _severity(value: str) -> Severity:
    text = value.strip()
    found = (
        Severity.objects.filter(level=int(text)).first()
        if text.isascii() and text.isdigit()
        else Severity.objects.filter(name__iexact=text).first()
    )
    if found is None:
        names = ", ".join(Severity.objects.values_list("name", flat=True))
        raise DomainError(f"Unknown severity {value!r}; use one of {names}", field="severity")
    return found


def _user(username: str | None, field: str):
    """The commander or comms lead named in a request (the services check their role)."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise DomainError(f"No active staff user named {username!r}", field=field)
    return user


def _components(items) -> dict[Component, str]:
    result = {}
    for item in items:
        try:
            result[get_component(item.component)] = item.status
        except NotFound:
            raise DomainError(f"No component {item.component!r}", field="components")
    return result


def _scope(scope):
    regions = list(Region.objects.filter(slug__in=scope.regions))
    missing = set(scope.regions) - {r.slug for r in regions}
    if missing:
        raise DomainError(
            f"Unknown region(s): {', '.join(sorted(missing))}", field="stores.regions"
        )
    stores, missing = stores_by_code(scope.stores)
    if missing:
        raise DomainError(
            f"Unknown store code(s): {', '.join(sorted(missing))}", field="stores.stores"
        )
    return {"all_stores": scope.all_stores, "regions": regions, "stores": stores}


def _incident(incident_id: int) -> Incident:
    return get_object_or_404(
        Incident.objects.select_related("severity", "commander", "comms_lead"), pk=incident_id
    )


# --- components -------------------------------------------------------------------------------


@components_router.get(
    "", response=list[ComponentOut], summary="List components", auth=access(**READ)
)
def list_components(request):
    return list(Component.objects.all())


@components_router.post(
    "/{slug}/status",
    response=ComponentOut,
    summary="Set a component's status",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.SET_COMPONENT_STATUS),
)
def set_component_status(request, slug: str, payload: ComponentStatusIn):
    component = get_component(slug)
    incident = _incident(payload.incident_id) if payload.incident_id else None
    services.set_component_status(
        component, payload.status, incident=incident, actor=_actor(request)
    )
    component.refresh_from_db()
    return component


# --- incidents --------------------------------------------------------------------------------


@router.get(
    "", response=list[IncidentOut], summary="List incidents, newest first", auth=access(**READ)
)
def list_incidents(request, open: bool | None = None, kind: str | None = None, limit: int = 50):
    query = Incident.objects.select_related("severity", "commander", "comms_lead").prefetch_related(
        "public_updates"
    )
    if open is True:
        query = query.open()
    elif open is False:
        query = query.filter(state__in=CLOSED_STATES)
    if kind:
        query = query.filter(kind=kind)
    return [incident_out(i) for i in query[: max(1, min(limit, 500))]]


@router.post(
    "",
    response={201: IncidentOut},
    summary="Declare an incident",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.DECLARE_INCIDENT),
)
def declare(request, payload: IncidentCreateIn):
    services.check_typed_times(started_at=payload.started_at, detected_at=payload.detected_at)
    incident = services.declare_incident(
        title=payload.title,
        severity=_severity(payload.severity),
        components=_components(payload.components),
        message=payload.message,
        commander=_user(payload.commander, "commander"),
        comms_lead=_user(payload.comms_lead, "comms_lead"),
        is_drill=payload.is_drill,
        started_at=payload.started_at,
        detected_at=payload.detected_at,
        actor=_actor(request),
        once=True,
        **_scope(payload.stores),
    )
    return Status(201, incident_out(_incident(incident.pk)))


@router.get(
    "/{incident_id}",
    response=IncidentOut,
    summary="One incident with its public updates",
    auth=access(**READ),
)
def get_incident(request, incident_id: int):
    return incident_out(_incident(incident_id))


@router.patch(
    "/{incident_id}",
    response=IncidentOut,
    summary="Change severity, roles or affected stores",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.DECLARE_INCIDENT),
)
def update_incident(request, incident_id: int, payload: IncidentPatchIn):
    incident = _incident(incident_id)
    actor = _actor(request)
    # Every name checked before anything changes, and the changes made together: a refused
    # request changes nothing (a severity raised before an unknown commander was found stayed).
    severity = _severity(payload.severity) if payload.severity else None
    commander = _user(payload.commander, "commander")
    comms_lead = _user(payload.comms_lead, "comms_lead")
    scope = _scope(payload.stores) if payload.stores is not None else None
    with transaction.atomic():
        if severity is not None:
            services.change_severity(incident, severity, actor=actor)
        if commander or comms_lead:
            services.assign_roles(incident, commander=commander, comms_lead=comms_lead, actor=actor)
        if scope is not None:
            services.set_store_scope(incident, actor=actor, **scope)
    return incident_out(_incident(incident_id))


@router.post(
    "/{incident_id}/updates",
    response={201: IncidentOut},
    summary="Post a public update",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.POST_PUBLIC_UPDATE),
)
def post_update(request, incident_id: int, payload: PublicUpdateIn):
    incident = _incident(incident_id)
    services.post_public_update(
        incident,
        payload.body,
        state=payload.state,
        components=_components(payload.components) or None,
        actor=_actor(request),
        once=True,
    )
    return Status(201, incident_out(_incident(incident_id)))


@router.post(
    "/{incident_id}/notes",
    response={201: TimelineEventOut},
    summary="Add an internal note",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.POST_PUBLIC_UPDATE),
)
def add_note(request, incident_id: int, payload: NoteIn):
    event = services.add_internal_note(
        _incident(incident_id),
        payload.body,
        talking_points=payload.talking_points,
        actor=_actor(request),
    )
    return Status(201, event)


@router.post(
    "/{incident_id}/state",
    response=IncidentOut,
    summary="Change state (resolve, monitor, ...)",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.DECLARE_INCIDENT),
)
def change_state(request, incident_id: int, payload: StateChangeIn):
    services.change_state(
        _incident(incident_id), payload.state, message=payload.message, actor=_actor(request)
    )
    return incident_out(_incident(incident_id))


@router.post(
    "/{incident_id}/reopen",
    response=IncidentOut,
    summary="Reopen a resolved incident",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.DECLARE_INCIDENT),
)
def reopen(request, incident_id: int, payload: ReopenIn):
    services.reopen_incident(_incident(incident_id), payload.reason, actor=_actor(request))
    return incident_out(_incident(incident_id))


@router.get(
    "/{incident_id}/timeline",
    response=list[TimelineEventOut],
    summary="Every event, oldest first",
    auth=access(**READ),
)
def timeline(request, incident_id: int):
    return list(_incident(incident_id).timeline.all())


@maintenance_router.post(
    "",
    response={201: IncidentOut},
    summary="Schedule maintenance",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.SCHEDULE_MAINTENANCE),
)
def schedule(request, payload: MaintenanceIn):
    components = list(Component.objects.filter(slug__in=payload.components))
    missing = set(payload.components) - {c.slug for c in components}
    if missing:
        raise DomainError(f"Unknown component(s): {', '.join(sorted(missing))}", field="components")
    services.check_typed_times(
        scheduled_for=payload.scheduled_for, scheduled_until=payload.scheduled_until
    )
    incident = services.schedule_maintenance(
        title=payload.title,
        scheduled_for=payload.scheduled_for,
        scheduled_until=payload.scheduled_until,
        components=components,
        message=payload.message,
        actor=_actor(request),
    )
    return Status(201, incident_out(_incident(incident.pk)))


@maintenance_router.post(
    "/{incident_id}/cancel",
    response=IncidentOut,
    summary="Cancel maintenance that has not begun (subscribers are told)",
    auth=access(scope=TokenScope.INCIDENTS_WRITE, capability=Capability.SCHEDULE_MAINTENANCE),
)
def cancel(request, incident_id: int, payload: CancelIn):
    services.cancel_maintenance(_incident(incident_id), payload.reason, actor=_actor(request))
    return incident_out(_incident(incident_id))
