"""What every incident service shares: who acted, the timeline, component status."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from tideover.core import events
from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import DomainError, PermissionDenied
from tideover.core.models import STATUS_RANK, Component, ComponentStatus
from tideover.core.roles import Capability, Role, has_capability, user_roles
from tideover.core.services import set_component_status_raw
from tideover.core.text import clean_line, clean_text
from tideover.incidents.models import (
    CLOSED_STATES,
    AffectedComponent,
    ComponentStatusChange,
    Incident,
    IncidentKind,
    IncidentState,
    Severity,
    TimelineEvent,
    TimelineKind,
)

# What people write must fit where it goes: a title is an e-mail subject ("[Chain] Identified:
# <title>"), the first line of an SMS and a dashboard card; an update is at most three SMS
# segments plus a link, a short e-mail and a status-page entry someone reads on a phone.
MAX_TITLE_LENGTH = 120
MAX_UPDATE_LENGTH = 2000
# When an incident can have started: not in the future (beyond clock drift), not long ago.
START_SKEW = timedelta(minutes=5)
START_LOOKBACK = timedelta(days=30)
# A maintenance window: announced at most a year ahead, lasting at most a week.
MAINTENANCE_AHEAD = timedelta(days=366)
MAINTENANCE_LONGEST = timedelta(days=7)


# Who may lead an incident: the commander gets the cadence reminders and owns the response;
# the comms lead writes to customers. The console's pickers and the API take the same people.
COMMANDER_ROLES = (Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR)
COMMS_LEAD_ROLES = (Role.COMMS, Role.INCIDENT_COMMANDER, Role.ADMINISTRATOR)


def staff_with_roles(*roles: Role):
    """Active users holding any of ``roles`` (superusers hold them all)."""
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[r.value for r in roles]))
        .distinct()
        .order_by("username")
    )


def check_lead(user, roles: tuple[Role, ...], *, field: str, duty: str) -> None:
    """Refuse to name as ``duty`` someone who holds none of ``roles`` (or is deactivated)."""
    if user is not None and not user_roles(user) & set(roles):
        names = " or ".join(role.label for role in roles)
        raise DomainError(
            f"{user.get_username()} cannot be the {duty}: give them the role {names} first",
            field=field,
        )


def take(incident: Incident) -> None:
    """Lock the incident's row until the change commits and bring the caller's copy up to
    date: two people (or a person and the clock) changing it at once change it one after the
    other, each from what the other left (a copy read before the other's change would write
    it back)."""
    Incident.objects.select_for_update().filter(pk=incident.pk).exists()
    incident.refresh_from_db()


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


def authorize(actor: Actor, capability: Capability) -> None:
    """Refuse a person whose role lacks ``capability``, whichever page, form or endpoint
    carries the action: changing state through "post an update with a state" needs what
    "change state" needs. Actors without a user (an API token, already held to its scope;
    the system; a scenario's clock) are not people with roles and pass."""
    if actor.user is not None and not has_capability(actor.user, capability):
        raise PermissionDenied(f"Your role does not allow: {capability.label}")


def state_capability(incident: Incident) -> Capability:
    """Moving an incident's state is declaring work; a maintenance window's, scheduling."""
    if incident.kind == IncidentKind.MAINTENANCE:
        return Capability.SCHEDULE_MAINTENANCE
    return Capability.DECLARE_INCIDENT


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


def clean_title(title: str, what: str = "incident") -> str:
    """The title as it will be sent, or a refusal saying how long it may be."""
    text = clean_line(title)  # it goes into SMS, subjects and feeds (core/text.py)
    if not text:
        raise DomainError(f"Give the {what} a title customers would understand", field="title")
    if len(text) > MAX_TITLE_LENGTH:
        raise DomainError(
            f"The title is {len(text)} characters; keep it to {MAX_TITLE_LENGTH} so it fits a "
            "subject line and an SMS",
            field="title",
        )
    return text


def _check_moment(value: datetime | None, *, field: str, earliest: datetime, latest: datetime):
    if value is not None and not earliest <= value <= latest:
        raise DomainError(
            f"{field.replace('_', ' ').capitalize()} must be between "
            f"{earliest:%Y-%m-%d %H:%M} and {latest:%Y-%m-%d %H:%M} UTC",
            field=field,
        )


def check_typed_times(
    *,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
    scheduled_for: datetime | None = None,
    scheduled_until: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Dates a person typed (forms, the API) are ones they could mean; the window in words
    otherwise. Services themselves accept any order-consistent times, so a replay or another
    app can declare at its own clock."""
    now = _now(now)
    for field, value in (("started_at", started_at), ("detected_at", detected_at)):
        if value is not None and value > now + START_SKEW:
            what = "start" if field == "started_at" else "be detected"
            raise DomainError(f"The incident cannot {what} after it is declared", field=field)
        _check_moment(value, field=field, earliest=now - START_LOOKBACK, latest=now + START_SKEW)
    _check_moment(
        scheduled_for,
        field="scheduled_for",
        earliest=now - START_SKEW,
        latest=now + MAINTENANCE_AHEAD,
    )
    if scheduled_for and scheduled_until and scheduled_until - scheduled_for > MAINTENANCE_LONGEST:
        raise DomainError(
            f"A maintenance window lasts at most {MAINTENANCE_LONGEST.days} days; split a longer one",
            field="scheduled_until",
        )


def _clean_body(body: str, what: str = "update") -> str:
    text = clean_text(body).strip()  # it goes into SMS and feeds (core/text.py)
    if not text:
        raise DomainError(f"Write the {what}: it cannot be empty", field="body")
    if len(text) > MAX_UPDATE_LENGTH:
        raise DomainError(
            f"The {what} is {len(text)} characters; keep it to {MAX_UPDATE_LENGTH}", field="body"
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
    # The caller's object may be stale (another incident changed the row since it was loaded):
    # decide on the locked row, then bring the caller's object up to date.
    current = Component.objects.select_for_update().get(pk=component.pk)
    previous = current.status
    changed = set_component_status_raw(current, status)
    component.status, component.updated_at = current.status, current.updated_at
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


def components_snapshot(incident: Incident, *, public_only: bool = False) -> list[dict]:
    """Each affected component with the status this incident gives it; once the incident is
    closed, the status the component returned to (the incident keeps what it had said, so a
    reopen can restore it, but nobody should read "Major outage" under "Resolved").
    ``public_only``: only components shown on the status page (for what the public reads)."""
    closed = not incident.is_open
    affected = incident.affected_components.select_related("component")
    if public_only:
        affected = affected.filter(component__is_public=True)
    return [
        {
            "slug": ac.component.slug,
            "name": ac.component.name,
            "status": ac.component.status if closed else ac.status,
        }
        for ac in affected.order_by("component__position")
    ]


def _set_store_scope(incident, all_stores: bool, regions, stores) -> None:
    incident.affects_all_stores = bool(all_stores)
    incident.save(update_fields=["affects_all_stores"])
    incident.affected_regions.set(list(regions or []))
    incident.affected_stores.set(list(stores or []))
