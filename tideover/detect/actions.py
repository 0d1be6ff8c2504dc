"""What people (and auto-declare rules) do with an alert: acknowledge, dismiss, declare.

The draft incident is guessed from the alert: the components its signals speak for (a major
outage when chain-wide, partial otherwise), the stores or regions that moved, the time the
first anomalous minute began (started) and the time the alert opened (detected), so the
incident's time to detect is the detector's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import ComponentStatus
from tideover.detect.models import Alert, AlertScope, AlertState, DismissedPattern

PATTERN_DAYS = 7


@dataclass
class Draft:
    title: str
    components: dict  # Component -> status
    all_stores: bool
    regions: list
    stores: list
    started_at: datetime
    detected_at: datetime


def draft_for(alert: Alert) -> Draft:
    """The incident this alert suggests, for a person to declare with one click."""
    status = (
        ComponentStatus.MAJOR_OUTAGE
        if alert.scope == AlertScope.CHAIN
        else ComponentStatus.PARTIAL_OUTAGE
    )
    return Draft(
        title=alert.title,
        components=dict.fromkeys(alert.components.all(), status),
        all_stores=alert.scope == AlertScope.CHAIN,
        regions=list(alert.regions.all()) if alert.scope == AlertScope.REGION else [],
        stores=list(alert.stores.all()) if alert.scope == AlertScope.STORE else [],
        started_at=alert.started_at,
        detected_at=alert.opened_at,
    )


def _lock(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


@transaction.atomic
def acknowledge_alert(alert: Alert, *, user=None, at: datetime | None = None) -> Alert:
    """Someone is looking at it: it stays live but stops asking for attention."""
    alert = _lock(alert)
    if alert.state != AlertState.OPEN:
        raise Conflict(f"This alert is {alert.get_state_display().lower()}, not open")
    alert.state = AlertState.ACKNOWLEDGED
    alert.handled_by, alert.handled_at = user, at or timezone.now()
    alert.save(update_fields=["state", "handled_by", "handled_at"])
    return alert


@transaction.atomic
def dismiss_alert(alert: Alert, reason: str, *, user=None, at: datetime | None = None) -> Alert:
    """Not an outage: closed with the reason, and the same cause will not page again."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("Say why this is not an outage", field="reason")
    alert = _lock(alert)
    if alert.state not in (AlertState.OPEN, AlertState.ACKNOWLEDGED):
        raise Conflict(f"This alert is {alert.get_state_display().lower()}: nothing to dismiss")
    at = at or timezone.now()
    alert.state = AlertState.DISMISSED
    alert.dismissed_reason = reason[:300]
    alert.handled_by, alert.handled_at, alert.closed_at = user, at, at
    alert.save(update_fields=["state", "dismissed_reason", "handled_by", "handled_at", "closed_at"])
    DismissedPattern.objects.update_or_create(
        cause=alert.cause,
        defaults={
            "reason": reason[:300],
            "dismissed_by": user,
            "created_at": at,
            "expires_at": at + timedelta(days=PATTERN_DAYS),
        },
    )
    return alert


@transaction.atomic
def declare_from_alert(
    alert: Alert,
    *,
    severity,
    title: str | None = None,
    message: str = "",
    actor: Actor = SYSTEM,
    at: datetime | None = None,
):
    """Declare the draft incident of this alert (one click); the alert becomes that incident."""
    from tideover.incidents.services import declare_incident

    alert = _lock(alert)
    if alert.incident_id is not None:
        raise Conflict("This alert already became an incident")
    if alert.state == AlertState.DISMISSED:
        raise Conflict("This alert was dismissed")
    draft = draft_for(alert)
    at = at or timezone.now()
    incident = declare_incident(
        title=(title or draft.title).strip(),
        severity=severity,
        components=draft.components,
        all_stores=draft.all_stores,
        regions=draft.regions,
        stores=draft.stores,
        message=message,
        started_at=min(draft.started_at, at),
        detected_at=min(draft.detected_at, at),
        actor=actor,
        at=at,
    )
    alert.state = AlertState.INCIDENT
    alert.incident = incident
    alert.handled_by, alert.handled_at = actor.user, at
    alert.save(update_fields=["state", "incident", "handled_by", "handled_at"])
    return incident


def auto_declare(alert: Alert, level: int, *, at: datetime):
    """A rule said this needs no person to decide: declare at the rule's severity."""
    from tideover.incidents.models import Severity
    from tideover.incidents.services import ensure_default_severities

    ensure_default_severities()
    severity = (
        Severity.objects.filter(level=level).first() or Severity.objects.order_by("level").first()
    )
    return declare_from_alert(
        alert, severity=severity, actor=Actor.of(name="detect (auto-declare rule)"), at=at
    )


@transaction.atomic
def link_incident(alert: Alert, incident, *, at: datetime | None = None) -> Alert:
    """Record that ``incident``, declared elsewhere, is what this alert became."""
    alert = _lock(alert)
    if alert.incident_id is None:
        alert.state = AlertState.INCIDENT
        alert.incident = incident
        alert.handled_at = at or incident.declared_at
        alert.save(update_fields=["state", "incident", "handled_at"])
    return alert
