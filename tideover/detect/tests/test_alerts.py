"""From points to alerts: evidence, combining, attribution, rules, dismissal, declaring."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tideover.core import events
from tideover.core.errors import DomainError
from tideover.core.models import ComponentStatus
from tideover.detect import services
from tideover.detect.models import (
    Alert,
    AlertScope,
    AlertState,
    Direction,
    Rule,
    SignalKind,
)
from tideover.detect.scoring import run_detection
from tideover.detect.tests.conftest import train
from tideover.detect.tests.series import traffic


def push(slug, start, values):
    results = services.record_points(
        [(slug, start + timedelta(minutes=i), v) for i, v in enumerate(values)]
    )
    assert {r.result for r in results} == {"recorded"}, results


def normal(at, n, factor=1.0):
    return [traffic(at + timedelta(minutes=i)) * factor for i in range(n)]


@pytest.fixture
def coverage(make_signal, components):
    signal = make_signal("coverage", unit="%", components=[components["in-store-checkout"]])
    return signal, train(signal)


def test_a_drop_raises_one_alert_with_its_evidence(coverage):
    signal, start = coverage
    push("coverage", start, normal(start, 3) + normal(start + timedelta(minutes=3), 3, 0.2))
    run_detection(start + timedelta(minutes=5))
    alert = Alert.objects.get()
    assert alert.state == AlertState.OPEN and alert.scope == AlertScope.CHAIN
    assert alert.started_at == start + timedelta(minutes=3)
    assert list(alert.signals.all()) == [signal]
    assert [c.slug for c in alert.components.all()] == ["in-store-checkout"]
    series = alert.evidence["series"]["coverage"]["points"]
    assert series[-1]["anomalous"] and series[-1]["baseline"] > series[-1]["value"]
    assert any("baseline detector" in d for d in alert.evidence["detectors"])


def test_a_quiet_series_raises_nothing(coverage):
    _, start = coverage
    push("coverage", start, normal(start, 10))
    run_detection(start + timedelta(minutes=9))
    assert not Alert.objects.exists()


def test_agreeing_signals_combine_into_one_alert(coverage, make_signal):
    _, start = coverage
    failures = make_signal("failures", direction=Direction.UP)
    train(failures, shape=lambda at: 2.0)
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 3, 0.2))
    push("failures", start, [2.0, 2.1, 30.0, 35.0, 40.0])
    run_detection(start + timedelta(minutes=4))
    alert = Alert.objects.get()
    assert {s.slug for s in alert.signals.all()} == {"coverage", "failures"}


def test_opening_an_alert_pages_once(coverage):
    _, start = coverage
    seen = []

    def listener(**payload):
        seen.append(payload)

    events.subscribe("detect.alert_opened", listener)
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 6, 0.2))
    for minute in range(2, 8):
        run_detection(start + timedelta(minutes=minute))
    assert len(seen) == 1 and seen[0]["alert"] == Alert.objects.get()


def _store_family(make_signal, chain, moved: set[str]):
    parent = make_signal("fail-rate", direction=Direction.UP, family="fail-rate")
    train(parent, shape=lambda at: 2.0)
    start = None
    for code, store in chain["stores"].items():
        signal = make_signal(
            f"fail-rate-{code.lower()}", direction=Direction.UP, family="fail-rate", store=store
        )
        start = train(signal, shape=lambda at: 2.0, seed=int(code[1:]))
    for code in chain["stores"]:
        values = [2.0, 2.0, 2.0] + ([40.0] * 3 if code in moved else [2.0] * 3)
        push(f"fail-rate-{code.lower()}", start, values)
    run_detection(start + timedelta(minutes=5))


def test_one_store_failing_alone_is_its_own_failure(make_signal, chain):
    _store_family(make_signal, chain, {"S003"})
    alert = Alert.objects.get()
    assert alert.scope == AlertScope.STORE
    assert [s.code for s in alert.stores.all()] == ["S003"]
    assert "store S003 alone" in alert.evidence["attribution"]
    assert "S003" in alert.title


def test_stores_in_several_regions_failing_together_is_chain_wide(make_signal, chain):
    _store_family(make_signal, chain, {"S001", "S002", "S003"})
    alert = Alert.objects.get()
    assert alert.scope == AlertScope.CHAIN
    assert "3 of 4 stores in 2 regions" in alert.evidence["attribution"]


def test_a_plain_rule_fires_after_its_minutes(coverage):
    signal, start = coverage
    Rule.objects.create(
        name="Coverage under 90%", signal=signal, comparison="below", threshold=90, minutes=3
    )
    signal.sensitivity = "low"
    signal.save()
    push("coverage", start, [99, 95, 85, 86])
    run_detection(start + timedelta(minutes=3))
    assert not Alert.objects.exists()  # two minutes under: not yet
    push("coverage", start + timedelta(minutes=4), [80])
    run_detection(start + timedelta(minutes=4))
    alert = Alert.objects.get()
    assert "rule: coverage below 90% for 3 min" in " ".join(alert.evidence["detectors"]).lower()


def test_an_auto_declare_rule_declares_the_incident(coverage, severities):
    signal, start = coverage
    Rule.objects.create(
        name="Stores offline",
        signal=signal,
        comparison="below",
        threshold=90,
        minutes=3,
        auto_declare=True,
        severity_level=1,
    )
    push("coverage", start, [60, 60, 60])
    run_detection(start + timedelta(minutes=2))
    alert = Alert.objects.get()
    assert alert.state == AlertState.INCIDENT
    incident = alert.incident
    assert incident.severity.name == "SEV1" and incident.affects_all_stores
    assert incident.detected_at == start + timedelta(minutes=2)


def test_declaring_an_alert_guesses_components_and_stores(
    make_signal, chain, severities, components
):
    _store_family(make_signal, chain, {"S003"})
    alert = Alert.objects.get()
    alert.components.add(components["card-payments"])
    incident = services.declare_from_alert(alert, severity=severities["SEV2"])
    alert.refresh_from_db()
    assert alert.state == AlertState.INCIDENT and alert.incident == incident
    assert [s.code for s in incident.affected_stores.all()] == ["S003"]
    affected = {a.component.slug: a.status for a in incident.affected_components.all()}
    assert affected == {"card-payments": ComponentStatus.PARTIAL_OUTAGE}
    assert incident.started_at == alert.started_at
    assert incident.time_to_detect == alert.opened_at - alert.started_at


def test_a_dismissed_cause_does_not_page_again(coverage, staff):
    _, start = coverage
    pages = []
    events.subscribe("detect.alert_opened", lambda **p: pages.append(p))
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 2, 0.2))
    run_detection(start + timedelta(minutes=3))
    first = Alert.objects.get()
    services.dismiss_alert(first, "Planned network test", user=staff["incident_commander"])
    later = start + timedelta(hours=2)
    push("coverage", later, normal(later, 2, 0.2))
    run_detection(later + timedelta(minutes=1))
    second = Alert.objects.exclude(pk=first.pk).get()
    assert second.state == AlertState.DISMISSED and not second.paged
    assert "Planned network test" in second.dismissed_reason
    assert len(pages) == 1


def test_a_quietly_held_alert_does_not_swallow_another_cause(coverage, make_signal, staff):
    _, start = coverage
    failures = make_signal("failures", direction=Direction.UP)
    train(failures, shape=lambda at: 2.0)
    pages = []

    def listener(**payload):
        pages.append(payload)

    events.subscribe("detect.alert_opened", listener)
    try:
        push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 2, 0.2))
        push("failures", start, [2.0] * 4)
        run_detection(start + timedelta(minutes=3))
        first = Alert.objects.get()
        services.dismiss_alert(first, "Planned network test", user=staff["incident_commander"])
        later = start + timedelta(hours=2)
        push("coverage", later, normal(later, 3, 0.2))
        push("failures", later, [2.0] * 3)
        run_detection(later + timedelta(minutes=2))
        quiet = Alert.objects.exclude(pk=first.pk).get()
        assert quiet.state == AlertState.DISMISSED and not quiet.paged and len(pages) == 1
        # Another cause at the same place (the chain) is a real outage: its own alert, paged.
        outage = later + timedelta(minutes=10)
        push("failures", later + timedelta(minutes=3), [2.0] * 7 + [40.0, 45.0, 50.0])
        run_detection(outage + timedelta(minutes=2))
    finally:
        events._handlers["detect.alert_opened"].remove(listener)
    assert len(pages) == 2
    real = pages[1]["alert"]
    assert real.is_live and real.paged and real.cause != quiet.cause
    assert [s.slug for s in real.signals.all()] == ["failures"]
    quiet.refresh_from_db()
    assert [s.slug for s in quiet.signals.all()] == ["coverage"]


def test_dismissing_needs_a_reason(coverage):
    _, start = coverage
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 2, 0.2))
    run_detection(start + timedelta(minutes=3))
    with pytest.raises(DomainError, match="Say why"):
        services.dismiss_alert(Alert.objects.get(), "  ")


def test_an_alert_with_nothing_new_clears_itself(coverage):
    _, start = coverage
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 2, 0.2))
    run_detection(start + timedelta(minutes=3))
    later = start + timedelta(minutes=40)
    push("coverage", later, normal(later, 1))
    run_detection(later)
    assert Alert.objects.get().state == AlertState.CLEARED


def test_alert_api_acknowledge_dismiss_declare(coverage, client_as, severities):
    _, start = coverage
    push("coverage", start, normal(start, 2) + normal(start + timedelta(minutes=2), 2, 0.2))
    run_detection(start + timedelta(minutes=3))
    alert = Alert.objects.get()
    commander = client_as("incident_commander")
    listed = commander.get("/api/v1/alerts").json()
    assert listed[0]["id"] == alert.pk and listed[0]["signals"] == ["coverage"]
    assert commander.post(f"/api/v1/alerts/{alert.pk}/acknowledge").status_code == 200
    comms = client_as("comms")
    refused = comms.post(
        f"/api/v1/alerts/{alert.pk}/declare",
        json.dumps({"severity": "SEV1"}),
        content_type="application/json",
    )
    assert refused.status_code == 403
    declared = commander.post(
        f"/api/v1/alerts/{alert.pk}/declare",
        json.dumps({"severity": "SEV1", "title": "Registers offline in stores"}),
        content_type="application/json",
    )
    assert declared.status_code == 201, declared.content
    assert declared.json()["state"] == "incident"
    again = commander.post(
        f"/api/v1/alerts/{alert.pk}/dismiss",
        json.dumps({"reason": "oops"}),
        content_type="application/json",
    )
    assert again.status_code == 409


def test_count_signals_get_zero_for_quiet_minutes(make_signal):
    signal = make_signal("complaints", kind=SignalKind.COUNT, direction=Direction.UP)
    start = train(signal, 2, shape=lambda at: 1.0)
    run_detection(start + timedelta(minutes=4))
    values = list(signal.points.order_by("minute").values_list("value", flat=True))
    assert values == [0.0] * 5
