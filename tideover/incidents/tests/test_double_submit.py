"""A second tap on Declare or Post update (a form sent twice) is the first one again, not a
twin that pages everyone and messages every subscriber once more (services/repeats.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse

from tideover.incidents import services
from tideover.incidents.models import Incident
from tideover.incidents.tests.test_console import _declare_data

pytestmark = pytest.mark.django_db


def test_a_double_tap_on_declare_or_post_is_one_incident_and_one_update(
    client_as, severities, components, chain, settings
):
    from tideover.notifications.models import Notification

    settings.NOTIFY_ENQUEUE_TASKS = False
    client = client_as("incident_commander")
    data = _declare_data(severities, components, regions=[chain["regions"]["north"].pk])
    first = client.post(reverse("incidents:declare"), data)
    second = client.post(reverse("incidents:declare"), data)
    incident = Incident.objects.get()
    assert first["Location"] == second["Location"]
    url = reverse("incidents:post_update", kwargs={"incident_id": incident.pk})
    for _ in range(2):
        assert client.post(url, {"body": "Still on it."}).status_code == 302
    [update] = incident.public_updates.filter(body="Still on it.")
    assert Notification.objects.filter(public_update_id=update.pk).count() == 1
    # Another person's same words, or other words, are updates of their own.
    client_as("administrator").post(url, {"body": "Still on it."})
    client.post(url, {"body": "Cause found."})
    assert incident.public_updates.count() == 4


def test_the_same_update_after_a_minute_is_posted_again(severities, staff):
    actor = services.Actor.of(staff["incident_commander"])
    incident = services.declare_incident(
        title="Card payments slow", severity=severities["SEV2"], actor=actor
    )
    first = services.post_public_update(incident, "No change yet.", actor=actor)
    again = services.post_public_update(incident, "No change yet.", actor=actor)
    later = services.post_public_update(
        incident, "No change yet.", actor=actor, at=first.posted_at + timedelta(seconds=61)
    )
    assert again.pk == first.pk and later.pk != first.pk
