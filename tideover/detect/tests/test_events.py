"""Counting events: anonymous ones, and the per-store series of a family."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.models import Store
from tideover.detect import services
from tideover.detect.definitions import SLUG_PATTERN
from tideover.detect.loading import load_file
from tideover.detect.models import Signal, SignalKind
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


def post(client, url, body, headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def writer(api_token):
    return api_token("signals:write")


def _create(client, writer, slug):
    body = {"slug": slug, "name": "Reports", "kind": "count", "direction": "up"}
    assert post(client, "/api/v1/signals", body, writer).status_code == 201


def test_each_store_has_its_own_series_however_long_the_signal_slug(client, writer, chain):
    slug = "r" * 77
    _create(client, writer, slug)
    at = (timezone.now() - timedelta(minutes=3)).isoformat()
    for code in ("S001", "S002", "S003"):
        body = {"at": at, "store": code}
        assert post(client, f"/api/v1/signals/{slug}/events", body, writer).status_code == 200
    per_store = Signal.objects.filter(family=slug, store__isnull=False)
    assert sorted(s.store.code for s in per_store) == ["S001", "S002", "S003"]
    assert all(re.fullmatch(SLUG_PATTERN, s.slug) for s in per_store)
    assert [sum(s.points.values_list("value", flat=True)) for s in per_store] == [1.0] * 3


def test_an_anonymous_event_with_a_store_counts_once_on_an_80_character_slug(client, writer, chain):
    slug = "q" * 80
    _create(client, writer, slug)
    at = (timezone.now() - timedelta(minutes=3)).isoformat()
    body = {"at": at, "store": "S001"}
    assert post(client, f"/api/v1/signals/{slug}/events", body, writer).status_code == 200
    assert sum(Signal.objects.get(slug=slug).points.values_list("value", flat=True)) == 1.0
    store_series = Signal.objects.get(family=slug, store__code="S001")
    assert sum(store_series.points.values_list("value", flat=True)) == 1.0


def test_a_store_code_that_is_not_a_slug_still_shows_the_family_page(client_as, chain):
    odd = Store.objects.create(code="S.005", name="Store 5", region=chain["regions"]["north"])
    services.ensure_signal(
        "staff-reports", name="Staff reports", kind=SignalKind.COUNT, family="staff-reports"
    )
    services.record_event("staff-reports", timezone.now() - timedelta(minutes=2), store=odd)
    series = Signal.objects.get(family="staff-reports", store=odd)
    assert re.fullmatch(SLUG_PATTERN, series.slug), series.slug
    page = client_as("incident_commander").get("/console/detect/signals/staff-reports/")
    assert page.status_code == 200


def test_two_codes_that_read_alike_get_two_series(chain, make_signal):
    make_signal("staff-reports", kind=SignalKind.COUNT, direction="up")
    north = chain["regions"]["north"]
    dotted = Store.objects.create(code="S.006", name="Store 6", region=north)
    dashed = Store.objects.create(code="S-006", name="Store 6b", region=north)
    at = timezone.now() - timedelta(minutes=2)
    for store in (dotted, dashed, dotted):
        services.record_event("staff-reports", at, store=store)
    assert Signal.objects.get(store=dotted).points.get().value == 2.0
    assert Signal.objects.get(store=dashed).points.get().value == 1.0
