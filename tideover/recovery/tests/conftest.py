"""An incident that hit stores S001 and S002 (resolved), members in both tiers, and helpers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.actors import Actor

CX = Actor(name="cx_manager")


def text_sent(message) -> str:
    """What the customer reads of an outbox message, as its channel sends it (a campaign's
    text is written then, not stored on the row)."""
    from tideover.notifications.rendering import render

    return render(message).text


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.NOTIFY_ENQUEUE_TASKS = False
    settings.NOTIFY_QUIET_HOURS = ""  # tests of quiet hours set them
    settings.SITE_URL = "http://testserver"
    settings.LOYALTY_POINTS_PER_DOLLAR = 10


@pytest.fixture
def incident(severities, components, chain):
    """Registers down in S001 and S002 from two hours ago to an hour ago; resolved."""
    from tideover.incidents import services as incidents

    now = timezone.now()
    found = incidents.declare_incident(
        title="Registers down",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
        stores=[chain["stores"]["S001"], chain["stores"]["S002"]],
        message="Registers in some stores cannot reach HQ; cash works.",
        started_at=now - timedelta(hours=2),
    )
    incidents.resolve_incident(found, "Registers are back; every purchase has been recorded.")
    found.refresh_from_db()
    return found


@pytest.fixture
def make_member(db, chain):
    from tideover.loyalty.members import create_member

    def make(loyalty_id, tier="member", phone="", email="", sms=False, mail=False):
        return create_member(
            name=f"Member {loyalty_id}",
            loyalty_id=loyalty_id,
            tier=tier,
            phone=phone,
            email=email,
            consents={"marketing_sms": sms, "marketing_email": mail},
            consent_source="test",
            home_store=chain["stores"]["S001"],
        )

    return make


@pytest.fixture
def sign_up(incident, chain):
    """sign_up(phone=..., email=..., loyalty_id=..., store="S001", consent=True)"""
    from tideover.recovery import capture

    def make(store="S001", consent=True, source="associate", **fields):
        person = capture.person_from_form(**fields)
        return capture.sign_up(
            incident,
            chain["stores"][store],
            person,
            consent=consent,
            shown_consent_text=capture.consent_text(),
            source=source,
        )

    return make


@pytest.fixture
def policy(incident):
    from tideover.recovery.policy import set_policy

    def make(**values):
        return set_policy(incident, actor=CX, **values)

    return make
