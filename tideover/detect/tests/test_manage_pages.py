"""Setting Detect up in the console: signals and plain rules, for the people allowed to."""

from __future__ import annotations

import re

from tideover.detect.models import Rule, Signal


def _error_next_to(page: str, field: str) -> str:
    """The error text shown in the field group of ``field`` (label, error list, input)."""
    group = re.search(rf'<label for="id_{field}".*?(?=<label for=|</form>)', page, re.S)
    assert group, f"no field group for {field}"
    errors = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', group.group(0), re.S)
    assert errors, f"no error next to {field}"
    return re.sub(r"<[^>]+>", "", errors.group(1))


SIGNAL = {
    "slug": "card-processor-latency",
    "name": "Card processor latency",
    "unit": "ms",
    "owner": "Payments",
    "kind": "gauge",
    "direction": "up",
    "sensitivity": "high",
    "is_active": "on",
}


def test_a_commander_creates_a_signal_with_its_stores_and_components(client_as, chain, components):
    client = client_as("incident_commander")
    answer = client.post(
        "/console/detect/signals/new/",
        {
            **SIGNAL,
            "store": chain["stores"]["S002"].pk,
            "components": [components["card-payments"].pk],
        },
    )
    assert answer.status_code == 302 and answer["Location"].endswith(
        "/console/detect/signals/card-processor-latency/"
    )
    signal = Signal.objects.get(slug="card-processor-latency")
    assert (signal.name, signal.unit, signal.owner, signal.sensitivity) == (
        "Card processor latency",
        "ms",
        "Payments",
        "high",
    )
    assert signal.store.code == "S002" and signal.source == "console"
    assert [c.slug for c in signal.components.all()] == ["card-payments"]


def test_editing_a_signal_changes_its_sensitivity_and_keeps_its_slug_and_kind(
    client_as, make_signal
):
    signal = make_signal("coverage", unit="%", kind="gauge")
    client = client_as("administrator")
    assert "Edit Coverage" in client.get("/console/detect/signals/coverage/edit/").content.decode()
    answer = client.post(
        "/console/detect/signals/coverage/edit/",
        {**SIGNAL, "slug": "renamed", "kind": "count", "name": "Coverage", "sensitivity": "low"},
    )
    assert answer.status_code == 302
    signal.refresh_from_db()
    assert (signal.slug, signal.kind, signal.sensitivity) == ("coverage", "gauge", "low")


def test_a_bad_signal_shows_each_error_next_to_its_field_and_saves_nothing(client_as, make_signal):
    make_signal("coverage")
    client = client_as("incident_commander")
    answer = client.post(
        "/console/detect/signals/new/",
        {**SIGNAL, "slug": "coverage", "name": "", "sensitivity": "extreme"},
    )
    assert answer.status_code == 400
    page = answer.content.decode()
    assert "already exists" in _error_next_to(page, "slug")
    assert "required" in _error_next_to(page, "name")
    assert "valid choice" in _error_next_to(page, "sensitivity")
    assert Signal.objects.count() == 1


def test_a_commander_writes_a_coverage_rule_that_declares_by_itself(
    client_as, make_signal, severities
):
    signal = make_signal("coverage", unit="%")
    client = client_as("incident_commander")
    form = client.get("/console/detect/rules/new/?signal=coverage").content.decode()
    assert f'<option value="{signal.pk}" selected>' in form
    answer = client.post(
        "/console/detect/rules/new/",
        {
            "name": "Heartbeat coverage below 90% for 3 minutes",
            "signal": signal.pk,
            "comparison": "below",
            "threshold": "90",
            "minutes": "3",
            "auto_declare": "on",
            "severity_level": "1",
            "is_active": "on",
        },
    )
    assert answer.status_code == 302
    rule = Rule.objects.get()
    assert rule.describe() == "Coverage below 90% for 3 min"
    assert rule.auto_declare and rule.severity_level == 1
    # Off again, from its edit page.
    answer = client.post(
        f"/console/detect/rules/{rule.pk}/edit/",
        {
            "name": rule.name,
            "signal": signal.pk,
            "comparison": "below",
            "threshold": "90",
            "minutes": "3",
            "severity_level": "1",
            "is_active": "on",
        },
    )
    assert answer.status_code == 302
    rule.refresh_from_db()
    assert not rule.auto_declare
    page = client.get("/console/detect/signals/coverage/").content.decode()
    assert f"/console/detect/rules/{rule.pk}/edit/" in page


def test_a_bad_rule_shows_each_error_next_to_its_field(client_as, make_signal, severities):
    signal = make_signal("coverage", unit="%")
    client = client_as("incident_commander")
    rule = {
        "name": "Coverage low",
        "signal": signal.pk,
        "comparison": "below",
        "threshold": "ninety",
        "minutes": "3",
        "severity_level": "1",
    }
    page = client.post("/console/detect/rules/new/", rule).content.decode()
    assert "number" in _error_next_to(page, "threshold")
    answer = client.post("/console/detect/rules/new/", {**rule, "threshold": "90", "minutes": "0"})
    assert answer.status_code == 400
    assert "between 1 and 1440" in _error_next_to(answer.content.decode(), "minutes")
    answer = client.post(
        "/console/detect/rules/new/",
        {**rule, "threshold": "90", "auto_declare": "on", "severity_level": "9"},
    )
    assert "No severity has level 9" in _error_next_to(answer.content.decode(), "severity_level")
    assert not Rule.objects.exists()


def test_only_people_who_manage_signals_see_the_links_or_reach_the_forms(client_as, make_signal):
    make_signal("coverage")
    comms = client_as("comms")
    assert (
        "/console/detect/signals/new/" not in comms.get("/console/detect/signals/").content.decode()
    )
    assert "edit/" not in comms.get("/console/detect/signals/coverage/").content.decode()
    assert comms.get("/console/detect/signals/new/").status_code == 403
    assert comms.post("/console/detect/signals/new/", SIGNAL).status_code == 403
    assert Signal.objects.count() == 1
    commander = client_as("incident_commander")
    assert (
        "/console/detect/signals/new/" in commander.get("/console/detect/signals/").content.decode()
    )


def test_the_console_refuses_a_slug_the_api_would_refuse(client_as, db):
    client = client_as("incident_commander")
    answer = client.post(
        "/console/detect/signals/new/",
        {**SIGNAL, "slug": "Card_Latency", "name": "Card latency", "sensitivity": "normal"},
    )
    assert answer.status_code == 400
    assert "lower-case" in _error_next_to(answer.content.decode(), "slug")
    assert not Signal.objects.filter(slug__iexact="card_latency").exists()
