"""Signals Tideover derives from what it already knows.

- **heartbeat-coverage**: share of active stores whose agent was heard from each minute, read
  from ``tideover.storelink.services.heartbeat_coverage(since, until)`` when the storelink app
  is installed (without it the signal simply gets no points), as a percentage.
- **offline-queue-depth**: the sales waiting in the stores' offline queues, each store at what its
  agent last reported in a heartbeat (``tideover.storelink.services.queue_depth``).
- **web-checkout-error-rate**: errored over all web checkouts of the last five minutes, from the
  web shop's per-minute counts reported through the API (:mod:`tideover.detect.checkouts`).
- **sale-failure-rate** (chain) and one per store (same family): failed and declined sales over
  all sales of the last five minutes, by when the sale happened, tallied as sales post through
  the sales app's posting hook.
- **staff-reports**: the front line's "report a problem" (event ``frontline.problem_reported``),
  one per person and cause per hour, chain-wide and per store.
- **social-complaints** (count) and **social-negative-share**: complaint posts, and the share of
  posts about the brand in the last fifteen minutes that are negative.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from datetime import datetime, timedelta

from django.apps import apps
from django.db import connection

from tideover.core.models import Store
from tideover.detect.models import Direction, SaleTally, Signal, SignalKind, SocialPost
from tideover.detect.signals import (
    ensure_signal,
    minute_of,
    record_event,
    set_points,
    store_signal,
)

HEARTBEATS = "heartbeat-coverage"
QUEUE_DEPTH = "offline-queue-depth"
WEB_CHECKOUT_ERRORS = "web-checkout-error-rate"
SALE_FAILURES = "sale-failure-rate"
STAFF_REPORTS = "staff-reports"
SOCIAL_COMPLAINTS = "social-complaints"
SOCIAL_NEGATIVE = "social-negative-share"
FAILURE_WINDOW = 5  # minutes
NEGATIVE_WINDOW = 15  # minutes
FIRST_LOOKBACK = timedelta(hours=1)
MAX_LOOKBACK = timedelta(hours=24)

SPECS = {
    HEARTBEATS: {
        "name": "Store heartbeat coverage",
        "unit": "%",
        "owner": "Store systems",
        "source": "heartbeats",
        "direction": Direction.DOWN,
    },
    SALE_FAILURES: {
        "name": "Sale failure and decline rate",
        "unit": "%",
        "owner": "Payments",
        "source": "sales",
        "direction": Direction.UP,
        "family": SALE_FAILURES,
    },
    STAFF_REPORTS: {
        "name": "Staff problem reports",
        "unit": "reports",
        "owner": "Store operations",
        "source": "staff",
        "kind": SignalKind.COUNT,
        "direction": Direction.UP,
        "family": STAFF_REPORTS,
    },
    SOCIAL_COMPLAINTS: {
        "name": "Social complaint posts",
        "unit": "posts",
        "owner": "Social team",
        "source": "social",
        "kind": SignalKind.COUNT,
        "direction": Direction.UP,
        "family": SOCIAL_COMPLAINTS,
    },
    SOCIAL_NEGATIVE: {
        "name": "Negative share of posts about us",
        "unit": "%",
        "owner": "Social team",
        "source": "social",
        "direction": Direction.UP,
    },
    QUEUE_DEPTH: {
        "name": "Sales waiting in store offline queues",
        "unit": "sales",
        "owner": "Store systems",
        "source": "heartbeats",
        "direction": Direction.UP,
    },
    WEB_CHECKOUT_ERRORS: {
        "name": "Web checkout error rate",
        "unit": "%",
        "owner": "Web shop",
        "source": "web",
        "direction": Direction.UP,
    },
}


def builtin(slug: str) -> Signal:
    """One of the derived signals, made with its defaults the first time."""
    return ensure_signal(slug, **SPECS[slug])


def _since(signal: Signal, until: datetime) -> datetime:
    if signal.scored_until is None:
        return until - FIRST_LOOKBACK
    return max(signal.scored_until, until - MAX_LOOKBACK)


def _minutes(since: datetime, until: datetime):
    minute = since + timedelta(minutes=1)
    while minute <= until:
        yield minute
        minute += timedelta(minutes=1)


# --- heartbeat coverage ------------------------------------------------------------------


def _storelink(name: str):
    """A storelink service function, or None while that app is not installed."""
    if not apps.is_installed("tideover.storelink"):
        return None
    module = importlib.import_module("tideover.storelink.services")
    return getattr(module, name, None)


def _derive_from_storelink(slug: str, function: str, scale: float, until: datetime) -> int:
    source = _storelink(function)
    if source is None:
        return 0
    signal = builtin(slug)
    since = _since(signal, until)
    rows = []
    for minute, value in source(since + timedelta(minutes=1), until + timedelta(minutes=1)):
        minute = minute_of(minute)
        if since < minute <= until:
            rows.append((signal, minute, scale * float(value)))
    set_points(rows)
    return len(rows)


def derive_heartbeats(until: datetime) -> int:
    return _derive_from_storelink(HEARTBEATS, "heartbeat_coverage", 100.0, until)


def derive_queue_depth(until: datetime) -> int:
    return _derive_from_storelink(QUEUE_DEPTH, "queue_depth", 1.0, until)


# --- web checkout error rate -------------------------------------------------------------


def derive_web_checkout_errors(until: datetime) -> int:
    from tideover.detect.checkouts import error_rates

    signal = builtin(WEB_CHECKOUT_ERRORS)
    rows = [
        (signal, minute, rate)
        for minute, rate in error_rates(_since(signal, until), until, FAILURE_WINDOW)
    ]
    set_points(rows)
    return len(rows)


# --- sale failure rate -------------------------------------------------------------------


def tally_sales(posted) -> dict:
    """Sales posting hook: count each new sale (and each failed or declined one) into its
    store's minute. Adds nothing to the sale's result."""
    counts: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])
    for item in posted:
        sale = item.sale
        if sale.kind != "sale":
            continue
        key = (sale.store.pk, minute_of(sale.occurred_at))
        counts[key][0] += 1
        counts[key][1] += sale.status in ("failed", "declined")
    if not counts:
        return {}
    # One statement for the whole batch however many stores and minutes it spans (the posting
    # path's query count must not grow with the batch): insert, or add to the minute's tally.
    table = connection.ops.quote_name(SaleTally._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (store_id, minute, total, failed) VALUES (%s, %s, %s, %s) "  # noqa: S608
            "ON CONFLICT (store_id, minute) DO UPDATE SET "
            f"total = {table}.total + excluded.total, failed = {table}.failed + excluded.failed",
            [
                (store_id, connection.ops.adapt_datetimefield_value(minute), total, failed)
                for (store_id, minute), (total, failed) in sorted(counts.items())
            ],
        )
    return {}


def derive_sale_failures(until: datetime) -> int:
    chain = builtin(SALE_FAILURES)
    since = _since(chain, until)
    window = timedelta(minutes=FAILURE_WINDOW)
    per_store: dict[int, dict[datetime, tuple[int, int]]] = defaultdict(dict)
    for tally in SaleTally.objects.filter(minute__gt=since - window, minute__lte=until):
        per_store[tally.store_id][tally.minute] = (tally.total, tally.failed)
    if not per_store:
        return 0
    stores = Store.objects.in_bulk(list(per_store))
    own = {s.store_id: s for s in Signal.objects.filter(family=SALE_FAILURES, store__isnull=False)}
    for store_id in per_store:
        if store_id not in own:
            own[store_id] = store_signal(chain, stores[store_id])
    rows = []
    for minute in _minutes(since, until):
        span = [minute - timedelta(minutes=k) for k in range(FAILURE_WINDOW)]
        chain_total = chain_failed = 0
        for store_id, minutes in per_store.items():
            total = sum(minutes.get(m, (0, 0))[0] for m in span)
            failed = sum(minutes.get(m, (0, 0))[1] for m in span)
            if total:
                rows.append((own[store_id], minute, 100.0 * failed / total))
            chain_total += total
            chain_failed += failed
        if chain_total:
            rows.append((chain, minute, 100.0 * chain_failed / chain_total))
    set_points(rows)
    return len(rows)


# --- staff reports and social posts ------------------------------------------------------


def on_problem_reported(*, report, **_payload) -> None:
    """``frontline.problem_reported``: the front line is a sensor."""
    builtin(STAFF_REPORTS)
    record_event(
        STAFF_REPORTS,
        report.created_at,
        store=getattr(report, "store", None),
        key=getattr(report, "reporter_key", None) or None,
        cause=getattr(report, "category", "") or "",
    )


def count_complaint(post: SocialPost, key: str) -> None:
    builtin(SOCIAL_COMPLAINTS)
    record_event(SOCIAL_COMPLAINTS, post.posted_at, store=post.store, key=key, cause="outage")


def derive_negative_share(until: datetime) -> int:
    signal = builtin(SOCIAL_NEGATIVE)
    since = _since(signal, until)
    window = timedelta(minutes=NEGATIVE_WINDOW)
    posts = list(
        SocialPost.objects.filter(
            about_brand=True,
            posted_at__gt=since - window,
            posted_at__lt=until + timedelta(minutes=1),
        ).values_list("posted_at", "sentiment")
    )
    if not posts:
        return 0
    rows = []
    for minute in _minutes(since, until):
        end = minute + timedelta(minutes=1)
        recent = [s for at, s in posts if end - window <= at < end]
        if recent:
            share = sum(1 for s in recent if s <= -0.05) / len(recent)
            rows.append((signal, minute, 100.0 * share))
    set_points(rows)
    return len(rows)


def derive_until(until: datetime) -> int:
    """Bring every derived gauge up to the minute ``until``."""
    return (
        derive_heartbeats(until)
        + derive_queue_depth(until)
        + derive_sale_failures(until)
        + derive_web_checkout_errors(until)
        + derive_negative_share(until)
    )
