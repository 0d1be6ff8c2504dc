"""Pushing points and events: idempotent by signal and minute, each item its own answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tideover.core.errors import DomainError
from tideover.detect import services
from tideover.detect.models import Signal, SignalKind, SignalPoint, SignalReport

MINUTE = datetime(2026, 6, 1, 14, 0, tzinfo=UTC)


def post(client, url, body, headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def writer(api_token):
    return api_token("signals:write")


def test_a_token_creates_a_signal_and_pushes_a_point(client, writer, components):
    created = post(
        client,
        "/api/v1/signals",
        {
            "slug": "web-checkout-errors",
            "name": "Web checkout error rate",
            "unit": "%",
            "direction": "up",
            "components": ["online-checkout"],
        },
        writer,
    )
    assert created.status_code == 201, created.content
    assert created.json()["components"] == ["online-checkout"]
    answer = post(
        client,
        "/api/v1/signals/web-checkout-errors/points",
        {"minute": "2026-06-01T14:00:37Z", "value": 2.5},
        writer,
    )
    assert answer.status_code == 200
    assert answer.json()["result"] == "recorded"
    point = SignalPoint.objects.get()
    assert point.minute == MINUTE and point.value == 2.5


def test_batch_answers_each_point_and_is_idempotent_by_signal_and_minute(
    client, writer, make_signal
):
    make_signal("coverage")
    body = {
        "points": [
            {"signal": "coverage", "minute": "2026-06-01T14:00:00Z", "value": 99},
            {"signal": "coverage", "minute": "2026-06-01T14:01:00Z", "value": 98},
            {"signal": "nope", "minute": "2026-06-01T14:01:00Z", "value": 1},
        ]
    }
    first = post(client, "/api/v1/signals/points:batch", body, writer).json()
    assert [r["result"] for r in first["results"]] == ["recorded", "recorded", "rejected"]
    assert "no signal 'nope'" in first["results"][2]["reason"]
    body["points"][1]["value"] = 50
    again = post(client, "/api/v1/signals/points:batch", body, writer).json()
    assert (again["recorded"], again["duplicate"], again["conflict"]) == (0, 1, 1)
    assert "first value stays" in again["results"][1]["reason"]
    assert SignalPoint.objects.get(minute=MINUTE + timedelta(minutes=1)).value == 98


def test_a_point_in_the_future_or_not_a_number_is_refused_with_the_reason(
    client, writer, make_signal
):
    make_signal("coverage")
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    answer = post(client, "/api/v1/signals/coverage/points", {"minute": later, "value": 1}, writer)
    assert answer.status_code == 400
    assert "future" in answer.json()["detail"]
    answer = post(
        client,
        "/api/v1/signals/coverage/points",
        {"minute": "2026-06-01T14:00:00Z", "value": "lots"},
        writer,
    )
    assert answer.status_code == 422
    assert not SignalPoint.objects.exists()


def test_pushing_needs_the_signals_scope(client, api_token, make_signal):
    make_signal("coverage")
    answer = post(
        client,
        "/api/v1/signals/coverage/points",
        {"minute": "2026-06-01T14:00:00Z", "value": 1},
        api_token("sales:write"),
    )
    assert answer.status_code == 403
    assert "signals:write" in answer.json()["detail"]


def test_unknown_signal_is_404_naming_it(client, writer):
    answer = post(
        client,
        "/api/v1/signals/ghost/points",
        {"minute": "2026-06-01T14:00:00Z", "value": 1},
        writer,
    )
    assert answer.status_code == 404
    assert "ghost" in answer.json()["detail"]


def test_one_person_reporting_the_same_cause_twice_in_an_hour_counts_once(
    client, writer, make_signal, chain
):
    make_signal("reports", kind=SignalKind.COUNT, direction="up", family="reports")
    url = "/api/v1/signals/reports/events"
    at = "2026-06-01T14:00:10Z"
    first = post(client, url, {"at": at, "store": "S001", "key": "p1", "cause": "tills"}, writer)
    again = post(
        client,
        url,
        {"at": "2026-06-01T14:20:00Z", "store": "S001", "key": "p1", "cause": "tills"},
        writer,
    )
    other = post(client, url, {"at": at, "store": "S001", "key": "p2", "cause": "tills"}, writer)
    assert [r.json()["counted"] for r in (first, again, other)] == [True, False, True]
    chain_point = SignalPoint.objects.get(signal__slug="reports", minute=MINUTE)
    assert chain_point.value == 2
    store_signal = Signal.objects.get(family="reports", store__code="S001")
    assert SignalPoint.objects.get(signal=store_signal, minute=MINUTE).value == 2
    # The person's key is kept only as a hash.
    assert not SignalReport.objects.filter(key="p1").exists()


def test_values_go_to_gauges_and_events_to_counts(make_signal):
    make_signal("reports", kind=SignalKind.COUNT)
    make_signal("coverage")
    result = services.record_points([("reports", MINUTE, 3)])[0]
    assert result.result == "rejected" and "events" in result.reason
    with pytest.raises(DomainError, match="values, not events"):
        services.record_event("coverage", MINUTE)


def test_record_point_is_the_contract_for_other_apps(make_signal):
    make_signal("coverage")
    assert services.record_point("coverage", MINUTE + timedelta(seconds=30), 97.5).result == (
        "recorded"
    )
    assert services.record_point("coverage", MINUTE, 97.5).result == "duplicate"


def test_batch_query_count_stays_flat(make_signal, django_assert_max_num_queries):
    make_signal("coverage")
    items = [("coverage", MINUTE + timedelta(minutes=i), 90 + i % 5) for i in range(500)]
    with django_assert_max_num_queries(10):
        results = services.record_points(items)
    assert {r.result for r in results} == {"recorded"}


def test_one_unstorable_minute_does_not_sink_the_whole_batch(client, writer, make_signal):
    make_signal("coverage")
    good = (timezone.now() - timedelta(minutes=5)).isoformat()
    body = {
        "points": [
            {"signal": "coverage", "minute": good, "value": 99},
            {"signal": "coverage", "minute": "0001-01-01T00:00:00+01:00", "value": 1},
        ]
    }
    answer = post(client, "/api/v1/signals/points:batch", body, writer)
    assert answer.status_code == 200, answer.content
    results = answer.json()["results"]
    assert [r["result"] for r in results] == ["recorded", "rejected"]
    assert "can be stored" in results[1]["reason"]


def test_a_huge_value_is_refused_naming_the_limit_and_records_nothing(client, writer, make_signal):
    make_signal("coverage")
    minute = (timezone.now() - timedelta(minutes=5)).isoformat()
    answer = post(
        client, "/api/v1/signals/coverage/points", {"minute": minute, "value": 1e39}, writer
    )
    assert answer.status_code == 400, answer.content
    assert "1e+15" in answer.content.decode()
    assert not SignalPoint.objects.exists()
