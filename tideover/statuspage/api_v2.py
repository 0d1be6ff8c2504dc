"""The JSON documents, in the shape of the common status-page API (Atlassian Statuspage v2).

Field names and value sets follow that API so existing status-page clients, aggregators and
dashboards read Tideover's page unchanged. Ids are strings there, so they are strings here.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from tideover.core.models import Component
from tideover.core.timestamps import iso_millis as _time
from tideover.statuspage import snapshot
from tideover.statuspage.snapshot import IncidentView, UpdateView


def page_json(updated_at: datetime) -> dict:
    return {
        "id": snapshot.page_id(),
        "name": settings.SITE_NAME,
        "url": settings.SITE_URL,
        "time_zone": settings.TIME_ZONE,
        "updated_at": _time(updated_at),
    }


def component_json(component: Component) -> dict:
    return {
        "id": str(component.pk),
        "name": component.name,
        "status": component.status,
        "created_at": _time(component.created_at),
        "updated_at": _time(component.updated_at),
        "position": component.position,
        "description": component.description or None,
        "showcase": True,
        "start_date": component.created_at.date().isoformat(),
        "group_id": None,
        "page_id": snapshot.page_id(),
        "group": False,
        "only_show_if_degraded": False,
    }


def update_json(update: UpdateView) -> dict:
    return {
        "id": str(update.id),
        "status": update.state,
        "body": update.body,
        "incident_id": str(update.incident_id),
        "created_at": _time(update.posted_at),
        "updated_at": _time(update.posted_at),
        "display_at": _time(update.posted_at),
        "affected_components": update.affected or None,
    }


def incident_json(incident: IncidentView) -> dict:
    data = {
        "id": str(incident.id),
        "name": incident.title,
        "status": incident.state,
        "created_at": _time(incident.created_at),
        "updated_at": _time(incident.updated_at),
        "monitoring_at": _time(incident.monitoring_at),
        "resolved_at": _time(incident.resolved_at),
        "impact": incident.impact,
        "shortlink": f"{settings.SITE_URL}/incidents/{incident.id}",
        "started_at": _time(incident.started_at),
        "page_id": snapshot.page_id(),
        "incident_updates": [update_json(u) for u in incident.updates],
        "components": [component_json(c) for c in incident.components],
    }
    if incident.is_maintenance:
        data["scheduled_for"] = _time(incident.scheduled_for)
        data["scheduled_until"] = _time(incident.scheduled_until)
    return data


def status_json(status: snapshot.OverallStatus) -> dict:
    return {"indicator": status.indicator, "description": status.description}


# --- the documents ------------------------------------------------------------------------------


def summary() -> dict:
    components = snapshot.public_components()
    unresolved = snapshot.unresolved_incidents()
    maintenance = snapshot.active_and_upcoming_maintenances()
    return {
        "page": page_json(snapshot.page_updated_at()),
        "components": [component_json(c) for c in components],
        "incidents": [incident_json(i) for i in unresolved],
        "scheduled_maintenances": [incident_json(m) for m in maintenance],
        "status": status_json(snapshot.overall_status(components, unresolved, maintenance)),
    }


def status() -> dict:
    components = snapshot.public_components()
    unresolved = snapshot.unresolved_incidents()
    maintenance = snapshot.active_and_upcoming_maintenances()
    return {
        "page": page_json(snapshot.page_updated_at()),
        "status": status_json(snapshot.overall_status(components, unresolved, maintenance)),
    }


def components() -> dict:
    return {
        "page": page_json(snapshot.page_updated_at()),
        "components": [component_json(c) for c in snapshot.public_components()],
    }


def incidents() -> dict:
    return {
        "page": page_json(snapshot.page_updated_at()),
        "incidents": [incident_json(i) for i in snapshot.recent_incidents()],
    }


def unresolved() -> dict:
    return {
        "page": page_json(snapshot.page_updated_at()),
        "incidents": [incident_json(i) for i in snapshot.unresolved_incidents()],
    }


def scheduled_maintenances(*states: str) -> dict:
    return {
        "page": page_json(snapshot.page_updated_at()),
        "scheduled_maintenances": [incident_json(m) for m in snapshot.maintenances(*states)],
    }


def dumps(document: dict) -> bytes:
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


# name (also its path under api/v2/) -> builder
DOCUMENTS = {
    "summary.json": summary,
    "status.json": status,
    "components.json": components,
    "incidents.json": incidents,
    "incidents/unresolved.json": unresolved,
    "scheduled-maintenances.json": scheduled_maintenances,
    "scheduled-maintenances/upcoming.json": lambda: scheduled_maintenances("scheduled"),
    "scheduled-maintenances/active.json": lambda: scheduled_maintenances("in_progress"),
}
