from __future__ import annotations

from datetime import timedelta

import pytest

from tideover.detect.detector import Detector
from tideover.detect.models import Direction, Signal
from tideover.detect.tests.series import MONDAY, series


def train(signal: Signal, days: float = 3 + 14 / 24, *, seed: int = 1, shape=None, start=MONDAY):
    """Give ``signal`` a detector that has seen ``days`` of normal minutes; return the next
    minute (by default a Thursday, 14:00). (Stepping the detector directly is what scoring does, without 4,000 rows.)"""
    detector = Detector(direction=signal.direction, sensitivity=signal.sensitivity)
    kwargs = {"shape": shape} if shape else {}
    last = None
    for at, value in series(days, seed=seed, start=start, **kwargs):
        detector.step(at, value)
        last = at
    signal.detector_state = detector.dumps()
    signal.scored_until = last
    signal.save(update_fields=["detector_state", "scored_until"])
    return last + timedelta(minutes=1)


@pytest.fixture
def make_signal(db):
    def make(slug: str, **fields) -> Signal:
        fields.setdefault("name", slug.replace("-", " ").capitalize())
        fields.setdefault("direction", Direction.DOWN)
        components = fields.pop("components", ())
        signal = Signal.objects.create(slug=slug, **fields)
        if components:
            signal.components.set(components)
        return signal

    return make
