"""Running an incident: declare, update, change state, resolve, reopen; and maintenance.

Every function owns its transaction, writes the timeline and publishes a named event (see
``tideover.core.events``). ``at`` lets the scenario replay act at its own clock; it defaults to now.
``author`` is a user or None; ``author_name`` names tokens and the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tideover.core import events
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import STATUS_RANK, Component, ComponentStatus, Region, Store
from tideover.core.services import set_component_status_raw
from tideover.incidents.models import (
    CLOSED_STATES,
    OPEN_INCIDENT_STATES,
    AffectedComponent,
    ComponentStatusChange,
    Incident,
    IncidentKind,
    IncidentState,
    PublicUpdate,
    Severity,
    TimelineEvent,
    TimelineKind,
)

MAX_UPDATE_LENGTH = 5000


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff user, or a named machine (token) or 'system'."""

    user: object | None = None
    name: str = "system"

    @classmethod
    def of(cls, user=None, name: str | None = None) -> Actor:
        if user is not None:
            return cls(user=user, name=name or user.get_username())
        return cls(user=None, name=name or "system")


SYSTEM = Actor()

DEFAULT_SEVERITIES = [
    # level, name, cadence minutes, impact, description
    (1, "SEV1", 15, "critical", "Stores cannot sell or customers cannot pay, chain-wide"),
    (2, "SEV2", 30, "major", "A key function is down for many stores or the web shop"),
    (3, "SEV3", 60, "minor", "Degraded service or a few stores affected"),
    (4, "SEV4", None, "none", "Minor issue, no customer impact expected"),
]


def ensure_default_severities() -> None:
    """Create SEV1..SEV4 with their cadences unless they exist (they stay editable)."""
    for level, name, cadence, impact, description in DEFAULT_SEVERITIES:
        Severity.objects.get_or_create(
            level=level,
            defaults={
                "name": name,
                "update_cadence_minutes": cadence,
                "impact": impact,
                "description": description,
            },
        )


def _now(at: datetime | None) -> datetime:
    return at or timezone.now()


def _record(incident, kind, actor: Actor, at, body="", data=None, internal=True) -> TimelineEvent:
    return TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        at=at,
        author=actor.user,
        author_name=actor.name,
        body=body,
        data=data or {},
        is_internal=internal,
    )


def record_timeline_event(
    incident: Incident, kind: str, body: str, *, actor: Actor = SYSTEM, at=None, data=None
) -> TimelineEvent:
    """Add an entry written by another app (messages sent, reminders, checklist, alerts)."""
    return _record(incident, kind, actor, _now(at), body, data)


def _clean_body(body: str, what: str = "update") -> str:
    text = (body or "").strip()
    if not text:
        raise DomainError(f"Write the {what}: it cannot be empty", field="body")
    if len(text) > MAX_UPDATE_LENGTH:
        raise DomainError(
            f"The {what} is {len(text)} characters; keep it under {MAX_UPDATE_LENGTH}", field="body"
        )
    return text


def _worst_open_status(component: Component, excluding: Incident | None = None) -> str:
    """The status a component should show given the open (non-drill) incidents affecting it."""
    rows = AffectedComponent.objects.filter(component=component, incident__is_drill=False).exclude(
        incident__state__in=(*CLOSED_STATES, IncidentState.SCHEDULED)
    )
    if excluding is not None:
        rows = rows.exclude(incident=excluding)
    statuses = [row.status for row in rows]
    if not statuses:
        return ComponentStatus.OPERATIONAL
    return max(statuses, key=lambda s: STATUS_RANK[ComponentStatus(s)])


def _apply_component_status(component, status, *, incident, actor, at) -> bool:
    previous = component.status
    changed = set_component_status_raw(component, status)
    if changed:
        ComponentStatusChange.objects.create(
            component=component, status=status, previous_status=previous, at=at, incident=incident
        )
        if incident is not None:
            _record(
                incident,
                TimelineKind.COMPONENT_STATUS,
                actor,
                at,
                f"{component.name}: {ComponentStatus(previous).label} → {ComponentStatus(status).label}",
                {"component": component.slug, "from": previous, "to": status},
                internal=False,
            )
        events.publish(
            "component.status_changed",
            component=component,
            incident=incident,
            previous=previous,
            at=at,
        )
    return changed


def _set_affected(incident: Incident, components: dict[Component, str], actor, at) -> None:
    for component, status in components.items():
        if status not in ComponentStatus.values:
            raise DomainError(
                f"Unknown status {status!r} for {component.name}; use one of {', '.join(ComponentStatus.values)}",
                field="components",
            )
        AffectedComponent.objects.update_or_create(
            incident=incident, component=component, defaults={"status": status}
        )
        if not incident.is_drill:
            # The public sees the worst status among every open incident on the component.
            _apply_component_status(
                component, _worst_open_status(component), incident=incident, actor=actor, at=at
            )


def _components_snapshot(incident: Incident) -> list[dict]:
    return [
        {"slug": ac.component.slug, "name": ac.component.name, "status": ac.status}
        for ac in incident.affected_components.select_related("component").order_by(
            "component__position"
        )
    ]


def _set_store_scope(incident, all_stores: bool, regions, stores) -> None:
    incident.affects_all_stores = bool(all_stores)
    incident.save(update_fields=["affects_all_stores"])
    incident.affected_regions.set(list(regions or []))
    incident.affected_stores.set(list(stores or []))


@transaction.atomic
def declare_incident(
    *,
    title: str,
    severity: Severity,
    components: dict[Component, str] | None = None,
    all_stores: bool = False,
    regions: list[Region] | None = None,
    stores: list[Store] | None = None,
    message: str = "",
    commander=None,
    comms_lead=None,
    is_drill: bool = False,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> Incident:
    """Open an incident; with ``message`` its first public update goes out at once."""
    at = _now(at)
    title = (title or "").strip()
    if not title:
        raise DomainError("Give the incident a title customers would understand", field="title")
    if len(title) > 200:
        raise DomainError("Keep the title under 200 characters", field="title")
    if severity is None:
        raise DomainError("Choose a severity", field="severity")
    if started_at and started_at > at:
        raise DomainError("The incident cannot start after it is declared", field="started_at")
    incident = Incident.objects.create(
        kind=IncidentKind.INCIDENT,
        title=title,
        severity=severity,
        state=IncidentState.INVESTIGATING,
        is_drill=is_drill,
        commander=commander or actor.user,
        comms_lead=comms_lead,
        started_at=started_at or detected_at or at,
        detected_at=detected_at or at,
        declared_at=at,
        updated_at=at,
    )
    _set_store_scope(incident, all_stores, regions, stores)
    _record(
        incident,
        TimelineKind.DECLARED,
        actor,
        at,
        f"Declared {severity.name}{' (drill)' if is_drill else ''}: {title}",
        {"severity": severity.name, "drill": is_drill},
    )
    _set_affected(incident, components or {}, actor, at)
    events.publish("incident.declared", incident=incident, actor=actor, at=at)
    if message.strip():
        post_public_update(incident, message, actor=actor, at=at)
        incident.refresh_from_db()
    return incident


@transaction.atomic
def post_public_update(
    incident: Incident,
    body: str,
    *,
    state: str | None = None,
    components: dict[Component, str] | None = None,
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> PublicUpdate:
    """Tell the public what is happening; optionally move the state and component statuses."""
    at = _now(at)
    body = _clean_body(body)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if state and state != incident.state:
        _change_state(incident, state, actor=actor, at=at)
    elif not incident.is_open:
        raise Conflict("This incident is closed; reopen it before posting an update")
    if components:
        _set_affected(incident, components, actor, at)
    update = PublicUpdate.objects.create(
        incident=incident,
        state=incident.state,
        body=body,
        posted_at=at,
        author=actor.user,
        author_name=actor.name,
        components=_components_snapshot(incident),
    )
    if incident.first_public_update_at is None:
        incident.first_public_update_at = at
    incident.last_public_update_at = at
    incident.updated_at = at
    incident.save(update_fields=["first_public_update_at", "last_public_update_at", "updated_at"])
    event = _record(
        incident,
        TimelineKind.PUBLIC_UPDATE,
        actor,
        at,
        body,
        {"state": incident.state, "update_id": update.pk},
        internal=False,
    )
    events.publish(
        "incident.public_update", incident=incident, update=update, event=event, actor=actor, at=at
    )
    return update


@transaction.atomic
def add_internal_note(
    incident: Incident,
    body: str,
    *,
    talking_points: str = "",
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> TimelineEvent:
    """A note for staff only; ``talking_points`` say what staff may tell customers."""
    at = _now(at)
    body = _clean_body(body, "note")
    event = _record(
        incident,
        TimelineKind.INTERNAL_NOTE,
        actor,
        at,
        body,
        {"talking_points": talking_points.strip()},
    )
    events.publish("incident.internal_note", incident=incident, event=event, actor=actor, at=at)
    return event


_ALLOWED_STATES = {
    IncidentKind.INCIDENT: {
        IncidentState.INVESTIGATING: set(OPEN_INCIDENT_STATES) | {IncidentState.RESOLVED},
        IncidentState.IDENTIFIED: set(OPEN_INCIDENT_STATES) | {IncidentState.RESOLVED},
        IncidentState.MONITORING: set(OPEN_INCIDENT_STATES) | {IncidentState.RESOLVED},
        IncidentState.RESOLVED: set(),  # only reopen_incident leaves resolved
    },
    IncidentKind.MAINTENANCE: {
        IncidentState.SCHEDULED: {IncidentState.IN_PROGRESS, IncidentState.COMPLETED},
        IncidentState.IN_PROGRESS: {IncidentState.COMPLETED},
        IncidentState.COMPLETED: set(),
    },
}


def _change_state(incident: Incident, new_state: str, *, actor: Actor, at) -> TimelineEvent:
    if new_state not in IncidentState.values:
        raise DomainError(f"Unknown state {new_state!r}", field="state")
    allowed = _ALLOWED_STATES[IncidentKind(incident.kind)].get(IncidentState(incident.state), set())
    if new_state == incident.state:
        raise Conflict(f"The incident is already {IncidentState(new_state).label.lower()}")
    if new_state not in allowed:
        if incident.state == IncidentState.RESOLVED:
            raise Conflict("This incident is resolved; reopen it instead")
        choices = ", ".join(sorted(allowed)) or "none"
        raise DomainError(
            f"A {incident.get_kind_display().lower()} cannot go from {incident.state} to {new_state}; "
            f"allowed: {choices}",
            field="state",
        )
    previous = incident.state
    incident.state = new_state
    incident.updated_at = at
    closing = new_state in CLOSED_STATES
    if new_state == IncidentState.MONITORING and incident.mitigated_at is None:
        incident.mitigated_at = at
    if closing:
        incident.resolved_at = at
    incident.save(update_fields=["state", "updated_at", "mitigated_at", "resolved_at"])
    kind = TimelineKind.RESOLVED if closing else TimelineKind.STATE_CHANGED
    event = _record(
        incident,
        kind,
        actor,
        at,
        f"{IncidentState(previous).label} → {IncidentState(new_state).label}",
        {"from": previous, "to": new_state},
        internal=False,
    )
    if closing:
        # Components go back to what the remaining open incidents say (operational if none).
        for affected in incident.affected_components.select_related("component"):
            if not incident.is_drill:
                target = _worst_open_status(affected.component, excluding=incident)
                _apply_component_status(
                    affected.component, target, incident=incident, actor=actor, at=at
                )
    name = _state_event_name(incident, new_state)
    events.publish(name, incident=incident, event=event, previous=previous, actor=actor, at=at)
    return event


def _state_event_name(incident: Incident, new_state: str) -> str:
    if incident.kind == IncidentKind.MAINTENANCE:
        return (
            "maintenance.completed"
            if new_state == IncidentState.COMPLETED
            else "maintenance.started"
        )
    return "incident.resolved" if new_state == IncidentState.RESOLVED else "incident.state_changed"


@transaction.atomic
def change_state(
    incident: Incident,
    new_state: str,
    *,
    message: str = "",
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> Incident:
    """Move an incident through its states; with ``message`` a public update says why."""
    at = _now(at)
    if message.strip():
        post_public_update(incident, message, state=new_state, actor=actor, at=at)
    else:
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        _change_state(locked, new_state, actor=actor, at=at)
    incident.refresh_from_db()
    return incident


def resolve_incident(
    incident: Incident, message: str = "", *, actor: Actor = SYSTEM, at=None
) -> Incident:
    """Close an incident; its components return to operational unless another incident holds them."""
    return change_state(incident, IncidentState.RESOLVED, message=message, actor=actor, at=at)


@transaction.atomic
def reopen_incident(
    incident: Incident,
    reason: str,
    *,
    state: str = IncidentState.INVESTIGATING,
    actor: Actor = SYSTEM,
    at=None,
) -> Incident:
    """Bring a resolved incident back when the problem flares up again."""
    at = _now(at)
    reason = _clean_body(reason, "reason for reopening")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.kind != IncidentKind.INCIDENT or incident.state != IncidentState.RESOLVED:
        raise Conflict("Only a resolved incident can be reopened")
    if state not in OPEN_INCIDENT_STATES:
        raise DomainError("Reopen into investigating, identified or monitoring", field="state")
    incident.state = state
    incident.resolved_at = None
    incident.updated_at = at
    incident.save(update_fields=["state", "resolved_at", "updated_at"])
    event = _record(
        incident, TimelineKind.REOPENED, actor, at, reason, {"to": state}, internal=False
    )
    for affected in incident.affected_components.select_related("component"):
        if not incident.is_drill:
            _apply_component_status(
                affected.component,
                _worst_open_status(affected.component),
                incident=incident,
                actor=actor,
                at=at,
            )
    events.publish("incident.reopened", incident=incident, event=event, actor=actor, at=at)
    post_public_update(incident, reason, actor=actor, at=at)
    return incident


@transaction.atomic
def set_component_status(
    component: Component,
    status: str,
    *,
    incident: Incident | None = None,
    actor: Actor = SYSTEM,
    at=None,
) -> bool:
    """Set a component's public status, inside an incident or on its own. True if it changed."""
    at = _now(at)
    if incident is not None:
        if not incident.is_open:
            raise Conflict("This incident is closed; reopen it to change its components")
        _set_affected(incident, {component: status}, actor, at)
        component.refresh_from_db()
        return True
    return _apply_component_status(component, status, incident=None, actor=actor, at=at)


@transaction.atomic
def assign_roles(
    incident: Incident, *, commander=None, comms_lead=None, actor: Actor = SYSTEM, at=None
) -> Incident:
    """Name the commander and/or comms lead (they get the cadence reminders)."""
    at = _now(at)
    changes = []
    if commander is not None and commander != incident.commander:
        incident.commander = commander
        changes.append(f"commander: {commander.get_username()}")
    if comms_lead is not None and comms_lead != incident.comms_lead:
        incident.comms_lead = comms_lead
        changes.append(f"comms lead: {comms_lead.get_username()}")
    if changes:
        incident.updated_at = at
        incident.save(update_fields=["commander", "comms_lead", "updated_at"])
        event = _record(incident, TimelineKind.ROLES, actor, at, "; ".join(changes))
        events.publish("incident.roles_changed", incident=incident, event=event, actor=actor, at=at)
    return incident


@transaction.atomic
def change_severity(
    incident: Incident, severity: Severity, *, actor: Actor = SYSTEM, at=None
) -> Incident:
    """Raise or lower the severity; the update cadence follows the new one."""
    at = _now(at)
    if incident.kind != IncidentKind.INCIDENT:
        raise DomainError("Maintenance has no severity")
    if severity == incident.severity:
        return incident
    previous = incident.severity
    incident.severity = severity
    incident.updated_at = at
    incident.save(update_fields=["severity", "updated_at"])
    event = _record(
        incident,
        TimelineKind.SEVERITY,
        actor,
        at,
        f"{previous.name if previous else '—'} → {severity.name}",
    )
    events.publish("incident.severity_changed", incident=incident, event=event, actor=actor, at=at)
    return incident


@transaction.atomic
def set_store_scope(
    incident: Incident, *, all_stores=False, regions=None, stores=None, actor=SYSTEM, at=None
):
    """Say which stores the incident touches: all, some regions, or a list."""
    at = _now(at)
    _set_store_scope(incident, all_stores, regions, stores)
    _record(
        incident,
        TimelineKind.STATE_CHANGED,
        actor,
        at,
        f"Affected stores: {incident.store_scope_label()}",
    )
    return incident


# --- scheduled maintenance ----------------------------------------------------------------------


@transaction.atomic
def schedule_maintenance(
    *,
    title: str,
    scheduled_for: datetime,
    scheduled_until: datetime,
    components: list[Component],
    message: str,
    all_stores: bool = True,
    regions=None,
    stores=None,
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> Incident:
    """Announce a maintenance window; its components show under maintenance while it runs."""
    at = _now(at)
    title = (title or "").strip()
    if not title:
        raise DomainError("Give the maintenance a title", field="title")
    if scheduled_until <= scheduled_for:
        raise DomainError("The window must end after it starts", field="scheduled_until")
    incident = Incident.objects.create(
        kind=IncidentKind.MAINTENANCE,
        title=title,
        state=IncidentState.SCHEDULED,
        declared_at=at,
        updated_at=at,
        scheduled_for=scheduled_for,
        scheduled_until=scheduled_until,
    )
    _set_store_scope(incident, all_stores, regions, stores)
    for component in components:
        AffectedComponent.objects.create(
            incident=incident, component=component, status=ComponentStatus.UNDER_MAINTENANCE
        )
    _record(incident, TimelineKind.DECLARED, actor, at, f"Maintenance scheduled: {title}")
    events.publish("maintenance.scheduled", incident=incident, actor=actor, at=at)
    post_public_update(incident, message or f"{title} is scheduled.", actor=actor, at=at)
    incident.refresh_from_db()
    return incident


@transaction.atomic
def start_maintenance(
    incident: Incident, message: str = "", *, actor: Actor = SYSTEM, at=None
) -> Incident:
    """The window begins: its components go under maintenance."""
    at = _now(at)
    text = message.strip() or "Scheduled maintenance is in progress."
    post_public_update(incident, text, state=IncidentState.IN_PROGRESS, actor=actor, at=at)
    incident.refresh_from_db()
    for affected in incident.affected_components.select_related("component"):
        _apply_component_status(
            affected.component,
            _worst_open_status(affected.component),
            incident=incident,
            actor=actor,
            at=at,
        )
    return incident


def complete_maintenance(
    incident: Incident, message: str = "", *, actor: Actor = SYSTEM, at=None
) -> Incident:
    """The window ends: components return to operational (unless an incident holds them)."""
    text = message.strip() or "Scheduled maintenance has been completed."
    return change_state(incident, IncidentState.COMPLETED, message=text, actor=actor, at=at)


def due_maintenance_transitions(now: datetime | None = None) -> int:
    """Start windows whose time has come and complete those that have ended. Returns moves made."""
    now = _now(now)
    moves = 0
    for incident in Incident.objects.maintenances().filter(
        state=IncidentState.SCHEDULED, scheduled_for__lte=now
    ):
        start_maintenance(incident, at=now)
        moves += 1
    for incident in Incident.objects.maintenances().filter(
        state=IncidentState.IN_PROGRESS, scheduled_until__lte=now
    ):
        complete_maintenance(incident, at=now)
        moves += 1
    return moves


def overdue_incidents(now: datetime | None = None) -> list[Incident]:
    """Open incidents whose next public update is late by their severity's cadence."""
    now = _now(now)
    candidates = (
        Incident.objects.incidents().open().select_related("severity", "commander", "comms_lead")
    )
    return [incident for incident in candidates if incident.is_update_overdue(now)]
