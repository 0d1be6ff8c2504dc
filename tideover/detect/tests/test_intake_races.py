"""The same point, checkout report or event sent twice at once: the second is a duplicate (or
a conflict), never a 500. The SQLite tests make the other request commit in the window between
the read and the insert; the PostgreSQL ones race real threads on their own connections."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from django.utils import timezone

from tideover.detect import services
from tideover.detect.checkouts import CheckoutReport, record_checkouts
from tideover.detect.models import CheckoutTally, SignalKind, SignalPoint, SignalReport


@pytest.fixture
def writer(api_token):
    return api_token("signals:write")


def _post(url, body, headers):
    return Client(raise_request_exception=False).post(
        url, json.dumps(body), content_type="application/json", **headers
    )


def _minute(ago: int = 5):
    return (timezone.now() - timedelta(minutes=ago)).replace(second=0, microsecond=0)


def _commit_in_the_window(monkeypatch, model, fields, make):
    """Run ``make`` (the other request's insert) right after the first read of ``fields``."""
    original, raced = QuerySet.values_list, []

    def values_list(self, *names, **kwargs):
        rows = original(self, *names, **kwargs)
        if self.model is model and names == fields and not raced:
            rows = list(rows)
            raced.append(1)
            make()
        return rows

    monkeypatch.setattr(QuerySet, "values_list", values_list)


def test_concurrent_identical_points_answer_duplicate_not_500(writer, make_signal, monkeypatch):
    signal = make_signal("latency")
    minute = _minute()
    _commit_in_the_window(
        monkeypatch,
        SignalPoint,
        ("signal_id", "minute", "value"),
        lambda: SignalPoint.objects.create(signal=signal, minute=minute, value=5.0),
    )
    body = {"minute": minute.isoformat(), "value": 5.0}
    answer = _post("/api/v1/signals/latency/points", body, writer)
    assert answer.status_code == 200, answer.status_code
    assert answer.json()["result"] == "duplicate"


def test_a_batch_racing_another_answers_each_point_against_what_is_stored(make_signal, monkeypatch):
    signal = make_signal("latency")
    first, second, third = _minute(7), _minute(6), _minute(5)

    def other_request():
        SignalPoint.objects.create(signal=signal, minute=first, value=1.0)
        SignalPoint.objects.create(signal=signal, minute=second, value=9.0)

    _commit_in_the_window(monkeypatch, SignalPoint, ("signal_id", "minute", "value"), other_request)
    items = [("latency", first, 1.0), ("latency", second, 2.0), ("latency", third, 3.0)]
    results = services.record_points(items)
    assert [r.result for r in results] == ["duplicate", "conflict", "recorded"]
    assert "9" in results[1].reason
    assert sorted(signal.points.values_list("value", flat=True)) == [1.0, 3.0, 9.0]


def test_concurrent_identical_checkout_reports_answer_duplicate_not_500(writer, monkeypatch):
    minute = _minute()
    _commit_in_the_window(
        monkeypatch,
        CheckoutTally,
        ("source", "minute", "total", "failed"),
        lambda: CheckoutTally.objects.create(source="web-1", minute=minute, total=120, failed=7),
    )
    report = {"minute": minute.isoformat(), "checkouts": 120, "errors": 7, "source": "web-1"}
    answer = _post("/api/v1/web-checkouts", {"reports": [report]}, writer)
    assert answer.status_code == 200, answer.status_code
    assert answer.json()["results"][0]["result"] == "duplicate"
    assert CheckoutTally.objects.count() == 1


def _race(count, send):
    """Run ``send(i)`` in ``count`` threads released together; returns what each returned."""
    start = threading.Barrier(count)
    outcomes = []

    def run(i):
        try:
            start.wait()
            outcomes.append(send(i))
        except Exception as error:  # noqa: BLE001 - the test reports it
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_points_sent_at_once_are_one_recorded_and_the_rest_duplicates(make_signal):
    make_signal("latency")
    minute = _minute()
    outcomes = _race(6, lambda i: services.record_points([("latency", minute, 5.0)])[0].result)
    assert sorted(outcomes) == ["duplicate"] * 5 + ["recorded"], outcomes
    assert SignalPoint.objects.count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_checkout_reports_sent_at_once_are_one_recorded_and_the_rest_duplicates():
    report = CheckoutReport(minute=_minute(), checkouts=120, errors=7, source="web-1")
    outcomes = _race(6, lambda i: record_checkouts([report])[0].result)
    assert sorted(outcomes) == ["duplicate"] * 5 + ["recorded"], outcomes
    assert CheckoutTally.objects.count() == 1


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_one_persons_report_sent_at_once_counts_once(make_signal):
    signal = make_signal("complaints", kind=SignalKind.COUNT, direction="up")
    at = timezone.now() - timedelta(minutes=2)
    outcomes = _race(6, lambda i: services.record_event("complaints", at, key="person-1"))
    assert sorted(outcomes) == [False] * 5 + [True], outcomes
    assert SignalReport.objects.count() == 1
    assert list(signal.points.values_list("value", flat=True)) == [1.0]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_different_peoples_reports_sent_at_once_all_count_in_one_minute(make_signal):
    signal = make_signal("complaints", kind=SignalKind.COUNT, direction="up")
    at = timezone.now() - timedelta(minutes=2)
    outcomes = _race(6, lambda i: services.record_event("complaints", at, key=f"person-{i}"))
    assert outcomes == [True] * 6, outcomes
    assert list(signal.points.values_list("value", flat=True)) == [6.0]
