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


# Messages queued in bulk whose texts differ only by a name and a code (a goodwill campaign's
# million) are queued with an empty subject and body: the app that queued them writes the text
# from its own frozen records whenever it is needed (sending, customer service's view).
# ``writer(messages)`` sets ``subject`` and ``body`` on each message it can (in memory; the row
# stays as queued); one it leaves without a body is not sent (its offer is gone).
_WRITERS: dict[str, Callable] = {}


def add_text_writer(key_prefix: str, writer: Callable) -> None:
    """``writer`` writes the messages whose dedupe key starts with ``key_prefix`` up to the
    first colon (e.g. ``"goodwill:"``)."""
    _WRITERS[key_prefix] = writer


def written_later(message) -> bool:
    """True for a message whose text a registered writer puts together when it is needed."""
    if message.notification_id is not None:
        return False
    head, colon, _ = message.dedupe_key.partition(":")
    return bool(colon) and head + ":" in _WRITERS


def write_texts(messages) -> None:
    """Fill in the text of every message in ``messages`` that is written later (one call per
    writer for the whole batch)."""
    pending: dict[str, list] = {}
    for message in messages:
        if not message.body and written_later(message):
            pending.setdefault(message.dedupe_key.partition(":")[0] + ":", []).append(message)
    for prefix, batch in pending.items():
        _WRITERS[prefix](batch)
