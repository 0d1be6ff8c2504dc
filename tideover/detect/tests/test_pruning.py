"""Nothing grows forever: the hourly prune-detect job deletes Detect's old per-minute rows and
keeps what an alert's charts and the derived gauges still read."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tideover.core import periodic
from tideover.detect import pruning
from tideover.detect.models import (
    Alert,
    CheckoutTally,
    DismissedPattern,
    SaleTally,
    SignalPoint,
    SignalReport,
    SocialPost,
)


def _points(signal, start, n):
    SignalPoint.objects.bulk_create(
        [
            SignalPoint(signal=signal, minute=start + timedelta(minutes=i), value=1.0, score=0.0)
            for i in range(n)
        ]
    )


def test_the_periodic_job_removes_old_detect_rows(make_signal, chain):
    signal = make_signal("coverage")
    long_ago = timezone.now() - timedelta(days=800)
    _points(signal, long_ago, 100)
    _points(signal, timezone.now() - timedelta(minutes=100), 100)
    SignalReport.objects.create(signal=signal, at=long_ago, key="x" * 32, dedupe="d" * 64)
    CheckoutTally.objects.create(source="web-1", minute=long_ago, total=10, failed=1)
    SaleTally.objects.create(store=chain["stores"]["S001"], minute=long_ago, total=3, failed=1)
    SocialPost.objects.create(external_id="1", text="down", posted_at=long_ago, complaint=True)
    SocialPost.objects.create(external_id="2", text="fine", posted_at=long_ago)
    DismissedPattern.objects.create(cause="c", reason="r", expires_at=long_ago)
    job = next(j for j in periodic.jobs() if j.name == "prune-detect")
    assert job.every_seconds == 3600
    job.function()
    assert SignalPoint.objects.count() == 100  # the recent ones
    for model in (SignalReport, CheckoutTally, SaleTally, SocialPost, DismissedPattern):
        assert not model.objects.exists(), model


def test_zero_days_keeps_everything(make_signal, settings):
    settings.PRUNE_SIGNALS_DAYS = 0
    _points(make_signal("coverage"), timezone.now() - timedelta(days=800), 10)
    pruning.prune_signals()
    assert SignalPoint.objects.count() == 10


def test_the_points_an_alerts_charts_show_are_kept(make_signal):
    signal, other = make_signal("coverage"), make_signal("latency")
    started = (timezone.now() - timedelta(days=200)).replace(second=0, microsecond=0)
    _points(signal, started - timedelta(hours=3), 8 * 60)
    _points(other, started - timedelta(hours=3), 8 * 60)
    alert = Alert.objects.create(
        title="Coverage down", cause="c", started_at=started, last_seen_at=started,
        closed_at=started + timedelta(minutes=30),
    )  # fmt: skip
    alert.signals.set([signal])
    pruning.prune_signals(days=90)
    kept = signal.points.order_by("minute").values_list("minute", flat=True)
    assert kept.first() == started - timedelta(hours=1)
    assert kept.last() == started + timedelta(minutes=30) + timedelta(hours=2)
    assert not other.points.exists()


def test_a_retention_under_two_days_keeps_what_derived_gauges_still_read(chain, settings):
    settings.PRUNE_SIGNALS_DAYS = 1
    minute = (timezone.now() - timedelta(hours=30)).replace(second=0, microsecond=0)
    SaleTally.objects.create(store=chain["stores"]["S001"], minute=minute, total=3, failed=1)
    pruning.prune_signals()
    assert SaleTally.objects.count() == 1


def test_a_dismissed_pattern_stays_until_it_expires(db):
    DismissedPattern.objects.create(
        cause="c", reason="r", expires_at=timezone.now() + timedelta(days=3)
    )
    pruning.prune_signals()
    assert DismissedPattern.objects.count() == 1


def test_scoring_and_pruning_find_reports_by_index_not_by_reading_every_report(make_signal):
    """A count signal keeps 90 days of reports; reading one minute's reporters (scoring), or the
    reports to prune, must not read them all: the statements the two really run on the reports
    table are planned on an index."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from tideover.detect import scoring
    from tideover.detect.detector import Detector, Verdict

    signal = make_signal("store-reports", kind="count")
    minute = timezone.now().replace(second=0, microsecond=0)
    SignalReport.objects.create(
        signal=signal, at=minute - timedelta(days=200), key="k", dedupe="old-report"
    )
    verdict = Verdict(1.0, 1.0, True, 0.0, 0.0, 0.0, 1.0)
    with CaptureQueriesContext(connection) as seen:
        scoring._enough_people(signal.pk, minute, verdict, Detector(min_count=3))
        pruning.prune_signals(now=minute)
    reads = [
        q["sql"]
        for q in seen.captured_queries
        if q["sql"].startswith("SELECT") and "detect_signalreport" in q["sql"]
    ]
    assert len(reads) >= 2, seen.captured_queries
    for sql in reads:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute("EXPLAIN " + sql)
            else:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plan = " ".join(str(row) for row in cursor.fetchall())
        assert "detect_report_" in plan, (sql, plan)
