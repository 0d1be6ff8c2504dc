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


def _assert_unpoisoned(detector, alarms, clean, last_odd, length):
    # Before: the glitch stayed in hour 0's seasonal slot and flagged minute after minute from
    # the third day on, and the range it set hid every new extreme.
    assert [i for i in alarms if i > last_odd] == [i for i in clean if i > last_odd]
    assert detector.state[2] == pytest.approx(50, abs=5)  # the level
    tail = detector.step(MONDAY + timedelta(minutes=length), 5000.0)
    assert tail.anomalous
    assert tail.baseline == pytest.approx(50, abs=5)


@pytest.mark.parametrize("glitch_at", [0, 1, 2, 3, 4, 5])
def test_an_absurd_point_at_the_start_does_not_poison_the_warm_up(glitch_at):
    normal = _normal(4 * 1440)
    _, clean = _alarms(normal)
    values = list(normal)
    values[glitch_at] = 1e12
    detector, alarms = _alarms(values)
    _assert_unpoisoned(detector, alarms, clean, glitch_at, len(values))


@pytest.mark.parametrize("zeros", [1, 3])
def test_an_absurd_first_point_then_zeros_does_not_poison_the_warm_up(zeros):
    # A counter's start: a glitch, then zeros (never wild themselves), then the normal values.
    normal = _normal(4 * 1440)
    _, clean = _alarms(normal)
    values = [1e12] + [0.0] * zeros + normal[1 + zeros :]
    detector, alarms = _alarms(values)
    _assert_unpoisoned(detector, alarms, clean, zeros, len(values))


def test_a_real_level_change_at_the_start_is_learned():
    # 50 once, then 5,000 from the second point on: the new level is kept, not thrown away.
    values = [50.0] + [5000 + v - 50 for v in _normal(1440)]
    detector, _ = _alarms(values)
    assert detector.state[2] == pytest.approx(5000, rel=0.01)


def test_a_signal_that_starts_at_zero_still_warms_up():
    rng = random.Random(2)
    values = [0.0, 0.0, 3.0, 0.0] + [float(rng.randint(0, 6)) for _ in range(1440)]
    detector, _ = _alarms(values)
    assert detector.seen == len(values)
    assert detector.step(MONDAY + timedelta(minutes=len(values)), 400.0).anomalous
