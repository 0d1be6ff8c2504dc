"""Scheduled maintenance can be called off before it begins, from the console and the API."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tideover.core.errors import Conflict, DomainError
from tideover.core.models import ComponentStatus
from tideover.incidents import services
from tideover.incidents.models import IncidentState, TimelineKind
from tideover.notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def window(components):
    start = timezone.now() + timedelta(days=2)
    return services.schedule_maintenance(
        title="Loyalty database upgrade",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[components["loyalty"]],
        message="Points will post late during the upgrade.",
    )


def test_scheduled_maintenance_is_cancelled_from_the_console_and_audited_on_the_timeline(
    client_as, window, django_capture_on_commit_callbacks
):
    client = client_as("incident_commander")
    page = client.get(reverse("incidents:detail", kwargs={"incident_id": window.pk}))
    assert b"Cancel maintenance" in page.content and b"Complete maintenance" not in page.content
    url = reverse("incidents:cancel_maintenance", kwargs={"incident_id": window.pk})
    assert client_as("comms").post(url, {"message": "No."}).status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"message": "The vendor moved the upgrade to January."})
    assert done.status_code == 302
    window.refresh_from_db()
    assert window.state == IncidentState.CANCELLED and not window.is_open
    closing = window.timeline.get(kind=TimelineKind.RESOLVED)
    assert closing.body == "Scheduled → Cancelled"
    assert closing.author_name == "incident_commander" and not closing.is_internal
    latest = window.public_updates.first()
    assert latest.state == "cancelled" and latest.body.startswith("The vendor moved")
    told = Notification.objects.get(incident=window, event="maintenance.cancelled")
    assert told.headline == "Maintenance cancelled"
    assert "Cancelled" in client.get(reverse("incidents:maintenance")).content.decode()


def test_scheduled_maintenance_is_cancelled_through_the_api_and_one_in_progress_is_not(
    api_token, window, components
):
    headers = api_token("incidents:write")
    url = f"/api/v1/maintenance/{window.pk}/cancel"
    answer = Client().post(url, data=json.dumps({}), content_type="application/json", **headers)
    assert answer.status_code == 200 and answer.json()["state"] == "cancelled"
    assert window.public_updates.first().body == "This scheduled maintenance has been cancelled."
    again = Client().post(url, data="{}", content_type="application/json", **headers)
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]
    start = timezone.now() + timedelta(days=1)
    running = services.schedule_maintenance(
        title="Firmware",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=1),
        components=[components["card-payments"]],
        message="",
    )
    services.start_maintenance(running)
    url = f"/api/v1/maintenance/{running.pk}/cancel"
    refused = Client().post(url, data="{}", content_type="application/json", **headers)
    assert refused.status_code == 409 and "complete one in progress" in refused.json()["detail"]
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.UNDER_MAINTENANCE


def test_a_window_that_has_not_begun_cannot_be_completed(window):
    with pytest.raises(DomainError, match="allowed: cancelled, in_progress"):
        services.complete_maintenance(window)
    window.refresh_from_db()
    assert window.state == IncidentState.SCHEDULED
    services.cancel_maintenance(window)
    with pytest.raises(Conflict):
        services.cancel_maintenance(window)
    # A cancelled window is never started by the clock either.
    assert services.due_maintenance_transitions(window.scheduled_for + timedelta(minutes=1)) == 0


def test_forms_offer_only_the_states_a_maintenance_window_may_move_to(client_as, window):
    from tideover.incidents.forms import PublicUpdateForm

    choices = dict(PublicUpdateForm(window).fields["state"].choices)
    assert list(choices)[1:] == ["in_progress", "cancelled"]
    services.start_maintenance(window)
    window.refresh_from_db()
    assert list(dict(PublicUpdateForm(window).fields["state"].choices))[1:] == ["completed"]


def test_cancelling_a_window_the_clock_just_started_is_a_conflict_not_a_bad_request(window):
    stale = type(window).objects.get(pk=window.pk)  # the page the operator had open
    services.due_maintenance_transitions(window.scheduled_for + timedelta(minutes=1))
    with pytest.raises(Conflict, match="in progress"):
        services.cancel_maintenance(stale)
    window.refresh_from_db()
    assert window.state == IncidentState.IN_PROGRESS


def test_the_clock_leaves_alone_a_window_cancelled_or_completed_meanwhile(window, components):
    stale = type(window).objects.get(pk=window.pk)  # what the scheduler's run had read
    services.cancel_maintenance(window)
    assert services.start_maintenance(stale).state == IncidentState.CANCELLED
    components["loyalty"].refresh_from_db()
    assert components["loyalty"].status == ComponentStatus.OPERATIONAL
    start = timezone.now() - timedelta(hours=1)
    running = services.schedule_maintenance(
        title="Firmware",
        scheduled_for=start + timedelta(minutes=5),
        scheduled_until=start + timedelta(minutes=30),
        components=[components["card-payments"]],
        message="",
    )
    services.start_maintenance(running)
    stale = type(running).objects.get(pk=running.pk)
    services.change_state(running, IncidentState.COMPLETED, message="Done early.")
    assert services.complete_maintenance(stale).state == IncidentState.COMPLETED
    assert running.public_updates.count() == 3  # scheduled, started, done early: no second close
    assert services.due_maintenance_transitions() == 0
