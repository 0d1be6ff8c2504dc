"""Keeping the public status page current: every public change invalidates the served cache
after the change commits, and a background task re-renders the static export.

Writes stay cheap: the commit only starts a new cache version, held for the publish task
(cache.py: readers keep the page from before the change until the task has rendered the new
one, so no web process renders after a write), and enqueues ``publish_status``. That task is
coalesced: while one is waiting, further changes enqueue nothing (a flag in the shared cache),
and it waits ``STATUS_PUBLISH_DELAY_SECONDS`` before it starts, so a burst of updates renders
once. It renders the hot pages into the shared cache, lets readers go, and rewrites the export,
at most once per ``STATUS_EXPORT_INTERVAL_SECONDS`` (a change inside the interval queues one
export for its end); files whose bytes did not change keep their inode and mtime (export.py).
A task that finds the export already at the current version exports nothing. Should no worker
run, the hold lapses after ``cache.RENDER_CLAIM_SECONDS`` and the next reader renders."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import transaction
from django.utils import timezone

from tideover.statuspage import cache, cache_owed, export, reading, render
from tideover.statuspage.export import ExportResult
from tideover.statuspage.render import Links

log = logging.getLogger("tideover.statuspage")

# Events that change nothing the public sees.
PRIVATE_EVENTS = frozenset({"incident.internal_note", "incident.roles_changed"})

register_page_context = render.register_page_context


def export_status(folder: str | os.PathLike | None = None) -> ExportResult:
    """Write the status page, JSON and feeds as static files into ``folder`` (atomically)."""
    return export.export_to(folder or settings.STATUS_EXPORT_DIR)


PENDING_KEY = "statuspage:publish-pending"


def publish_changes() -> None:
    """After a public change commits: a new cache version now, rendered (and exported) by a
    task soon."""
    version = None
    try:
        version = cache.invalidate(held=True)
    except Exception:
        # Readers render afresh while the cache is away; once it is back it must be told, or
        # it would serve the page from before this change again (cache_owed.py).
        log.exception("could not invalidate the status page cache")
        cache_owed.invalidate_when_back()
    try:
        # One waiting publish covers every change made before it starts.
        if not django_cache.add(PENDING_KEY, 1, timeout=max(60, 4 * _delay())):
            return
    except Exception:
        log.warning("status page cache unreachable; publishing without coalescing")
    from tideover.statuspage.tasks import publish_status

    try:
        if _delay() > 0:
            later = timezone.now() + timedelta(seconds=_delay())
            publish_status.using(run_after=later).enqueue()
        else:
            publish_status.enqueue()
    except Exception:
        # Queued once the queue answers again (cache_owed.py); readers render the page.
        log.exception("could not queue the status export")
        _forget_pending()
        if version is not None:
            cache.release(version)
        cache_owed.invalidate_when_back(publish=True)


def _delay() -> float:
    return settings.STATUS_PUBLISH_DELAY_SECONDS


def _forget_pending() -> None:
    _forget(PENDING_KEY)


def _forget(key: str) -> None:
    try:
        django_cache.delete(key)
    except Exception:
        log.warning("status page cache unreachable; the %s flag expires on its own", key)


def render_and_export(*, export_now: bool = False) -> dict:
    """The task's work: render the hot pages of the current version for the readers, then
    rewrite the export, at most once per ``STATUS_EXPORT_INTERVAL_SECONDS`` (a later export is
    queued for changes inside the interval) unless ``export_now``."""
    _forget_pending()  # changes from now on queue a publish of their own
    version = cache.current_version()
    folder = settings.STATUS_EXPORT_DIR
    with reading.one_reading():  # every document of this publish from one reading
        # Always: the readers wait for this (a queued export may have written the files of
        # this version already, but it renders nothing for them); a no-op when already warm.
        _warm(version)
        if folder and version != cache.UNAVAILABLE and _exported_version(folder) == version:
            return {"exported": False, "reason": "already current"}
        due = export_now or version == cache.UNAVAILABLE
        wait = 0.0 if due else _export_due_in(folder)
        if wait > 0:
            _queue_export(wait)
            return {"exported": False, "reason": "export queued", "version": version}
        return _export(folder, version)


def export_if_stale() -> dict:
    """The queued export's work: rewrite the export unless a publish already did."""
    _forget(EXPORT_PENDING_KEY)
    version = cache.current_version()
    folder = settings.STATUS_EXPORT_DIR
    if not folder or (version != cache.UNAVAILABLE and _exported_version(folder) == version):
        return {"exported": False, "reason": "already current"}
    with reading.one_reading():
        return _export(folder, version)


def _export(folder, version: str) -> dict:
    if folder:
        try:
            export_status(folder)
        except Exception:
            # The served page is already current; a failed export must not fail the update.
            log.exception("writing the static status export failed")
            return {"exported": False, "reason": "failed"}
        if version != cache.UNAVAILABLE:
            _mark_exported(folder, version)
    return {"exported": bool(folder), "version": version}


EXPORT_PENDING_KEY = "statuspage:export-pending"


def _export_due_in(folder) -> float:
    """Seconds until the export may be rewritten again (0: now)."""
    if not folder:
        return 0.0
    try:
        last = _version_marker(folder).stat().st_mtime
    except OSError:
        return 0.0
    return max(0.0, last + settings.STATUS_EXPORT_INTERVAL_SECONDS - time.time())


def _queue_export(wait: float) -> None:
    from tideover.statuspage.tasks import export_status_later

    try:
        if not django_cache.add(EXPORT_PENDING_KEY, 1, timeout=max(60, 4 * wait)):
            return  # one is queued already, and it exports whatever is current when it runs
    except Exception:
        log.warning("status page cache unreachable; queueing the export without coalescing")
    try:
        export_status_later.using(run_after=timezone.now() + timedelta(seconds=wait)).enqueue()
    except Exception:
        log.exception("could not queue the status export; the next change or refresh writes it")
        _forget(EXPORT_PENDING_KEY)


def _version_marker(folder) -> Path:
    target = Path(folder).resolve()
    return target.parent / f".{target.name}.version"


def _exported_version(folder) -> str:
    try:
        return _version_marker(folder).read_text().strip()
    except OSError:
        return ""


def _mark_exported(folder, version: str) -> None:
    try:
        _version_marker(folder).write_text(version)
    except OSError:
        log.warning("could not note the exported version; the next publish exports again")


def _warm_and_export() -> None:
    with reading.one_reading():  # every document of this publish from one reading
        _warm(cache.current_version())
        _export(settings.STATUS_EXPORT_DIR, cache.UNAVAILABLE)


def _warm(version: str) -> None:
    try:
        # Render the pages an outage's visitors hit first, so readers never have to.
        cache.get_or_render(
            "index.html",
            lambda: render.index_page(Links.served()),
            "text/html; charset=utf-8",
            publishing=True,
        )
        cache.get_or_render(
            "api/v2/summary.json",
            lambda: render.api_document("summary.json"),
            "application/json",
            publishing=True,
        )
    except Exception:
        log.exception("warming the status page cache failed; it renders on the next request")
    finally:
        # Every other document (history, feeds, an incident's page) renders on its next read.
        cache.release(version)


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
    """Periodic (already a task): keep the export's history bars current across midnight."""
    _warm_and_export()
