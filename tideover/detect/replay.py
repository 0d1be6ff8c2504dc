"""Detect before and after a replayed outage (every scenario replay, the demo's included, goes
through ``tideover.scenarios.detection``, which calls :func:`warm_up`).

Before the first minute, :func:`warm_up` gives the built-in signals a week of ordinary history
(coverage near 100%, a complaint now and then, a few declined cards), so their baselines know a
normal afternoon, and makes sure the rule "heartbeat coverage below 90% for 3 minutes" exists.
The replay then feeds each minute and the commander declares from the first alert;
:func:`summary` says what was seen.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tideover.detect import derived
from tideover.detect.detector import Detector
from tideover.detect.models import Alert, Rule, RuleComparison, Signal, SignalPoint
from tideover.detect.signals import minute_of

HISTORY_DAYS = 8


def _history(slug: str, rng: random.Random):
    if slug == derived.HEARTBEATS:
        return lambda at: min(100.0, rng.gauss(99.5, 0.4))
    if slug == derived.SOCIAL_COMPLAINTS:
        return lambda at: float(rng.random() < 0.05)
    if slug == derived.SOCIAL_NEGATIVE:
        return lambda at: max(0.0, rng.gauss(15, 8))
    if slug == derived.QUEUE_DEPTH:
        return lambda at: float(max(0, round(rng.gauss(0, 2))))  # sales, mostly none
    if slug == derived.WEB_CHECKOUT_ERRORS:
        return lambda at: max(0.0, rng.gauss(1.0, 0.5))  # %
    return lambda at: max(0.0, rng.gauss(1.5, 0.6))  # sale failure rate, %


def warm_up(start: datetime, components=()) -> list[Signal]:
    """Give the built-in signals a week of ordinary minutes before ``start``, and the coverage
    rule."""
    start = minute_of(start)
    rng = random.Random(7)
    signals = []
    for slug in derived.SPECS:
        signal = derived.builtin(slug)
        if components and not signal.components.exists():
            signal.components.set(components)
        if signal.scored_until is not None and signal.scored_until >= start - timedelta(minutes=1):
            signals.append(signal)
            continue
        detector = Detector(direction=signal.direction, sensitivity=signal.sensitivity)
        value = _history(slug, rng)
        at = start - timedelta(days=HISTORY_DAYS)
        while at < start:
            detector.step(at, value(at))
            at += timedelta(minutes=1)
        signal.detector_state = detector.dumps()
        signal.scored_until = start - timedelta(minutes=1)
        signal.save(update_fields=["detector_state", "scored_until"])
        signals.append(signal)
    coverage = derived.builtin(derived.HEARTBEATS)
    Rule.objects.get_or_create(
        name="Heartbeat coverage below 90% for 3 minutes",
        defaults={
            "signal": coverage,
            "comparison": RuleComparison.BELOW,
            "threshold": 90.0,
            "minutes": 3,
        },
    )
    return signals


def summary() -> str:
    """One line for the demo's output: when the alert came, from which signals."""
    alert = Alert.objects.filter(paged=True).order_by("opened_at").first()
    if alert is None:
        return "Detect: no alert was raised"
    names = ", ".join(s.name for s in alert.signals.all())
    points = SignalPoint.objects.filter(anomalous=True).count()
    return (
        f"Detect: alert '{alert.title}' {alert.opened_at - alert.started_at} after the first "
        f"unusual minute, from {names} ({points} unusual minutes in all)"
    )
