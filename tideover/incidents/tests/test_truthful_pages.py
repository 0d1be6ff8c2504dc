"""Pages say what is true now: a resolved incident does not read "Major outage", a forgotten
drill is not an open SEV1 on every dashboard, and the brand is said once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.models import ComponentStatus
from tideover.incidents import services


@pytest.fixture
def resolved(severities, components):
    incident = services.declare_incident(
        title="Card payments failing",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        message="Some card payments fail.",
    )
    services.resolve_incident(incident, "Card payments work again.")
    incident.refresh_from_db()
    return incident


def test_resolving_update_shows_the_components_back_to_operational(client, resolved):
    [closing, _opening] = client.get("/api/v2/incidents.json").json()["incidents"][0][
        "incident_updates"
    ]
    assert closing["status"] == "resolved"
    assert [(a["old_status"], a["new_status"]) for a in closing["affected_components"]] == [
        ("major_outage", "operational")
    ]
    page = client.get(f"/incidents/{resolved.pk}").content.decode()
    assert "Card payments: Operational" in page


def test_console_shows_a_resolved_incidents_components_as_they_are_now(client_as, resolved):
    page = client_as("incident_commander").get(f"/console/incidents/{resolved.pk}/")
    section = page.content.decode().split('id="components"')[1].split("</section>")[0]
    assert "Operational" in section and "now" in section


def test_reopening_restores_what_the_incident_said_about_its_components(resolved, components):
    services.reopen_incident(resolved, "Failing again.")
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.MAJOR_OUTAGE


def test_dashboard_lists_drills_apart_and_drops_a_drill_left_open_for_a_day(client_as, severities):
    services.declare_incident(title="Real outage", severity=severities["SEV2"], message="x")
    services.declare_incident(
        title="Todays practice", severity=severities["SEV1"], message="x", is_drill=True
    )
    services.declare_incident(
        title="Forgotten practice",
        severity=severities["SEV1"],
        message="x",
        is_drill=True,
        at=timezone.now() - timedelta(days=3),
    )
    page = client_as("incident_commander").get("/console/").content.decode()
    open_section = page.split('id="open-h"')[1].split('id="drills-h"')[0]
    assert "Open incidents (1)" in page and "Real outage" in open_section
    assert "practice" not in open_section
    assert "Drills in progress (1)" in page and "Todays practice" in page
    assert "Forgotten practice" not in page


def test_console_names_the_brand_once_and_every_page_has_a_favicon(client_as, client, settings):
    console = client_as("incident_commander").get("/console/").content.decode()
    assert console.count(f"{settings.SITE_NAME} <span") == 1
    assert "Tideover Tideover" not in console and f"Tideover {settings.SITE_NAME}" not in console
    for page in (console, client.get("/").content.decode()):
        assert '<link rel="icon"' in page
