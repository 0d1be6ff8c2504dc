"""An incident's settings: who runs it, how severe it is, which stores it touches."""

from __future__ import annotations

from django.db import transaction

from tideover.core import events
from tideover.core.errors import Conflict, DomainError
from tideover.core.roles import Capability
from tideover.incidents.models import Incident, IncidentKind, Severity, TimelineKind
from tideover.incidents.services.common import (
    COMMANDER_ROLES,
    COMMS_LEAD_ROLES,
    SYSTEM,
    Actor,
    _now,
    _record,
    _set_store_scope,
    authorize,
    check_lead,
    take,
)


def _refuse_if_closed(incident: Incident, what: str) -> None:
    """A closed incident's record is what its postmortem reads: changed only after a reopen."""
    if not incident.is_open:
        raise Conflict(f"This incident is closed; reopen it to change {what}")


@transaction.atomic
def assign_roles(
    incident: Incident, *, commander=None, comms_lead=None, actor: Actor = SYSTEM, at=None
) -> Incident:
    """Name the commander and/or comms lead (they get the cadence reminders)."""
    authorize(actor, Capability.DECLARE_INCIDENT)
    take(incident)
    _refuse_if_closed(incident, "its roles")
    # Only a new lead must hold the role: naming again the one in place (who may have lost it
    # since) changes nothing and is no reason to refuse the rest.
    if commander != incident.commander:
        check_lead(commander, COMMANDER_ROLES, field="commander", duty="incident commander")
    if comms_lead != incident.comms_lead:
        check_lead(comms_lead, COMMS_LEAD_ROLES, field="comms_lead", duty="comms lead")
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
    authorize(actor, Capability.DECLARE_INCIDENT)
    take(incident)
    _refuse_if_closed(incident, "its severity")
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
    authorize(actor, Capability.DECLARE_INCIDENT)
    take(incident)
    _refuse_if_closed(incident, "the stores it affects")
    at = _now(at)
    _set_store_scope(incident, all_stores, regions, stores)
    event = _record(
        incident,
        TimelineKind.STATE_CHANGED,
        actor,
        at,
        f"Affected stores: {incident.store_scope_label()}",
    )
    events.publish("incident.scope_changed", incident=incident, event=event, actor=actor, at=at)
    return incident
