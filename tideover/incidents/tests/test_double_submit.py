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
    first = services.post_public_update(incident, "No change yet.", actor=actor, once=True)
    again = services.post_public_update(incident, "No change yet.", actor=actor, once=True)
    later = services.post_public_update(
        incident,
        "No change yet.",
        actor=actor,
        at=first.posted_at + timedelta(seconds=61),
        once=True,
    )
    assert again.pk == first.pk and later.pk != first.pk


def test_detect_declaring_two_regions_alike_at_once_makes_two_incidents(
    chain, severities, components
):
    """Detect's regional alerts share a title and an actor: only people's forms are folded."""
    from django.utils import timezone

    from tideover.detect.actions import auto_declare
    from tideover.detect.models import Alert, AlertScope

    at = timezone.now()
    declared = []
    for slug in ("north", "south"):
        alert = Alert.objects.create(
            title="Card payments unusual in one region",
            scope=AlertScope.REGION,
            cause=f"region:{slug}:card",
            started_at=at - timedelta(minutes=3),
            opened_at=at,
            last_seen_at=at,
            evidence={"where": slug},
        )
        alert.regions.add(chain["regions"][slug])
        declared.append(auto_declare(alert, severities["SEV2"].level, at=at))
    assert declared[0].pk != declared[1].pk


def test_a_reopen_in_the_same_words_as_the_resolution_is_announced(severities, staff):
    actor = services.Actor.of(staff["incident_commander"])
    incident = services.declare_incident(
        title="Tills", severity=severities["SEV2"], actor=actor, message="Looking."
    )
    services.resolve_incident(incident, "Card payments work again.", actor=actor)
    services.reopen_incident(incident, "Card payments work again.", actor=actor)
    assert incident.public_updates.count() == 3
    services.post_public_update(incident, "Card payments work again.", actor=actor, once=True)
    assert incident.public_updates.count() == 3  # a second tap now is the reopen's update
