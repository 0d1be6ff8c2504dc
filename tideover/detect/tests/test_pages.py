"""Console pages: signals and alerts readable at a glance, as SVG that needs no JavaScript."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tideover.core.tests.browser import PHONE, outside_the_browser_loop, phone_browser
from tideover.detect.models import Alert, AlertState, SocialPost
from tideover.detect.scoring import run_detection
from tideover.detect.tests.conftest import train
from tideover.detect.tests.series import traffic
from tideover.detect.tests.test_alerts import push


def outage_alert(make_signal, components):
    signal = make_signal(
        "coverage",
        name="Store heartbeat coverage",
        unit="%",
        components=[components["in-store-checkout"]],
    )
    start = train(signal)
    values = [traffic(start + timedelta(minutes=i)) * (0.2 if i >= 3 else 1) for i in range(8)]
    push("coverage", start, values)
    run_detection(start + timedelta(minutes=7))
    return Alert.objects.get()


def test_signals_page_draws_each_series_with_its_band_and_alert(client_as, make_signal, components):
    outage_alert(make_signal, components)
    page = client_as("comms").get("/console/detect/signals/?hours=1")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") == 1
    assert "<polygon" in html  # the normal band
    assert 'fill="#c62828"' in html  # unusual minutes marked
    assert "1 alert(s) marked" in html
    assert "<script" not in html.split("<main", 1)[-1]


def test_alert_page_shows_evidence_and_the_draft_incident(client_as, make_signal, components):
    alert = outage_alert(make_signal, components)
    html = client_as("incident_commander").get(f"/console/detect/alerts/{alert.pk}/").content
    html = html.decode()
    assert "baseline detector on Store heartbeat coverage" in html
    assert "In-store checkout" in html and "all stores" in html
    assert "Declare incident" in html
    # Comms may look but not act.
    html = client_as("comms").get(f"/console/detect/alerts/{alert.pk}/").content.decode()
    assert "Declare incident" not in html and "<svg" in html


def test_one_click_declares_and_the_incident_page_shows_detection(
    client_as, make_signal, components, severities
):
    alert = outage_alert(make_signal, components)
    commander = client_as("incident_commander")
    answer = commander.post(
        f"/console/detect/alerts/{alert.pk}/declare/",
        {"title": alert.title, "severity": severities["SEV1"].pk, "message": ""},
    )
    alert.refresh_from_db()
    assert alert.state == AlertState.INCIDENT
    assert answer["Location"] == f"/console/incidents/{alert.incident_id}/"
    page = commander.get(answer["Location"]).content.decode()
    assert 'id="detection"' in page and "time to detect" in page and "<svg" in page


def test_handles_are_shown_only_to_the_social_team(client_as, db):
    SocialPost.objects.create(
        external_id="1",
        handle="@angry_ann",
        text="registers down at tideover",
        posted_at=datetime(2026, 6, 6, 14, tzinfo=UTC),
        about_brand=True,
        complaint=True,
        sentiment=-0.6,
    )
    assert "@angry_ann" in client_as("comms").get("/console/detect/posts/").content.decode()
    page = client_as("cx_manager").get("/console/detect/posts/").content.decode()
    assert "registers down at tideover" in page and "@angry_ann" not in page


def test_dismiss_without_a_reason_stays_on_the_page_with_the_message(
    client_as, make_signal, components
):
    alert = outage_alert(make_signal, components)
    answer = client_as("incident_commander").post(
        f"/console/detect/alerts/{alert.pk}/dismiss/", {"reason": ""}
    )
    assert answer.status_code == 400
    assert "This field is required" in answer.content.decode()
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_commander_declares_from_an_alert_on_a_phone_without_javascript(
    live_server, staff, components, severities, make_signal, monkeypatch
):
    alert = outage_alert(make_signal, components)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect

    with phone_browser(java_script_enabled=False) as page:
        page.goto(f"{live_server.url}/console/detect/alerts/{alert.pk}/")
        page.get_by_label("Username").fill("incident_commander")
        page.get_by_label("Password").fill("pw-for-tests-only")
        page.get_by_role("button", name="Log in").click()
        chart = page.locator("svg.signal-chart").first
        expect(chart).to_be_visible()
        assert chart.bounding_box()["width"] <= PHONE["width"]
        page.get_by_label("Severity").select_option(str(severities["SEV1"].pk))
        page.get_by_role("button", name="Declare incident").click()
        expect(page.locator("#detection")).to_contain_text("time to detect")
        assert re.search(r"/console/incidents/\d+/$", page.url)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    state = outside_the_browser_loop(lambda: Alert.objects.get(pk=alert.pk).state)
    assert state == AlertState.INCIDENT
