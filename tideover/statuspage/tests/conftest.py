from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.models import ComponentStatus
from tideover.incidents import services


@pytest.fixture
def outage(severities, components):
    """An open SEV1 on in-store checkout with two public updates."""
    start = timezone.now() - timedelta(minutes=30)
    incident = services.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        message="We are investigating a problem with in-store checkout.",
        at=start,
    )
    services.post_public_update(
        incident,
        "We found the cause: a network provider outage.",
        state="identified",
        at=start + timedelta(minutes=10),
    )
    incident.refresh_from_db()
    return incident


@pytest.fixture
def drill(severities, components):
    return services.declare_incident(
        title="DRILL secret practice run",
        severity=severities["SEV2"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        message="DRILL practice update nobody outside may read.",
        is_drill=True,
    )


@pytest.fixture
def maintenance(components):
    start = timezone.now() + timedelta(days=1)
    return services.schedule_maintenance(
        title="Loyalty database upgrade",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=[components["loyalty"]],
        message="Points will post a few minutes late during the upgrade.",
    )
