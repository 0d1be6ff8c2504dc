"""Counting events: anonymous ones, and the per-store series of a family."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from tideover.detect.loading import load_file
from tideover.detect.models import SignalKind
from tideover.detect.signals import _dedupe_key


def test_the_dedupe_key_of_an_anonymous_event_is_unique(make_signal):
    signal = make_signal("complaints", kind=SignalKind.COUNT, direction="up")
    at = timezone.now().replace(microsecond=0)
    assert len({_dedupe_key(signal, at, None, None, "") for _ in range(3)}) == 3


def test_a_file_of_anonymous_events_counts_every_line(tmp_path, make_signal):
    signal = make_signal("complaints", kind=SignalKind.COUNT, direction="up")
    at = (timezone.now() - timedelta(minutes=3)).replace(microsecond=0).isoformat()
    path = tmp_path / "reports.jsonl"
    line = json.dumps({"signal": "complaints", "at": at}) + "\n"
    path.write_text(line * 50)
    report = load_file(path)
    assert report.errors == []
    assert sum(signal.points.values_list("value", flat=True)) == 50.0
