"""Running an incident: declare, update, change state, resolve, reopen.

Every function owns its transaction, writes the timeline and publishes a named event (see
``tideover.core.events``). ``at`` lets the scenario replay act at its own clock; it defaults to now.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from tideover.core import events
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import Component, Region, Store
from tideover.core.roles import Capability
from tideover.incidents.models import (
    CLOSED_STATES,
    OPEN_INCIDENT_STATES,
    Incident,
    IncidentKind,
    IncidentState,
    PublicUpdate,
    Severity,
    TimelineEvent,
    TimelineKind,
)
from tideover.incidents.services.common import (
    COMMANDER_ROLES,
    COMMS_LEAD_ROLES,
    SYSTEM,
    Actor,
    _apply_component_status,
    _clean_body,
    _now,
    _record,
    _set_affected,
    _set_store_scope,
    _worst_open_status,
    authorize,
    check_lead,
    clean_title,
    components_snapshot,
    state_capability,
)
from tideover.incidents.services.repeats import just_declared, just_posted


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
    once: bool = False,
) -> Incident:
    """Open an incident; with ``message`` its first public update goes out at once.
    ``once`` (a person's form or API call): the same declaration by the same person within a
    minute is the incident already declared (services/repeats.py); Detect and replays,
    which may declare alike incidents on purpose, leave it off."""
    authorize(actor, Capability.DECLARE_INCIDENT)
    if components:
        authorize(actor, Capability.SET_COMPONENT_STATUS)
    at = _now(at)
    title = clean_title(title)
    check_lead(commander, COMMANDER_ROLES, field="commander", duty="incident commander")
    check_lead(comms_lead, COMMS_LEAD_ROLES, field="comms_lead", duty="comms lead")
    if severity is None:
        raise DomainError("Choose a severity", field="severity")
    if started_at and started_at > at:
        raise DomainError("The incident cannot start after it is declared", field="started_at")
    if detected_at and detected_at > at:
        raise DomainError(
            "The incident cannot be detected after it is declared", field="detected_at"
        )
    if started_at and detected_at and detected_at < started_at:
        raise DomainError(
            "The incident cannot be detected before it started; check both times",
            field="detected_at",
        )
    if once:
        # Declarations take turns (a row lock; declaring is rare), so a second tap on
        # "Declare" finds the first and is that incident, not a twin that pages everyone.
        Severity.objects.select_for_update(no_key=True).filter(pk=severity.pk).exists()
        repeat = just_declared(title, severity, is_drill, actor, at)
        if repeat is not None:
            return repeat
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
    once: bool = False,
) -> PublicUpdate:
    """Tell the public what is happening; optionally move the state and component statuses
    (each needing the same capability as doing it on its own). ``once``: as for
    ``declare_incident``, the same update again within a minute is the one posted."""
    authorize(actor, Capability.POST_PUBLIC_UPDATE)
    if components:
        authorize(actor, Capability.SET_COMPONENT_STATUS)
    at = _now(at)
    body = _clean_body(body)
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    repeat = just_posted(incident, body, state, components, actor, at) if once else None
    if repeat is not None:
        return repeat
    if state and state != incident.state:
        authorize(actor, state_capability(incident))
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
        components=components_snapshot(incident, public_only=True),
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
        # A window that has not begun cannot be completed (its page would say "completed" with
        # dates still ahead): it starts, or it is cancelled.
        IncidentState.SCHEDULED: {IncidentState.IN_PROGRESS, IncidentState.CANCELLED},
        IncidentState.IN_PROGRESS: {IncidentState.COMPLETED},
        IncidentState.COMPLETED: set(),
        IncidentState.CANCELLED: set(),
    },
}


def next_states(incident: Incident) -> list[str]:
    """The states ``incident`` may move to from where it is, in the order people go through
    them (forms offer exactly these)."""
    allowed = _ALLOWED_STATES[IncidentKind(incident.kind)].get(IncidentState(incident.state), set())
    return [state for state in IncidentState if state in allowed and state != incident.state]


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
        return {
            IncidentState.COMPLETED: "maintenance.completed",
            IncidentState.CANCELLED: "maintenance.cancelled",
        }.get(new_state, "maintenance.started")
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
    authorize(actor, state_capability(incident))
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
    authorize(actor, Capability.DECLARE_INCIDENT)
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
    authorize(actor, Capability.SET_COMPONENT_STATUS)
    at = _now(at)
    if incident is not None:
        if not incident.is_open:
            raise Conflict("This incident is closed; reopen it to change its components")
        _set_affected(incident, {component: status}, actor, at)
        component.refresh_from_db()
        return True
    return _apply_component_status(component, status, incident=None, actor=actor, at=at)


# --- scheduled maintenance ----------------------------------------------------------------------


def overdue_incidents(now: datetime | None = None) -> list[Incident]:
    """Open incidents whose next public update is late by their severity's cadence."""
    now = _now(now)
    candidates = (
        Incident.objects.incidents().open().select_related("severity", "commander", "comms_lead")
    )
    return [incident for incident in candidates if incident.is_update_overdue(now)]
