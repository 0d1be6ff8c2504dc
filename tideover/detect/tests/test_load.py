"""tideover detect load: points, events and posts from CSV or JSON lines; bad lines named."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tideover.detect.loading import load_file
from tideover.detect.models import SignalKind, SignalPoint, SocialPost


def load(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("detect", "load", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_points_load_and_a_second_load_is_all_duplicates(tmp_path, make_signal):
    make_signal("web-errors")
    path = tmp_path / "points.csv"
    path.write_text(
        "signal,minute,value\n"
        "web-errors,2026-06-06T14:00:00Z,1.5\n"
        "web-errors,2026-06-06T14:01:00Z,2.5\n"
        "web-errors,2026-06-06T14:02:00Z,lots\n"
    )
    out, err = load(path)
    assert "2 recorded" in out and "1 rejected" in out
    assert "line 4: value must be a number" in err
    out, _ = load(path)
    assert "2 duplicate" in out
    assert SignalPoint.objects.count() == 2


def test_json_lines_with_a_fixed_signal_and_events(tmp_path, make_signal, chain):
    make_signal("web-errors")
    make_signal("reports", kind=SignalKind.COUNT, direction="up")
    points = tmp_path / "points.jsonl"
    points.write_text(
        "\n".join(json.dumps({"minute": f"2026-06-06T14:0{i}:00Z", "value": i}) for i in range(3))
    )
    out, _ = load(points, "--signal", "web-errors")
    assert "3 recorded" in out
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps({"signal": "reports", "at": "2026-06-06T14:00:05Z", "store": "S001", "key": "a"})
        + "\n{not json\n"
    )
    out, err = load(events)
    assert "1 events" in out and "line 2: not JSON" in err


def test_posts_file_loads_social_posts(tmp_path, db):
    path = tmp_path / "posts.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "p1",
                "text": "registers down at tideover",
                "handle": "@a",
                "posted_at": "2026-06-06T14:00:00Z",
            }
        )
    )
    out, _ = load(path, "--posts")
    assert "1 posts ingested" in out
    assert SocialPost.objects.get().complaint


def test_a_file_with_no_good_line_fails_with_the_reasons(tmp_path, db):
    path = tmp_path / "bad.csv"
    path.write_text("signal,minute,value\nghost,2026-06-06T14:00:00Z,1\n")
    with pytest.raises(CommandError, match="No line could be loaded"):
        load(path)


def _minute(k):
    start = timezone.now() - timedelta(hours=2) + timedelta(minutes=k)
    return start.replace(second=0, microsecond=0)


def test_a_minute_that_cannot_be_stored_is_a_bad_line(tmp_path, make_signal):
    make_signal("coverage")
    path = tmp_path / "points.csv"
    path.write_text(
        "signal,minute,value\n"
        f"coverage,{_minute(0).isoformat()},99\n"
        "coverage,0001-01-01T00:00:00+01:00,1\n"
        f"coverage,{_minute(1).isoformat()},98\n"
    )
    report = load_file(path)
    assert SignalPoint.objects.count() == 2
    assert report.errors[0].startswith("line 3")


def test_a_json_line_that_is_not_an_object_is_a_bad_line(tmp_path, make_signal):
    make_signal("coverage")
    path = tmp_path / "points.jsonl"
    line = {"signal": "coverage", "value": 99}
    path.write_text(
        json.dumps({**line, "minute": _minute(0).isoformat()})
        + "\n5\n"
        + json.dumps({**line, "minute": _minute(1).isoformat()})
        + "\n"
    )
    report = load_file(path)
    assert SignalPoint.objects.count() == 2
    assert report.errors[0].startswith("line 2") and "not a JSON object" in report.errors[0]
