"""Scheduled maintenance: announce a window, open it, close it, and do both on time; or call
it off before it begins."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from tideover.core import events
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import Component, ComponentStatus
from tideover.core.roles import Capability
from tideover.incidents.models import (
    CLOSED_STATES,
    AffectedComponent,
    Incident,
    IncidentKind,
    IncidentState,
    TimelineKind,
)
from tideover.incidents.services.common import (
    SYSTEM,
    Actor,
    _apply_component_status,
    _now,
    _record,
    _set_store_scope,
    _worst_open_status,
    authorize,
    clean_title,
    take,
)
from tideover.incidents.services.lifecycle import change_state, post_public_update


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
    authorize(actor, Capability.SCHEDULE_MAINTENANCE)
    at = _now(at)
    title = clean_title(title, "maintenance")
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
    """The window begins: its components go under maintenance. One cancelled (or started)
    meanwhile is left as it is."""
    at = _now(at)
    take(incident)
    if incident.state != IncidentState.SCHEDULED:
        return incident
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
    """The window ends: components return to operational (unless an incident holds them).
    One already closed meanwhile (by hand, or by another worker's run) is left as it is."""
    text = message.strip() or "Scheduled maintenance has been completed."
    with transaction.atomic():
        take(incident)
        if incident.state in CLOSED_STATES:
            return incident
        return change_state(incident, IncidentState.COMPLETED, message=text, actor=actor, at=at)


@transaction.atomic
def cancel_maintenance(
    incident: Incident, reason: str = "", *, actor: Actor = SYSTEM, at=None
) -> Incident:
    """Call off a window that has not begun: the public is told, the timeline records who did it,
    and the page shows it cancelled, never completed."""
    if incident.kind != IncidentKind.MAINTENANCE:
        raise DomainError("Only scheduled maintenance can be cancelled")
    # The state as it is now, held until the cancellation commits: the scheduler starting the
    # window at this moment either starts it first (this answers 409) or waits and finds it
    # cancelled.
    take(incident)
    if incident.state != IncidentState.SCHEDULED:
        raise Conflict(
            f"This maintenance is {incident.get_state_display().lower()}; only one that has not "
            "begun can be cancelled (complete one in progress instead)"
        )
    text = reason.strip() or "This scheduled maintenance has been cancelled."
    return change_state(incident, IncidentState.CANCELLED, message=text, actor=actor, at=at)


def due_maintenance_transitions(now: datetime | None = None) -> int:
    """Start windows whose time has come and complete those that have ended. Returns moves made."""
    now = _now(now)
    moves = 0
    for incident in Incident.objects.maintenances().filter(
        state=IncidentState.SCHEDULED, scheduled_for__lte=now
    ):
        moves += start_maintenance(incident, at=now).state == IncidentState.IN_PROGRESS
    for incident in Incident.objects.maintenances().filter(
        state=IncidentState.IN_PROGRESS, scheduled_until__lte=now
    ):
        moves += complete_maintenance(incident, at=now).state == IncidentState.COMPLETED
    return moves
