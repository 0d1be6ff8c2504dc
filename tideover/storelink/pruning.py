"""Nothing grows forever, the store link's part: heartbeat minutes (one row per store per
minute) and link state changes older than ``PRUNE_STORELINK_DAYS`` are deleted by the hourly
periodic job ``prune-storelink`` (0 keeps everything).

What stays, and why:

- Heartbeat minutes during an incident (from an hour before it started to an hour after it
  was resolved; still open: to now): a postmortem's draft reads the lowest heartbeat coverage
  of its incident's window (``heartbeat_coverage``), whenever it is drafted. Incidents are
  never pruned, so neither are those minutes.
- A day of heartbeat minutes at least (``MIN_DAYS``): the derived gauges (coverage, queue
  depth, which carries a store's last depth for ``QUEUE_CARRY``) look back at most a day.
- Each store's newest ``KEEP_CHANGES`` state changes: the Stores page lists the newest 50
  changes (for all stores, a region or a user's stores), so it shows what it showed before.

Rows go in batches of ``core.pruning.BATCH``, each in its own short transaction, picked in the
order of an index (heartbeat minutes by minute, changes by primary key within a store), so a
long backlog is never one long lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from tideover.core.pruning import delete_in_batches
from tideover.storelink.models import HeartbeatMinute, StateChange

MIN_DAYS = 2
KEEP_CHANGES = 50  # the Stores page's recent changes (services.recent_changes' limit)
AROUND_INCIDENT = timedelta(hours=1)


def prune_storelink(now: datetime | None = None, days: int | None = None) -> dict:
    """Delete heartbeat minutes and state changes older than the retention; returns how many
    of each went."""
    days = settings.PRUNE_STORELINK_DAYS if days is None else days
    counts = {"heartbeat_minutes": 0, "state_changes": 0}
    if days <= 0:
        return counts
    now = now or timezone.now()
    cutoff = now - timedelta(days=max(days, MIN_DAYS))
    start = None
    for kept_from, kept_until in _incident_windows(cutoff, now):
        counts["heartbeat_minutes"] += _delete_minutes(start, min(kept_from, cutoff))
        start = kept_until if start is None else max(start, kept_until)
        if start >= cutoff:
            break
    else:
        counts["heartbeat_minutes"] += _delete_minutes(start, cutoff)
    stores = StateChange.objects.filter(at__lt=cutoff).values_list("store_id", flat=True).distinct()
    for store_id in sorted(set(stores)):
        newest = StateChange.objects.filter(store_id=store_id).order_by("-at", "-pk")
        keep = list(newest.values_list("pk", flat=True)[:KEEP_CHANGES])
        old = StateChange.objects.filter(store_id=store_id, at__lt=cutoff).exclude(pk__in=keep)
        counts["state_changes"] += delete_in_batches(old, "pk")
    return counts


def _incident_windows(cutoff: datetime, now: datetime) -> list[tuple[datetime, datetime]]:
    """The spans of heartbeat minutes a postmortem may read, oldest first."""
    if not apps.is_installed("tideover.incidents"):
        return []
    from tideover.incidents.models import Incident

    windows = []
    for started, declared, resolved in Incident.objects.values_list(
        "started_at", "declared_at", "resolved_at"
    ):
        begin = (started or declared) - AROUND_INCIDENT
        if begin < cutoff:
            windows.append((begin, (resolved or now) + AROUND_INCIDENT))
    return sorted(windows)


def _delete_minutes(since: datetime | None, until: datetime) -> int:
    if since is not None and since >= until:
        return 0
    old = HeartbeatMinute.objects.filter(minute__lt=until)
    if since is not None:
        old = old.filter(minute__gte=since)
    return delete_in_batches(old, "minute")
