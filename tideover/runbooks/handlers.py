"""What runbooks do when incidents change (subscribed in RunbooksConfig.ready).

They run inside the incident service's transaction, so a declared incident and its checklists
commit together. Components named later with a public update attach a runbook then (and the
commander can attach one by hand). ``component.status_changed`` is not used: it fires for each
component while an incident is still being declared, before all its components are known.
"""

from __future__ import annotations

from tideover.runbooks import checklists, services

EVENTS = (
    "incident.declared",
    "incident.public_update",
    "incident.scope_changed",
)


def on_incident_event(name: str, incident=None, actor=None, at=None, **_) -> None:
    if incident is None:
        return
    from tideover.incidents.models import IncidentKind

    if incident.kind != IncidentKind.INCIDENT or not incident.is_open:
        return
    kwargs = {"at": at}
    if actor is not None:
        kwargs["actor"] = actor
    if name == "incident.scope_changed":
        checklists.follow_store_scope(incident, **kwargs)
        return
    services.attach_runbook(incident, **kwargs)
