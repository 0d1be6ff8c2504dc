"""Nothing grows forever, Detect's part: per-minute rows older than ``PRUNE_SIGNALS_DAYS`` are
deleted by the hourly periodic job ``prune-detect`` (0 keeps everything). That is the points
(a count signal gets a row every minute, events or not), the reports counted into them, the
checkout and sale tallies the failure rates are derived from, social posts, and dismissed
patterns once they have expired.

What stays, and why it is safe:

- A signal's detector keeps its learned state on the signal row (``detector.py``); it never
  reads old points again, so pruning them changes no score.
- Derived gauges are recomputed from the tallies at most a day back (``derived.MAX_LOOKBACK``)
  and quiet count minutes filled at most a day back (``scoring.MAX_FILL``): the retention is
  never less than ``MIN_DAYS``, so nothing is recomputed from rows already gone.
- An alert copies its evidence (the series around it) into itself, but its page and the
  incident page chart the signal's points from an hour before it to two hours after
  (``charts.window_around``, ``apps.incident_panel``): those points are kept for as long as
  the alert is (alerts are the incident history; they are never pruned).

Rows go in batches of ``core.pruning.BATCH``, each in its own short transaction, picked in the
order of an index (points by signal and minute, reports, tallies by minute, posts by complaint
and time), so a long
backlog is never one long lock and each batch is found without reading the whole table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from tideover.core.pruning import delete_in_batches
from tideover.detect.models import (
    Alert,
    CheckoutTally,
    DismissedPattern,
    SaleTally,
    Signal,
    SignalPoint,
    SignalReport,
    SocialPost,
)

MIN_DAYS = 2  # past the day derived gauges and count zeros may look back (module docstring)
CHART_BEFORE = timedelta(hours=1)  # charts.window_around's default
CHART_AFTER = timedelta(hours=2)  # the incident page's chart (apps.incident_panel)


def prune_signals(now=None, days: int | None = None) -> dict:
    """Delete Detect's rows older than the retention; returns how many of each went."""
    days = settings.PRUNE_SIGNALS_DAYS if days is None else days
    counts = dict.fromkeys(
        ("points", "reports", "checkout_tallies", "sale_tallies", "posts", "patterns"), 0
    )
    if days <= 0:
        return counts
    now = now or timezone.now()
    cutoff = now - timedelta(days=max(days, MIN_DAYS))
    charted = _charted(cutoff)
    for signal_id in Signal.objects.order_by("pk").values_list("pk", flat=True):
        old = SignalPoint.objects.filter(signal_id=signal_id, minute__lt=cutoff)
        for start, end in charted.get(signal_id, ()):
            old = old.exclude(minute__gte=start, minute__lte=end)
        counts["points"] += delete_in_batches(old, "minute")
    counts["reports"] = delete_in_batches(SignalReport.objects.filter(at__lt=cutoff), "at")
    counts["checkout_tallies"] = delete_in_batches(
        CheckoutTally.objects.filter(minute__lt=cutoff), "minute"
    )
    counts["sale_tallies"] = delete_in_batches(
        SaleTally.objects.filter(minute__lt=cutoff), "minute"
    )
    for complaint in (True, False):  # the index is (complaint, posted_at)
        old = SocialPost.objects.filter(complaint=complaint, posted_at__lt=cutoff)
        counts["posts"] += delete_in_batches(old, "posted_at")
    counts["patterns"] = delete_in_batches(
        DismissedPattern.objects.filter(expires_at__lt=now), "pk"
    )
    return counts


def _charted(cutoff) -> dict[int, list[tuple]]:
    """Per signal, the spans of old points an alert's charts show."""
    spans = defaultdict(list)
    alerts = Alert.objects.filter(started_at__lt=cutoff + CHART_BEFORE).prefetch_related("signals")
    for alert in alerts.only("started_at", "closed_at", "last_seen_at"):
        end = (alert.closed_at or alert.last_seen_at) + CHART_AFTER
        for signal in alert.signals.all():
            spans[signal.pk].append((alert.started_at - CHART_BEFORE, end))
    return spans
