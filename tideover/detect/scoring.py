"""Running the detectors: every new point of every signal, minute by minute, then the rules.

``run_detection(until)`` is what the worker's periodic job calls each minute (and the demo at
its own clock): derived signals are brought up to ``until``, each signal's detector steps over
its new points in time order (count signals get a zero for a quiet minute), the rules are
checked, and what fired goes to :mod:`tideover.detect.alerts`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import connection, transaction

from tideover.detect.detector import Detector
from tideover.detect.models import Rule, RuleComparison, Signal, SignalKind, SignalPoint
from tideover.detect.signals import minute_of

MAX_FILL = timedelta(hours=24)  # quiet minutes filled with zeros for a count signal, at most
LOCK_KEY = "tideover:detect:run"


@dataclass(frozen=True)
class Anomaly:
    signal: Signal
    point: SignalPoint


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    points: list[SignalPoint]


def _fill_quiet_minutes(signals: list[Signal], until: datetime) -> None:
    """A count signal with no event in a minute counted zero then: write those zeros."""
    counts = [s for s in signals if s.kind == SignalKind.COUNT and s.scored_until is not None]
    if not counts:
        return
    earliest = min(s.scored_until for s in counts)
    have = defaultdict(set)
    for signal_id, minute in SignalPoint.objects.filter(
        signal__in=counts, minute__gt=max(earliest, until - MAX_FILL), minute__lte=until
    ).values_list("signal_id", "minute"):
        have[signal_id].add(minute)
    zeros = []
    for signal in counts:
        minute = max(signal.scored_until, until - MAX_FILL) + timedelta(minutes=1)
        while minute <= until:
            if minute not in have[signal.pk]:
                zeros.append(SignalPoint(signal=signal, minute=minute, value=0.0))
            minute += timedelta(minutes=1)
    SignalPoint.objects.bulk_create(zeros, ignore_conflicts=True)


@transaction.atomic
def score_signals(until: datetime, signals: list[Signal] | None = None) -> list[Anomaly]:
    """Step every active signal's detector over its unscored points up to ``until``."""
    until = minute_of(until)
    if signals is None:
        signals = list(Signal.objects.filter(is_active=True))
    _fill_quiet_minutes(signals, until)
    by_id = {s.pk: s for s in signals}
    points = defaultdict(list)
    for point in SignalPoint.objects.filter(
        signal_id__in=list(by_id), score__isnull=True, minute__lte=until
    ).order_by("signal_id", "minute"):
        points[point.signal_id].append(point)
    anomalies, changed_points, changed_signals = [], [], []
    for signal_id, pending in points.items():
        signal = by_id[signal_id]
        detector = Detector.loads(
            signal.detector_state, direction=signal.direction, sensitivity=signal.sensitivity
        )
        for point in pending:
            if signal.scored_until is not None and point.minute <= signal.scored_until:
                point.score = 0.0  # arrived after its minute was scored: kept, not learned
            else:
                verdict = detector.step(point.minute, point.value)
                point.score = verdict.score
                point.baseline, point.low, point.high = verdict.baseline, verdict.low, verdict.high
                point.anomalous = verdict.anomalous
                signal.scored_until = point.minute
                if verdict.anomalous:
                    anomalies.append(Anomaly(signal, point))
            changed_points.append(point)
        signal.detector_state = detector.dumps()
        changed_signals.append(signal)
    _write_back(changed_points, changed_signals)
    return anomalies


def _write_back(points: list[SignalPoint], signals: list[Signal]) -> None:
    """One prepared UPDATE per row, sent with executemany: Django's bulk_update builds a CASE
    per column over the whole batch, which at 10,000 rows costs more than the scoring itself."""
    point_table = connection.ops.quote_name(SignalPoint._meta.db_table)
    signal_table = connection.ops.quote_name(Signal._meta.db_table)
    when = Signal._meta.get_field("scored_until")
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {point_table} SET score = %s, baseline = %s, low = %s, high = %s, "  # noqa: S608
            "anomalous = %s WHERE id = %s",
            [(p.score, p.baseline, p.low, p.high, p.anomalous, p.pk) for p in points],
        )
        cursor.executemany(
            f"UPDATE {signal_table} SET detector_state = %s, scored_until = %s WHERE id = %s",  # noqa: S608
            [
                (s.detector_state, when.get_db_prep_value(s.scored_until, connection), s.pk)
                for s in signals
            ],
        )


def check_rules(until: datetime) -> list[RuleHit]:
    """Rules whose signal stayed past the threshold for the rule's minutes up to ``until``."""
    until = minute_of(until)
    hits = []
    for rule in Rule.objects.filter(is_active=True, signal__is_active=True).select_related(
        "signal"
    ):
        since = until - timedelta(minutes=rule.minutes - 1)
        points = list(
            SignalPoint.objects.filter(
                signal=rule.signal, minute__gte=since, minute__lte=until
            ).order_by("minute")
        )
        if len(points) < rule.minutes:
            continue
        if rule.comparison == RuleComparison.BELOW:
            fired = all(p.value < rule.threshold for p in points)
        else:
            fired = all(p.value > rule.threshold for p in points)
        if fired:
            hits.append(RuleHit(rule, points))
    return hits


def run_detection(until: datetime) -> dict:
    """Derive, score, check rules and raise alerts up to the minute ``until``; one run at a
    time across workers (a cache lock in the shared cache)."""
    from tideover.detect import alerts, derived

    if not cache.add(LOCK_KEY, "1", timeout=300):
        return {"skipped": True}
    try:
        until = minute_of(until)
        derived.derive_until(until)
        anomalies = score_signals(until)
        hits = check_rules(until)
        raised = alerts.process(anomalies, hits, at=until)
        return {"anomalies": len(anomalies), "rules": len(hits), "alerts": raised}
    finally:
        cache.delete(LOCK_KEY)
