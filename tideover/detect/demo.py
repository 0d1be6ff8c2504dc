"""Detect in the replayed outage: the signals alert, and the commander declares from the alert.

``attach(runner)`` (one line in the demo command) joins a scenario replay:

- before the first minute, the built-in signals get a week of ordinary history (coverage near
  100%, a complaint now and then, a few declined cards), so their baselines know a normal
  Saturday afternoon; and the rule "heartbeat coverage below 90% for 3 minutes" exists;
- each replayed minute, the scenario's social posts of that minute are ingested, heartbeat
  coverage is recorded (from storelink's heartbeats when it has them, else from which stores the
  scenario cut off), and the detectors run at the scenario's clock;
- the first alert sets the runner's ``alert_at`` (the incident's detected time), and once the
  commander has declared, the alert is linked to that incident, so the incident page shows what
  the detectors saw and the time to detect.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from tideover.detect import derived
from tideover.detect.actions import link_incident
from tideover.detect.detector import Detector
from tideover.detect.models import Alert, Rule, RuleComparison, Signal, SignalPoint
from tideover.detect.scoring import run_detection
from tideover.detect.signals import minute_of, set_point

HISTORY_DAYS = 8


def _history(slug: str, rng: random.Random):
    if slug == derived.HEARTBEATS:
        return lambda at: min(100.0, rng.gauss(99.5, 0.4))
    if slug == derived.SOCIAL_COMPLAINTS:
        return lambda at: float(rng.random() < 0.05)
    if slug == derived.SOCIAL_NEGATIVE:
        return lambda at: max(0.0, rng.gauss(15, 8))
    return lambda at: max(0.0, rng.gauss(1.5, 0.6))  # sale failure rate, %


def prepare(start: datetime, components=()) -> list[Signal]:
    """Give the built-in signals a week of ordinary minutes before ``start``."""
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


def _planned_coverage(runner, offset: timedelta) -> float:
    """Share of stores whose registers reach HQ at ``offset``, as the scenario plays it."""
    cut = set()
    for index, failure in enumerate(runner.scenario.failures):
        if failure.kind.value == "registers_lose_hq" and failure.at <= offset < failure.until:
            cut |= runner.affected[index]
    total = max(len(runner.stores), 1)
    return 100.0 * (total - len(cut)) / total


def attach(runner) -> None:
    """Run detection inside ``runner``'s replay, minute by minute (see the module docstring)."""
    from tideover.core.models import Component
    from tideover.detect import social
    from tideover.scenarios.social import make_posts

    start = runner.start
    components = list(
        Component.objects.filter(slug__in=[f.component for f in runner.scenario.failures])
    )
    prepare(start, components)
    total = int((runner.scenario.returns_after + timedelta(minutes=32)).total_seconds() // 60)
    posts = make_posts(runner.scenario, start, total)
    heard = derived._coverage_source()
    original_tick = runner.tick
    cursor = {"post": 0}

    def tick(label: str, done: int, total_minutes: int) -> None:
        at = start + timedelta(minutes=done)
        batch = []
        while cursor["post"] < len(posts) and posts[cursor["post"]].at < at + timedelta(minutes=1):
            post = posts[cursor["post"]]
            batch.append(
                {
                    "id": f"scenario-{start:%Y%m%d%H%M}-{cursor['post']}",
                    "text": post.text,
                    "handle": post.handle,
                    "posted_at": post.at,
                    "place": post.place,
                }
            )
            cursor["post"] += 1
        if batch:
            social.ingest_posts(batch)
        if heard is None or not heard(at, at + timedelta(minutes=1)):
            set_point(
                derived.builtin(derived.HEARTBEATS), at, _planned_coverage(runner, at - start)
            )
        run_detection(at)
        if runner.alert_at is None:
            first = Alert.objects.filter(paged=True, opened_at__gte=start).order_by("opened_at")
            alert = first.first()
            if alert is not None:
                runner.alert_at = alert.opened_at
        incident = runner.shift.incident
        if incident is not None:
            for alert in Alert.objects.filter(
                incident__isnull=True, paged=True, opened_at__gte=start
            ):
                link_incident(alert, incident)
        original_tick(label, done, total_minutes)

    runner.tick = tick


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
