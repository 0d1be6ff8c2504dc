"""Background jobs: the detectors run once a minute on the worker's scheduler."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tideover.detect.scoring import run_detection
from tideover.detect.signals import minute_of


def detect_now() -> dict:
    """Score every signal up to the last complete minute."""
    return run_detection(minute_of(timezone.now()) - timedelta(minutes=1))
