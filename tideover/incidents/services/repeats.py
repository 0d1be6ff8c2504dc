"""A second submission of the same declaration or update by the same person within
``REPEAT_SECONDS`` is the first one again (a double tap, a form sent twice by a slow network),
not a new incident or update that pages everyone and messages every subscriber once more.
The callers hold the lock that makes the check and the write one step (lifecycle.py)."""

from __future__ import annotations

from datetime import timedelta

from tideover.core.actors import Actor
from tideover.incidents.models import (
    Incident,
    IncidentKind,
    PublicUpdate,
    TimelineEvent,
    TimelineKind,
)

REPEAT_SECONDS = 60


def _by_same_actor(author_id, author_name: str, actor: Actor) -> bool:
    return author_id == (actor.user.pk if actor.user else None) and author_name == actor.name[:150]


def just_declared(title, severity, is_drill, actor: Actor, at) -> Incident | None:
    since = at - timedelta(seconds=REPEAT_SECONDS)
    declared = TimelineEvent.objects.filter(
        kind=TimelineKind.DECLARED,
        # No upper bound: a twin request stamped a moment earlier may take the lock second.
        at__gte=since,
        incident__kind=IncidentKind.INCIDENT,
        incident__title=title,
        incident__severity=severity,
        incident__is_drill=is_drill,
    ).select_related("incident")
    for event in declared.order_by("-at", "-pk"):
        if event.incident.is_open and _by_same_actor(event.author_id, event.author_name, actor):
            return event.incident
    return None


def just_posted(incident, body, state, components, actor: Actor, at) -> PublicUpdate | None:
    last = incident.public_updates.order_by("-posted_at", "-pk").first()
    if (
        last is None
        or last.body != body
        or (state and state != incident.state)
        or last.state != incident.state  # reopened since: that needs saying
        or not _by_same_actor(last.author_id, last.author_name, actor)
        or not abs(at - last.posted_at) < timedelta(seconds=REPEAT_SECONDS)  # twins either way
    ):
        return None
    if components:
        current = dict(incident.affected_components.values_list("component_id", "status"))
        if any(current.get(component.pk) != status for component, status in components.items()):
            return None
    return last
