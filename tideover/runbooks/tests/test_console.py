"""The runbook and response pages in the console: write, edit (a new version), see progress,
change plan, nudge, tick team steps; bad input is a 4xx with the reason."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tideover.core.models import ComponentStatus, Region, Store
from tideover.incidents import services as incidents
from tideover.runbooks import checklists
from tideover.runbooks.models import Checklist, ChecklistStep, Runbook
from tideover.runbooks.tests.test_runbooks import SMALL


@pytest.fixture
def outage(severities, components, chain):
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        at=timezone.now() - timedelta(minutes=10),
    )


def test_commander_writes_a_runbook_and_an_edit_becomes_version_two(
    client_as, components, severities
):
    client = client_as("incident_commander")
    refused = client.post(
        "/console/runbooks/new/",
        {"component": components["loyalty"].pk, "title": "Points", "text": "## IT\n- x"},
    )
    assert refused.status_code == 400 and "Line 1" in refused.content.decode()
    made = client.post(
        "/console/runbooks/new/",
        {"component": components["loyalty"].pk, "title": "Points", "text": SMALL},
    )
    runbook = Runbook.objects.get(title="Points")
    assert made.status_code == 302
    edited = client.post(
        f"/console/runbooks/{runbook.pk}/edit/",
        {"title": "Points", "text": SMALL + "\n- one more", "note": "more"},
    )
    assert edited.status_code == 302
    page = client.get(f"/console/runbooks/{runbook.pk}/").content.decode()
    assert "Version 2 of 2" in page and "one more" in page
    assert "one more" not in client.get(f"/console/runbooks/{runbook.pk}/v1/").content.decode()
    assert client_as("comms").get(f"/console/runbooks/{runbook.pk}/edit/").status_code == 403


def test_progress_page_shows_counts_and_the_commander_moves_to_plan_c(outage, client_as):
    s001 = Checklist.objects.get(incident=outage, store__code="S001")
    for step in s001.steps.all():
        checklists.tick(step)
    client = client_as("incident_commander")
    page = client.get(f"/console/respond/incidents/{outage.pk}/").content.decode()
    assert 'data-count="issued">4<' in page
    assert 'data-count="done">1<' in page
    assert re.search(r'data-count="silent"[^>]*>3<', page)
    moved = client.post(
        f"/console/respond/incidents/{outage.pk}/plan/",
        {"plan": "1", "reason": "cash drawers down"},
    )
    assert moved.status_code == 302
    assert set(
        Checklist.objects.filter(incident=outage, superseded_at__isnull=True).values_list(
            "plan_name", flat=True
        )
    ) == {"Plan C"}
    bad = client.post(f"/console/respond/incidents/{outage.pk}/plan/", {"plan": "9"})
    assert bad.status_code == 400


def test_nudging_from_the_progress_page(outage, client_as):
    client = client_as("incident_commander")
    assert (
        client.post(f"/console/respond/incidents/{outage.pk}/nudge/", {"minutes": "5"}).status_code
        == 302
    )
    assert Checklist.objects.filter(incident=outage, nudges=1).count() == 4
    page = client_as("store_associate").get("/store/S001/").content.decode()
    assert "HQ is waiting for your store" in page
    again = client.post(f"/console/respond/incidents/{outage.pk}/nudge/", {"minutes": "60"})
    assert again.status_code == 409


def test_team_steps_are_ticked_in_the_console(outage, client_as):
    step = ChecklistStep.objects.filter(checklist__incident=outage, checklist__team="it").first()
    assert (
        client_as("comms").post(f"/console/respond/steps/{step.pk}/", {"done": "1"}).status_code
        == 302
    )
    step.refresh_from_db()
    assert step.done_by == "comms"
    store_step = ChecklistStep.objects.filter(checklist__store__isnull=False).first()
    assert client_as("comms").post(f"/console/respond/steps/{store_step.pk}/").status_code == 404


def _stores(count: int) -> None:
    region = Region.objects.get(slug="north")
    Store.objects.bulk_create(
        [Store(code=f"X{i:04d}", name=f"Extra {i}", region=region) for i in range(count)]
    )


def test_progress_page_reads_the_same_number_of_queries_for_more_stores(
    severities, components, chain, client_as
):
    client = client_as("incident_commander")

    def queries_for_page() -> int:
        incident = incidents.declare_incident(
            title="Cards",
            severity=severities["SEV2"],
            components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
            all_stores=True,
        )
        client.get(f"/console/respond/incidents/{incident.pk}/")  # warm sessions and caches
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"/console/respond/incidents/{incident.pk}/").status_code == 200
        return len(captured)

    few = queries_for_page()
    _stores(60)
    assert queries_for_page() == few


def test_a_long_list_of_silent_stores_is_cut_with_a_link_to_every_store(
    outage, client_as, monkeypatch
):
    from tideover.runbooks import views_respond

    monkeypatch.setattr(views_respond, "ATTENTION_ROWS", 2)
    client = client_as("incident_commander")
    page = client.get(f"/console/respond/incidents/{outage.pk}/").content.decode()
    assert page.count('<tr class="silent">') == 2
    assert "And 2 more" in page and "S004" not in page
    everything = client.get(f"/console/respond/incidents/{outage.pk}/?stores=all").content.decode()
    assert everything.count('<tr class="silent">') == 4


def test_a_closed_incident_nudges_no_store(outage, client_as):
    client = client_as("incident_commander")
    resolved = client.post(f"/console/incidents/{outage.pk}/state/", {"state": "resolved"})
    assert resolved.status_code == 302
    refused = client.post(f"/console/respond/incidents/{outage.pk}/nudge/", {"minutes": "5"})
    assert refused.status_code == 409 and "reopen it" in refused.content.decode()
    assert not Checklist.objects.filter(incident=outage, nudges__gt=0).exists()


def test_a_double_tap_on_nudge_nudges_once(severities, components, chain, client_as):
    from tideover.core import events

    incident = incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"]["north"]],
    )
    Checklist.objects.filter(incident=incident).update(
        issued_at=incident.declared_at - timedelta(minutes=30)
    )
    seen = []
    handler = lambda name, **payload: seen.append(payload)  # noqa: E731
    events.subscribe("runbooks.stores_nudged", handler)
    try:
        client = client_as("incident_commander")
        url = f"/console/respond/incidents/{incident.pk}/nudge/"
        assert client.post(url, {"minutes": "5"}).status_code == 302
        again = client.post(url, {"minutes": "5"}, follow=True)
    finally:
        events._handlers["runbooks.stores_nudged"].remove(handler)
    assert again.status_code == 200 and "just nudged" in again.content.decode()
    nudges = set(
        Checklist.objects.filter(incident=incident, store__isnull=False).values_list(
            "nudges", flat=True
        )
    )
    assert nudges == {1}
    assert len(seen) == 1
    assert incident.timeline.filter(body__startswith="Nudged").count() == 1
