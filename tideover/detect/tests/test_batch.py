"""The service path is a batch: recording and scoring a minute of many signals costs the same
number of statements as a minute of a few, and scores what a point-by-point run would."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tideover.detect.detector import Detector
from tideover.detect.models import Signal, SignalPoint
from tideover.detect.scoring import score_signals
from tideover.detect.signals import record_points
from tideover.detect.tests.conftest import train
from tideover.detect.tests.series import traffic


def _signals(make_signal, n: int, first: int = 0, days: float = 1) -> tuple[list, object]:
    made, start = [], None
    for i in range(first, first + n):
        signal = make_signal(f"s-{i:03d}")
        start = train(signal, days=days, seed=i)
        made.append(signal)
    return made, start


def _minute(signals, at, factor=1.0):
    with CaptureQueriesContext(connection) as recorded:
        results = record_points([(s.slug, at, traffic(at) * factor) for s in signals])
    with CaptureQueriesContext(connection) as scored:
        score_signals(at)
    assert {r.result for r in results} == {"recorded"}
    return len(recorded), len(scored)


def test_a_minute_of_many_signals_takes_as_many_statements_as_a_minute_of_few(make_signal):
    few, start = _signals(make_signal, 2)
    few_counts = _minute(few, start)
    many, _ = _signals(make_signal, 40, first=2)
    many_counts = _minute(few + many, start + timedelta(minutes=1))
    assert many_counts == few_counts


def test_batch_scoring_gives_what_stepping_each_detector_gives(make_signal):
    signals, start = _signals(make_signal, 3, days=3 + 14 / 24)
    expected = {}
    for signal in signals:
        detector = Detector.loads(signal.detector_state, direction=signal.direction)
        for k in range(3):
            at = start + timedelta(minutes=k)
            expected[(signal.slug, at)] = detector.step(at, traffic(at) * (0.2 if k else 1))
        expected[signal.slug] = detector.dumps()
    for k in range(3):
        at = start + timedelta(minutes=k)
        record_points([(s.slug, at, traffic(at) * (0.2 if k else 1)) for s in signals])
    anomalies = score_signals(start + timedelta(minutes=2))
    for point in SignalPoint.objects.select_related("signal"):
        verdict = expected[(point.signal.slug, point.minute)]
        assert (point.score, point.baseline, point.anomalous) == (
            verdict.score,
            verdict.baseline,
            verdict.anomalous,
        )
    for signal in Signal.objects.all():
        assert bytes(signal.detector_state) == expected[signal.slug]
        assert signal.scored_until == start + timedelta(minutes=2)
    fired = {(a.signal.slug, a.point.minute) for a in anomalies}
    assert fired == {key for key, v in expected.items() if isinstance(key, tuple) and v.anomalous}
    assert fired  # a drop to a fifth of normal fires
