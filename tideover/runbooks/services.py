"""Runbooks: writing them (every save a new version), matching one to an incident, attaching
it, and moving the incident from one plan to the next. Checklists live in ``checklists.py``."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tideover.core import events
from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import STATUS_RANK, Component, ComponentStatus
from tideover.incidents.models import Incident, IncidentKind, Severity
from tideover.incidents.services import add_internal_note, record_timeline_event
from tideover.runbooks import checklists
from tideover.runbooks.defaults import DEFAULT_RUNBOOKS
from tideover.runbooks.models import IncidentRunbook, Runbook, RunbookVersion
from tideover.runbooks.text import parse

SHIPPED = Actor(name="shipped default")


@transaction.atomic
def create_runbook(
    *,
    component: Component,
    severity: Severity | None,
    title: str,
    text: str,
    actor: Actor = SYSTEM,
    note: str = "",
) -> Runbook:
    """A new runbook for a component (and severity, or any), with its first version."""
    title = (title or "").strip()
    if not title:
        raise DomainError("Give the runbook a title", field="title")
    plans = parse(text)
    if Runbook.objects.filter(component=component, severity=severity).exists():
        which = severity.name if severity else "any severity"
        raise Conflict(f"{component.name} already has a runbook for {which}; edit that one")
    try:
        with transaction.atomic():
            runbook = Runbook.objects.create(component=component, severity=severity, title=title)
    except IntegrityError as exc:  # two people created it at once
        raise Conflict(f"{component.name} already has that runbook; edit it") from exc
    RunbookVersion.objects.create(
        runbook=runbook,
        number=1,
        text=text,
        plans=plans,
        note=note or "First version",
        author_name=actor.name,
    )
    return runbook


@transaction.atomic
def save_version(
    runbook: Runbook, *, text: str, title: str = "", note: str = "", actor: Actor = SYSTEM
) -> RunbookVersion:
    """Save an edit as the next version; incidents already running keep theirs."""
    plans = parse(text)
    runbook = Runbook.objects.select_for_update().get(pk=runbook.pk)
    latest = runbook.latest_version()
    renamed = bool(title.strip()) and title.strip() != runbook.title
    if renamed:
        runbook.title = title.strip()[:200]
        runbook.save(update_fields=["title"])
    if latest is not None and latest.text == text:
        if renamed:
            return latest  # only the title changed: the plans (and their version) stay
        raise Conflict(f"Nothing changed since version {latest.number}")
    return RunbookVersion.objects.create(
        runbook=runbook,
        number=(latest.number if latest else 0) + 1,
        text=text,
        plans=plans,
        note=note.strip()[:200],
        author_name=actor.name,
    )


def ensure_default_runbooks() -> list[Runbook]:
    """Write the shipped runbooks for components that have none yet (by slug)."""
    made = []
    for component in Component.objects.filter(slug__in=DEFAULT_RUNBOOKS):
        made.extend(_ensure_default(component))
    return made


def _ensure_default(component: Component) -> list[Runbook]:
    if component.slug not in DEFAULT_RUNBOOKS:
        return []
    if Runbook.objects.filter(component=component).exists():
        return []
    title, text = DEFAULT_RUNBOOKS[component.slug]
    try:
        with transaction.atomic():
            return [
                create_runbook(
                    component=component,
                    severity=None,
                    title=title,
                    text=text,
                    actor=SHIPPED,
                    note="Shipped with Tideover",
                )
            ]
    except Conflict:  # another process wrote it first
        return []


def match_runbook(incident: Incident) -> RunbookVersion | None:
    """The latest version of the runbook for the incident's worst-hit component: the one for
    its severity if written, else the one for any severity. Shipped defaults count."""
    affected = sorted(
        incident.affected_components.select_related("component"),
        key=lambda a: (-STATUS_RANK[ComponentStatus(a.status)], a.component.position),
    )
    for item in affected:
        _ensure_default(item.component)
        wanted = Q(severity__isnull=True)
        if incident.severity_id:
            wanted |= Q(severity_id=incident.severity_id)
        runbooks = {
            rb.severity_id: rb for rb in Runbook.objects.filter(wanted, component=item.component)
        }
        runbook = runbooks.get(incident.severity_id) or runbooks.get(None)
        if runbook is not None:
            version = runbook.latest_version()
            if version is not None:
                return version
    return None


@transaction.atomic
def attach_runbook(
    incident: Incident,
    version: RunbookVersion | None = None,
    *,
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> IncidentRunbook | None:
    """Attach ``version`` (or the matching one) and hand out Plan B's checklists. Does nothing
    when the incident already has a runbook or none matches."""
    at = at or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.kind != IncidentKind.INCIDENT:
        return None
    if IncidentRunbook.objects.filter(incident=incident).exists():
        return None
    version = version or match_runbook(incident)
    if version is None:
        return None
    attached = IncidentRunbook.objects.create(
        incident=incident, version=version, plan_index=0, attached_at=at, plan_since=at
    )
    plan = version.plans[0]
    counts = checklists.issue(incident, attached, at=at)
    record_timeline_event(
        incident,
        "checklist",
        f"Runbook attached: {version.runbook.title} (version {version.number}). "
        f"{plan['name']}{': ' + plan['title'] if plan['title'] else ''} sent to "
        f"{counts['stores']} store(s) and {counts['teams']} team(s).",
        actor=actor,
        at=at,
        data={"runbook": version.runbook_id, "version": version.number, "plan": plan["name"]},
    )
    events.publish(
        "runbooks.plan_issued", incident=incident, runbook=attached, plan=plan, actor=actor, at=at
    )
    return attached


@transaction.atomic
def move_to_plan(
    incident: Incident,
    plan_index: int,
    *,
    reason: str = "",
    actor: Actor = SYSTEM,
    at: datetime | None = None,
) -> IncidentRunbook:
    """Switch the incident to another plan: the old checklists are kept (superseded) and every
    store and team gets the new plan's steps."""
    at = at or timezone.now()
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    attached = (
        IncidentRunbook.objects.select_related("version__runbook").filter(incident=incident).first()
    )
    if attached is None:
        raise Conflict("This incident has no runbook attached")
    if not incident.is_open:
        raise Conflict("This incident is closed; reopen it to change the plan")
    plans = attached.version.plans
    if not 0 <= plan_index < len(plans):
        raise DomainError(f"Choose a plan between 1 and {len(plans)}", field="plan")
    if plan_index == attached.plan_index:
        raise Conflict(f"{plans[plan_index]['name']} is already in force")
    previous = plans[attached.plan_index]
    attached.plan_index = plan_index
    attached.plan_since = at
    attached.save(update_fields=["plan_index", "plan_since"])
    checklists.supersede(incident, at=at)
    counts = checklists.issue(incident, attached, at=at)
    plan = plans[plan_index]
    because = f" Because: {reason.strip()}" if reason.strip() else ""
    # An internal note, so every staff channel is briefed on the new plan at once (its
    # talking points come with it: see handlers.briefing).
    add_internal_note(
        incident,
        f"Moved from {previous['name']} to {plan['name']}"
        f"{': ' + plan['title'] if plan['title'] else ''}; steps re-issued to "
        f"{counts['stores']} store(s) and {counts['teams']} team(s).{because}",
        actor=actor,
        at=at,
    )
    events.publish(
        "runbooks.plan_issued", incident=incident, runbook=attached, plan=plan, actor=actor, at=at
    )
    return attached


def plan_in_force(incident: Incident) -> dict | None:
    """The plan the incident runs now (name, title, steps, say, dont_say), or None."""
    attached = IncidentRunbook.objects.select_related("version").filter(incident=incident).first()
    return attached.plan if attached is not None else None
