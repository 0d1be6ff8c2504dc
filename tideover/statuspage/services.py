"""Keeping the public status page current: every public change invalidates the served cache
and re-renders the static export, after the change commits."""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import transaction

from tideover.statuspage import cache, export, render
from tideover.statuspage.export import ExportResult
from tideover.statuspage.render import Links

log = logging.getLogger("tideover.statuspage")

# Events that change nothing the public sees.
PRIVATE_EVENTS = frozenset({"incident.internal_note", "incident.roles_changed"})

register_page_context = render.register_page_context


def export_status(folder: str | os.PathLike | None = None) -> ExportResult:
    """Write the status page, JSON and feeds as static files into ``folder`` (atomically)."""
    return export.export_to(folder or settings.STATUS_EXPORT_DIR)


def publish_changes() -> None:
    """Make the latest public state visible: new cache version, warm hot pages, re-export."""
    try:
        cache.invalidate()
    except Exception:
        # Then processes serve what they hold until STATUS_CACHE_SECONDS; the export still runs.
        log.exception("could not invalidate the status page cache")
    try:
        # Warm the pages an outage's visitors hit first, so the spike finds them rendered.
        cache.get_or_render(
            "index.html", lambda: render.index_page(Links.served()), "text/html; charset=utf-8"
        )
        cache.get_or_render(
            "api/v2/summary.json", lambda: render.api_document("summary.json"), "application/json"
        )
    except Exception:
        log.exception("warming the status page cache failed; it renders on the next request")
    if settings.STATUS_EXPORT_DIR:
        try:
            export_status(settings.STATUS_EXPORT_DIR)
        except Exception:
            # The served page is already current; a failed export must not fail the update.
            log.exception("writing the static status export failed")


def _already_queued(connection) -> bool:
    """True when this transaction (or a savepoint still open around us) already asked to publish.

    Entries are (savepoint ids at registration, function, robust); one registered inside a
    savepoint that is still open around us runs with our commit, so one publish is enough."""
    open_savepoints = set(connection.savepoint_ids)
    return any(
        func is publish_changes and set(sids) <= open_savepoints
        for sids, func, *_ in connection.run_on_commit
    )


def on_incident_event(name: str, **payload) -> None:
    """Event handler: publish once per transaction, after it commits; drills change nothing."""
    if name in PRIVATE_EVENTS:
        return
    incident = payload.get("incident")
    if incident is not None and incident.is_drill:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block and _already_queued(connection):
        return
    transaction.on_commit(publish_changes, robust=True)


def on_public_record_saved(sender, instance, created=False, **kwargs) -> None:
    """Signal handler: a component, incident or update edited directly (the admin, say)."""
    if created and sender.__name__ == "Component":
        # A new component is operational and shows within STATUS_CACHE_SECONDS; skipping it
        # keeps setup code (and test fixtures) from queueing a publish per component.
        return
    incident = instance if sender.__name__ == "Incident" else getattr(instance, "incident", None)
    on_incident_event("record.saved", incident=incident)


def refresh() -> None:
    """Periodic: keep the export's history bars current across midnight with no change."""
    publish_changes()
