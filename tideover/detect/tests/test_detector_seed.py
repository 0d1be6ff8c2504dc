"""One absurd point at a signal's start (a sensor glitch, a unit error) does not poison the
detector's warm-up: the alerts that follow are the ones the normal values alone would give."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from tideover.detect.detector import Detector
from tideover.detect.tests.series import MONDAY


def _normal(n, seed=1):
    rng = random.Random(seed)
    return [50 + rng.gauss(0, 2) for _ in range(n)]


def _alarms(values):
    detector = Detector(sensitivity="high")
    verdicts = [detector.step(MONDAY + timedelta(minutes=i), v) for i, v in enumerate(values)]
    return detector, [i for i, v in enumerate(verdicts) if v.anomalous]


@pytest.mark.parametrize("glitch_at", [0, 1])
def test_an_absurd_point_at_the_start_does_not_poison_the_warm_up(glitch_at):
    normal = _normal(4 * 1440)
    _, clean = _alarms(normal)
    values = list(normal)
    values[glitch_at] = 1e12
    detector, alarms = _alarms(values)
    # Before: the glitch stayed in hour 0's seasonal slot and flagged minute after minute from
    # the third day on, and the range it set hid every new extreme.
    assert [i for i in alarms if i > glitch_at] == [i for i in clean if i > glitch_at]
    tail = detector.step(MONDAY + timedelta(minutes=len(values)), 5000.0)
    assert tail.anomalous
    assert tail.baseline == pytest.approx(50, abs=5)


def test_a_signal_that_starts_at_zero_still_warms_up():
    rng = random.Random(2)
    values = [0.0, 0.0, 3.0, 0.0] + [float(rng.randint(0, 6)) for _ in range(1440)]
    detector, _ = _alarms(values)
    assert detector.seen == len(values)
    assert detector.step(MONDAY + timedelta(minutes=len(values)), 400.0).anomalous
