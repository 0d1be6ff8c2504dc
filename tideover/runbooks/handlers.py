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


def briefing(incident) -> str:
    """The plan in force and its talking points, for staff briefings (notifications hooks)."""
    plan = services.plan_in_force(incident)
    if plan is None:
        return ""
    lines = [f"Plan in force: {plan['name']}{': ' + plan['title'] if plan['title'] else ''}."]
    if plan["say"]:
        lines.append("Say: " + " / ".join(plan["say"]))
    if plan["dont_say"]:
        lines.append("Don't say: " + " / ".join(plan["dont_say"]))
    if plan["move_on_when"]:
        lines.append(f"Next plan when: {plan['move_on_when']}")
    return "\n".join(lines)
