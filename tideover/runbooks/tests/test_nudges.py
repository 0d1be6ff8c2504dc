"""A nudge reaches the store's managers, not only its page: by e-mail, and by SMS when their
profile has a mobile number, through the outbox, once per nudge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.models import ComponentStatus, StaffProfile
from tideover.incidents import services as incidents
from tideover.incidents.models import TimelineEvent
from tideover.notifications.models import Category, OutboxMessage
from tideover.notifications.sinks import SmtpSink
from tideover.runbooks import checklists
from tideover.runbooks.models import Checklist


@pytest.fixture
def waiting(settings, staff, severities, components, chain):
    """An incident for every store whose plan went out ten minutes ago, S001 with its manager
    (e-mail and mobile), the other stores with none."""
    settings.SITE_URL = "http://tideover.test"
    settings.NOTIFY_ENQUEUE_TASKS = False
    profile = StaffProfile.objects.get(user=staff["store_manager"])
    profile.mobile_e164 = "+15125550123"
    profile.save()
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        at=timezone.now() - timedelta(minutes=10),
    )


def test_a_nudge_is_sent_to_the_store_manager_by_email_and_sms(waiting):
    nudged = checklists.nudge_unacknowledged(waiting, older_than_minutes=5)
    assert [s.code for s in nudged] == ["S001", "S002", "S003", "S004"]
    sent = OutboxMessage.objects.filter(category=Category.INTERNAL, subject__contains="acknowledge")
    assert sorted(sent.values_list("channel", "recipient")) == [
        ("email", "store_manager@staff.example"),
        ("sms", "+15125550123"),
    ]
    message = sent.get(channel="email")
    assert "S001" in message.subject and "http://tideover.test/store/S001/" in message.body
    assert '"Registers cannot reach HQ"' in message.body
    note = TimelineEvent.objects.get(incident=waiting, body__startswith="Nudged 4 store(s)")
    assert "2 message(s) to their managers" in note.body
    assert "3 store(s) with no manager to tell" in note.body


def test_a_double_tap_tells_the_manager_once_and_a_later_nudge_again(waiting):
    checklists.nudge_unacknowledged(waiting, older_than_minutes=5)
    assert checklists.nudge_unacknowledged(waiting, older_than_minutes=5) == []
    assert OutboxMessage.objects.filter(category=Category.INTERNAL, channel="email").count() == 1
    later = timezone.now() + timedelta(minutes=2)
    checklists.nudge_unacknowledged(waiting, older_than_minutes=5, at=later)
    assert OutboxMessage.objects.filter(category=Category.INTERNAL, channel="email").count() == 2


def test_a_store_that_acknowledged_or_a_deactivated_manager_gets_no_message(waiting, staff):
    checklists.acknowledge(Checklist.objects.get(incident=waiting, store__code="S001"))
    checklists.nudge_unacknowledged(waiting, older_than_minutes=5)
    assert not OutboxMessage.objects.filter(category=Category.INTERNAL).exists()
    Checklist.objects.filter(incident=waiting, store__code="S001").update(
        acknowledged_at=None, nudged_at=None
    )
    staff["store_manager"].is_active = False
    staff["store_manager"].save()
    checklists.nudge_unacknowledged(
        waiting, older_than_minutes=5, at=timezone.now() + timedelta(minutes=2)
    )
    assert not OutboxMessage.objects.filter(category=Category.INTERNAL).exists()


def test_the_nudge_e_mail_arrives_over_smtp(waiting, settings):
    from tideover.notifications.outbox import drain

    sink = SmtpSink().start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        checklists.nudge_unacknowledged(waiting, older_than_minutes=5)
        drain(channels=["email"])
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    assert sink.messages[0]["To"] == "store_manager@staff.example"
    assert "Please acknowledge the plan for S001" in sink.messages[0]["Subject"]
    assert "http://tideover.test/store/S001/" in sink.bodies()[0]
