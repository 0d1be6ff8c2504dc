"""Count signals (reports, complaints): a handful of people, not one, make an anomaly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tideover.core import events
from tideover.detect import services
from tideover.detect.detector import Detector
from tideover.detect.models import Alert, Direction, SignalKind, SignalPoint
from tideover.detect.scoring import COUNT_FLOOR, run_detection
from tideover.detect.tests.series import MONDAY


def quiet_history(signal, days=7):
    """A week of minutes with no report at all (the zeros scoring writes), as a detector."""
    detector = Detector(direction=signal.direction, sensitivity=signal.sensitivity)
    at = MONDAY
    for _ in range(days * 1440):
        detector.step(at, 0.0)
        at += timedelta(minutes=1)
    signal.detector_state = detector.dumps()
    signal.scored_until = at - timedelta(minutes=1)
    signal.save(update_fields=["detector_state", "scored_until"])
    return at


@pytest.fixture
def staff_reports(make_signal):
    signal = make_signal(
        "staff-reports", kind=SignalKind.COUNT, direction=Direction.UP, family="staff-reports"
    )
    start = quiet_history(signal)
    opened = []

    def listener(**payload):
        opened.append(payload)

    events.subscribe("detect.alert_opened", listener)
    yield signal, start, opened
    events._handlers["detect.alert_opened"].remove(listener)


def test_a_single_report_from_one_person_does_not_page_everyone(staff_reports):
    # After a quiet week of zeros a lone 1 scored 1.0 and opened a chain-wide alert.
    signal, start, opened = staff_reports
    at = start + timedelta(minutes=5, seconds=3)
    services.record_event("staff-reports", at, key="associate-17", cause="registers")
    run_detection(start + timedelta(minutes=10))
    assert not Alert.objects.exists(), [(a.title, a.score) for a in Alert.objects.all()]
    assert opened == []
    point = SignalPoint.objects.get(signal=signal, value=1.0)
    assert not point.anomalous and point.score < 0.4


def test_one_person_reporting_several_causes_at_once_is_still_one_person(staff_reports):
    _, start, opened = staff_reports
    at = start + timedelta(minutes=5, seconds=3)
    for cause in ("registers", "card-terminal", "wifi", "scales"):
        services.record_event("staff-reports", at, key="associate-17", cause=cause)
    run_detection(start + timedelta(minutes=10))
    assert not Alert.objects.exists() and opened == []


def test_a_burst_of_reports_from_several_people_does_alert(staff_reports):
    signal, start, opened = staff_reports
    at = start + timedelta(minutes=5, seconds=3)
    for person in range(COUNT_FLOOR):
        services.record_event("staff-reports", at, key=f"associate-{person}", cause="registers")
    run_detection(start + timedelta(minutes=10))
    alert = Alert.objects.get()
    assert list(alert.signals.all()) == [signal] and len(opened) == 1
