"""What the public may see, read once per render: components, incidents, maintenance.

Everything public goes through here, so the one rule that matters most lives in one place:
drills and non-public components never leave this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Max, Prefetch, Q
from django.utils import timezone

from tideover.core.models import STATUS_RANK, Component, ComponentStatus
from tideover.incidents.models import (
    CLOSED_STATES,
    AffectedComponent,
    Impact,
    Incident,
    IncidentKind,
    IncidentState,
    PublicUpdate,
)
from tideover.statuspage.reading import shared

RECENT_LIMIT = 50  # what incidents.json and the feeds list, like the common status-page API
HISTORY_DAYS = 90

INDICATORS = ("none", "minor", "major", "critical")
INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major Service Outage",
}
# A component's own status says at most this much about the whole page; incidents say the rest.
_COMPONENT_INDICATOR = {
    ComponentStatus.OPERATIONAL: "none",
    ComponentStatus.UNDER_MAINTENANCE: "none",
    ComponentStatus.DEGRADED_PERFORMANCE: "minor",
    ComponentStatus.PARTIAL_OUTAGE: "minor",
    ComponentStatus.MAJOR_OUTAGE: "major",
}
_IMPACT_INDICATOR = {
    Impact.NONE: "none",
    Impact.MINOR: "minor",
    Impact.MAJOR: "major",
    Impact.CRITICAL: "critical",
    Impact.MAINTENANCE: "none",
}


@dataclass
class OverallStatus:
    indicator: str
    description: str

    @property
    def css(self) -> str:
        return f"overall-{self.indicator}"


@dataclass
class UpdateView:
    id: int
    state: str
    state_label: str
    body: str
    posted_at: datetime
    incident_id: int
    affected: list[dict] = field(default_factory=list)  # {code, name, old_status, new_status}


@dataclass
class IncidentView:
    id: int
    kind: str
    title: str
    state: str
    state_label: str
    impact: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    updates: list[UpdateView]
    components: list[Component]

    @property
    def is_open(self) -> bool:
        return self.state not in CLOSED_STATES

    @property
    def is_cancelled(self) -> bool:
        return self.state == IncidentState.CANCELLED

    @property
    def is_maintenance(self) -> bool:
        return self.kind == IncidentKind.MAINTENANCE

    @property
    def ended_on(self):
        """The day it ended, in the page's time zone (for grouping the history)."""
        return timezone.localdate(self.resolved_at) if self.resolved_at else None

    @property
    def latest_update(self) -> UpdateView | None:
        return self.updates[0] if self.updates else None


def page_id() -> str:
    """A stable id for this status page (the common API gives every page one)."""
    return hashlib.sha256(settings.SITE_URL.encode()).hexdigest()[:12]


@shared
def public_components() -> list[Component]:
    return list(Component.objects.filter(is_public=True).order_by("position", "name"))


def _public_incidents():
    """Every incident the public may see: never drills."""
    return Incident.objects.public().prefetch_related(
        Prefetch("public_updates", queryset=PublicUpdate.objects.order_by("-posted_at", "-pk")),
        Prefetch(
            "affected_components",
            queryset=AffectedComponent.objects.filter(component__is_public=True)
            .select_related("component")
            .order_by("component__position", "component__name"),
        ),
    )


def _public_slugs() -> set[str]:
    return {component.slug for component in public_components()}


def _update_views(incident: Incident, public: set[str]) -> list[UpdateView]:
    """Newest first, each saying which component statuses it moved from what to what (only
    the ``public`` components: updates recorded before their snapshot kept to public ones may
    name others)."""
    oldest_first = list(reversed(list(incident.public_updates.all())))
    last_seen: dict[str, str] = {}
    views = []
    for update in oldest_first:
        affected = []
        for entry in update.components or []:
            slug = entry.get("slug", "")
            if slug not in public:
                continue
            new = entry.get("status", ComponentStatus.OPERATIONAL)
            affected.append(
                {
                    "code": slug,
                    "name": entry.get("name", slug),
                    "old_status": last_seen.get(slug, ComponentStatus.OPERATIONAL),
                    "new_status": new,
                }
            )
            last_seen[slug] = new
        views.append(
            UpdateView(
                id=update.pk,
                state=update.state,
                state_label=IncidentState(update.state).label,
                body=update.body,
                posted_at=update.posted_at,
                incident_id=incident.pk,
                affected=affected,
            )
        )
    views.reverse()
    return views


def to_view(incident: Incident, public: set[str] | None = None) -> IncidentView:
    """``public``: the public components' slugs, when the caller has them already."""
    return IncidentView(
        id=incident.pk,
        kind=incident.kind,
        title=incident.title,
        state=incident.state,
        state_label=IncidentState(incident.state).label,
        impact=incident.impact,
        created_at=incident.declared_at,
        updated_at=incident.updated_at,
        started_at=incident.started_at or incident.scheduled_for or incident.declared_at,
        monitoring_at=incident.mitigated_at,
        resolved_at=incident.resolved_at,
        scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until,
        updates=_update_views(incident, _public_slugs() if public is None else public),
        components=[ac.component for ac in incident.affected_components.all()],
    )


def _views(queryset) -> list[IncidentView]:
    public = _public_slugs()
    return [to_view(i, public) for i in queryset.select_related("severity")]


@shared
def unresolved_incidents() -> list[IncidentView]:
    return _views(_public_incidents().incidents().open().order_by("-declared_at", "-pk"))


@shared
def recent_incidents(limit: int = RECENT_LIMIT) -> list[IncidentView]:
    return _views(_public_incidents().incidents().order_by("-declared_at", "-pk")[:limit])


@shared
def past_incidents(since: datetime) -> list[IncidentView]:
    """Closed incidents and maintenance that ended since ``since``, newest first."""
    query = _public_incidents().filter(resolved_at__gte=since).order_by("-resolved_at", "-pk")
    return _views(query)


@shared
def public_incident_ids(since: datetime) -> list[int]:
    """Ids of every incident linked from some public page: open, recent, or closed since."""
    public = Incident.objects.public()
    ids = set(
        public.filter(Q(resolved_at__gte=since) | Q(resolved_at__isnull=True)).values_list(
            "pk", flat=True
        )
    )
    ids |= set(
        public.incidents()
        .order_by("-declared_at", "-pk")
        .values_list("pk", flat=True)[:RECENT_LIMIT]
    )
    ids |= set(
        public.maintenances()
        .order_by("-scheduled_for", "-pk")
        .values_list("pk", flat=True)[:RECENT_LIMIT]
    )
    return sorted(ids)


@shared
def maintenances(*states: str, limit: int = RECENT_LIMIT) -> list[IncidentView]:
    """Maintenance windows for the JSON documents. A cancelled one leaves them, as a deleted one
    does on the common status-page API (its value set has no "cancelled"; calling it
    "completed" would claim work that never happened); the HTML pages and feeds say it was
    cancelled."""
    query = _public_incidents().maintenances().exclude(state=IncidentState.CANCELLED)
    if states:
        query = query.filter(state__in=states)
    return _views(query.order_by("-scheduled_for", "-pk")[:limit])


@shared
def active_and_upcoming_maintenances() -> list[IncidentView]:
    views = maintenances(IncidentState.SCHEDULED, IncidentState.IN_PROGRESS)
    return sorted(views, key=lambda v: (v.scheduled_for or v.created_at, v.id))


@shared
def incidents_by_id(ids: list[int]) -> dict[int, IncidentView]:
    """Many public incidents in a handful of queries (the static export renders them all)."""
    query = _public_incidents().select_related("severity").filter(pk__in=ids)
    public = _public_slugs()
    return {found.pk: to_view(found, public) for found in query}


@shared
def incident(pk: int) -> IncidentView | None:
    found = _public_incidents().select_related("severity").filter(pk=pk).first()
    return to_view(found) if found else None


def overall_status(
    components: list[Component], unresolved: list[IncidentView], maintenance: list[IncidentView]
) -> OverallStatus:
    """The page's one-line verdict, from open incidents' impact and component statuses."""
    candidates = ["none"]
    candidates += [_IMPACT_INDICATOR.get(i.impact, "minor") for i in unresolved]
    candidates += [_COMPONENT_INDICATOR[ComponentStatus(c.status)] for c in components]
    indicator = max(candidates, key=INDICATORS.index)
    if indicator == "none" and (
        any(m.state == IncidentState.IN_PROGRESS for m in maintenance)
        or any(c.status == ComponentStatus.UNDER_MAINTENANCE for c in components)
    ):
        return OverallStatus("none", "Service Under Maintenance")
    return OverallStatus(indicator, INDICATOR_DESCRIPTIONS[indicator])


def worst_component_status(components: list[Component]) -> str:
    if not components:
        return ComponentStatus.OPERATIONAL
    return max((c.status for c in components), key=lambda s: STATUS_RANK[ComponentStatus(s)])


@shared
def page_updated_at() -> datetime:
    """The last time anything public changed."""
    stamps = [
        Component.objects.filter(is_public=True).aggregate(m=Max("updated_at"))["m"],
        Incident.objects.public().aggregate(m=Max("updated_at"))["m"],
    ]
    stamps = [s for s in stamps if s is not None]
    return max(stamps) if stamps else timezone.now()
