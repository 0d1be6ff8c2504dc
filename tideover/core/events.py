"""Named domain events between apps.

A service that changes something others care about publishes an event *inside its transaction*;
subscribers (registered in their AppConfig.ready) run right there, so what they record (outbox
rows, say) commits or rolls back with the change itself. Work that must wait for the commit
(re-rendering the static status page) uses ``transaction.on_commit`` in the handler.

Event names in use:
  incident.declared, incident.public_update, incident.state_changed, incident.resolved,
  incident.reopened, incident.internal_note, incident.roles_changed, incident.severity_changed,
  incident.scope_changed, component.status_changed, maintenance.scheduled, maintenance.started, maintenance.completed
Each carries ``incident`` (or ``component``) and ``event`` (the TimelineEvent) where one exists.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

_handlers: dict[str, list[Callable]] = defaultdict(list)


def subscribe(name: str, handler: Callable, *, first: bool = False) -> None:
    """Call ``handler(name=..., **payload)`` whenever ``name`` is published (once per handler).
    ``first``: before the handlers already there (for work others' handlers read, such as the
    runbook an incident's first briefing carries)."""
    if handler not in _handlers[name]:
        if first:
            _handlers[name].insert(0, handler)
        else:
            _handlers[name].append(handler)


def subscribe_all(names: list[str] | tuple[str, ...], handler: Callable, *, first=False) -> None:
    for name in names:
        subscribe(name, handler, first=first)


def publish(name: str, **payload) -> None:
    for handler in list(_handlers.get(name, ())):
        handler(name=name, **payload)


INCIDENT_EVENTS = (
    "incident.declared",
    "incident.public_update",
    "incident.state_changed",
    "incident.resolved",
    "incident.reopened",
    "incident.internal_note",
    "incident.roles_changed",
    "incident.severity_changed",
    "incident.scope_changed",
    "component.status_changed",
    "maintenance.scheduled",
    "maintenance.started",
    "maintenance.completed",
)
