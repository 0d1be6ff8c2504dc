"""What other apps add to staff briefings, without notifications importing them.

An app registers a function in its ``AppConfig.ready``::

    from tideover.notifications import hooks
    hooks.add_briefing_source(my_function)   # my_function(incident) -> str

Each staff message about an incident then carries, after the event's own talking points, what
every source returns (the runbook app adds the plan in force and its say / don't-say lines), so
customer service and the social team say the same thing as the status page.
"""

from __future__ import annotations

from collections.abc import Callable

_SOURCES: list[Callable] = []


def add_briefing_source(source: Callable) -> None:
    if source not in _SOURCES:
        _SOURCES.append(source)


def briefing_for(incident) -> str:
    """The text every source adds for this incident ('' when none has anything)."""
    parts = [source(incident) for source in _SOURCES]
    return "\n".join(part for part in parts if part)


# Before pruning deletes finished messages (notifications/pruning.py), other apps may keep what
# they need of them: ``listener(ids)`` runs in the pruning's transaction, with the rows still
# there (recovery keeps each goodwill offer's delivery state, for its results).
_PRUNE_LISTENERS: list[Callable] = []


def add_prune_listener(listener: Callable) -> None:
    if listener not in _PRUNE_LISTENERS:
        _PRUNE_LISTENERS.append(listener)


def before_prune(ids: list[int]) -> None:
    for listener in _PRUNE_LISTENERS:
        listener(ids)
