"""The streaming detector on constructed series: how fast it notices, how often it cries wolf."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from tideover.detect.detector import STATE_BYTES, Detector, Direction
from tideover.detect.tests.series import MONDAY, series, traffic

OUTAGE = MONDAY + timedelta(days=12, hours=14)  # the second Saturday, 14:00


def run(detector, points):
    return [(at, value, detector.step(at, value)) for at, value in points]


def first_alarm(results, since):
    return next((at for at, _, v in results if v.anomalous and at >= since), None)


def alarms_before(results, until, after=MONDAY + timedelta(days=1)):
    return [at for at, _, v in results if v.anomalous and after <= at < until]


def outage(start, minutes, factor):
    def change(at, value):
        return value * factor if start <= at < start + timedelta(minutes=minutes) else value

    return change


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seasonal_week_with_an_outage_is_caught_in_its_first_minutes_without_false_alarms(seed):
    results = run(
        Detector(direction=Direction.DOWN),
        series(13, seed=seed, change=outage(OUTAGE, 120, 0.3)),
    )
    assert alarms_before(results, OUTAGE) == []
    detected = first_alarm(results, OUTAGE)
    assert detected is not None and detected - OUTAGE <= timedelta(minutes=3)


def test_baseline_is_not_dragged_down_by_the_outage_it_is_in():
    results = run(Detector(direction=Direction.DOWN), series(13, change=outage(OUTAGE, 120, 0.3)))
    at_hour = {at: verdict for at, _, verdict in results}
    an_hour_in = OUTAGE + timedelta(minutes=60)
    # The values fell to 30% of normal; the baseline still expects most of normal.
    assert at_hour[an_hour_in].baseline > 0.7 * traffic(an_hour_in)
    assert at_hour[an_hour_in].low > 0.3 * traffic(an_hour_in) * 1.1


def test_a_step_down_is_caught_within_minutes():
    step = MONDAY + timedelta(days=4, hours=15)
    results = run(
        Detector(direction=Direction.DOWN),
        series(5, seed=4, change=lambda at, v: v * 0.4 if at >= step else v),
    )
    assert alarms_before(results, step) == []
    assert first_alarm(results, step) - step <= timedelta(minutes=3)


def test_a_single_spike_is_caught_in_its_minute():
    spike = MONDAY + timedelta(days=3, hours=10, minutes=17)
    results = run(
        Detector(direction=Direction.UP),
        series(4, seed=5, change=lambda at, v: v * 4 if at == spike else v),
    )
    assert alarms_before(results, spike) == []
    assert first_alarm(results, spike) == spike


def test_a_slow_drift_becomes_the_new_normal_without_alarms():
    def drift(at, value):
        days = (at - MONDAY).total_seconds() / 86400
        return value * (1 + 0.05 * days)  # +5% a day: growth, not an outage

    results = run(Detector(direction=Direction.BOTH), series(8, seed=6, change=drift))
    assert len(alarms_before(results, MONDAY + timedelta(days=8))) <= 2


def test_direction_up_ignores_a_fall_and_down_ignores_a_rise():
    drop = MONDAY + timedelta(days=3, hours=12)

    def change(at, value):
        return value * 0.2 if drop <= at < drop + timedelta(minutes=30) else value

    up = run(Detector(direction=Direction.UP), series(4, seed=7, change=change))
    down = run(Detector(direction=Direction.DOWN), series(4, seed=7, change=change))
    during = drop + timedelta(minutes=30)
    assert alarms_before(up, during, after=drop) == []
    assert alarms_before(down, during, after=drop) != []


def test_higher_sensitivity_fires_on_a_smaller_departure():
    dip = MONDAY + timedelta(days=3, hours=15)
    change = outage(dip, 20, 0.6)
    low = run(
        Detector(direction=Direction.DOWN, sensitivity="low"), series(4, seed=8, change=change)
    )
    high = run(
        Detector(direction=Direction.DOWN, sensitivity="high"), series(4, seed=8, change=change)
    )
    assert first_alarm(low, dip) is None
    assert first_alarm(high, dip) is not None


def test_an_episode_is_news_once_then_quiet():
    results = run(Detector(direction=Direction.DOWN), series(13, change=outage(OUTAGE, 120, 0.3)))
    onsets = [v.onset for at, _, v in results if OUTAGE <= at < OUTAGE + timedelta(minutes=60)]
    assert onsets[0] >= 0.4
    assert max(onsets[5:]) < onsets[0] * 0.5


def test_state_is_a_fixed_size_and_survives_a_round_trip():
    detector = Detector(direction=Direction.DOWN)
    points = list(series(3, seed=9))
    for at, value in points[:3000]:
        detector.step(at, value)
    blob = detector.dumps()
    assert len(blob) == STATE_BYTES < 3000
    copy = Detector.loads(blob, direction=Direction.DOWN)
    for at, value in points[3000:3100]:
        a, b = detector.step(at, value), copy.step(at, value)
        assert a.anomalous == b.anomalous
        assert a.score == pytest.approx(b.score, abs=0.02)
    assert len(copy.dumps()) == STATE_BYTES


def test_no_score_while_warming_up():
    detector = Detector()
    verdicts = [detector.step(at, value) for at, value in list(series(1))[:50]]
    assert all(v.score == 0.0 and not v.anomalous for v in verdicts)


def daily_wave(days: int, seed: int, change=None):
    """A five-minute machine metric with a clean daily rhythm and a little noise."""
    rng = random.Random(seed)
    for i in range(days * 288):
        value = 50 + 40 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 2)
        if change is not None:
            value = change(i, value, rng)
        yield MONDAY + timedelta(minutes=5 * i), value


def test_a_value_past_the_whole_range_seen_is_caught_in_its_point():
    spike = 6 * 288 + 100  # the value passes the highest ever seen by a quarter of the range
    points = list(daily_wave(8, seed=3, change=lambda i, v, _: 110 if i == spike else v))
    for sensitivity in ("normal", "high"):
        results = run(Detector(sensitivity=sensitivity), points)
        assert results[spike][2].anomalous, sensitivity


def test_a_stopped_rhythm_within_the_range_is_caught_at_high_sensitivity_only():
    stop = 6 * 288  # the wave stops at its middle value for 30 points

    def flat(i, value, rng):
        return 50 + rng.gauss(0, 2) if stop <= i < stop + 30 else value

    points = list(daily_wave(7, seed=3, change=flat))
    high = run(Detector(sensitivity="high"), points)
    normal = run(Detector(sensitivity="normal"), points)
    during = points[stop][0], points[stop + 30][0]
    assert first_alarm(high, during[0]) < during[1]
    assert alarms_before(normal, during[1], after=during[0]) == []


@pytest.mark.parametrize("direction", [Direction.UP, Direction.BOTH])
def test_a_huge_value_does_not_break_the_detector_for_good(direction):
    # 1e39 is a finite float64 but past float32's range: in a seasonal slot it became inf, and
    # inf - inf made the whole state NaN, so every normal minute after it was flagged.
    detector = Detector(direction=direction)
    detector.step(MONDAY - timedelta(minutes=1), 1e39)
    results = run(detector, series(3, seed=1))
    assert all(math.isfinite(x) for x in detector.state)
    assert all(math.isfinite(x) for x in detector.slots)
    assert not results[-1][2].anomalous


def test_a_huge_value_among_normal_ones_is_an_anomaly_not_a_new_normal():
    detector = Detector(direction=Direction.BOTH)
    run(detector, series(3, seed=1))
    at = MONDAY + timedelta(days=3)
    assert detector.step(at, 1e39).anomalous
    after = run(detector, series(1, seed=2, start=at + timedelta(minutes=1)))
    assert all(math.isfinite(x) for x in detector.state)
    assert len([1 for _, _, v in after if v.anomalous]) < 30


def test_a_state_saved_broken_starts_afresh_and_a_value_that_is_not_a_number_is_skipped():
    detector = Detector(direction=Direction.UP)
    run(detector, series(0.1, seed=1))
    detector.state[5] = math.nan  # as a state saved before huge values were clamped could be
    healed = Detector.loads(detector.dumps(), direction=Direction.UP)
    assert healed.seen == 0 and all(math.isfinite(x) for x in healed.state)
    before = healed.dumps()
    verdict = healed.step(MONDAY, math.nan)
    assert not verdict.anomalous and healed.dumps() == before


def test_a_step_that_overflows_starts_afresh_instead_of_keeping_inf():
    detector = Detector(direction=Direction.UP)
    run(detector, series(0.1, seed=1))
    detector.state[7] = -1e308  # the surprise history's mean: its squared distance is inf
    verdict = detector.step(MONDAY + timedelta(hours=3), 50.0)
    assert not verdict.anomalous and detector.seen == 0
    assert all(math.isfinite(x) for x in detector.state)
