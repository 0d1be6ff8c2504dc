from datetime import timedelta

from django.utils import timezone

from tideover.core.models import StaffProfile
from tideover.incidents import services as incidents
from tideover.incidents.models import TimelineEvent
from tideover.notifications.models import OutboxMessage
from tideover.notifications.reminders import send_cadence_reminders


def _overdue_incident(severities, components, staff, drill=False):
    StaffProfile.objects.create(user=staff["incident_commander"], mobile_e164="+15125550170")
    declared = timezone.now() - timedelta(minutes=20)
    return incidents.declare_incident(
        title="Registers offline",
        severity=severities["SEV1"],  # every 15 minutes
        components={components["in-store-checkout"]: "major_outage"},
        commander=staff["incident_commander"],
        comms_lead=staff["comms"],
        is_drill=drill,
        at=declared,
    )


def _reminders():
    return OutboxMessage.objects.filter(dedupe_key__startswith="remind:")


def test_overdue_update_reminds_commander_and_comms_lead_once_per_period(
    severities, components, staff
):
    incident = _overdue_incident(severities, components, staff)
    now = timezone.now()
    assert send_cadence_reminders(now) == 1
    assert sorted(_reminders().values_list("channel", "recipient")) == [
        ("email", "comms@staff.example"),
        ("email", "incident_commander@staff.example"),
        ("sms", "+15125550170"),
    ]
    assert send_cadence_reminders(now + timedelta(minutes=5)) == 0  # same overdue period
    assert send_cadence_reminders(now + timedelta(minutes=16)) == 1  # next period
    entries = TimelineEvent.objects.filter(incident=incident, kind="reminder")
    assert entries.count() == 2
    assert "reminded incident_commander (email, sms); comms (email)" in entries.first().body


def test_a_public_update_stops_the_reminders(severities, components, staff):
    incident = _overdue_incident(severities, components, staff)
    incidents.post_public_update(incident, "Still working on it.")
    assert send_cadence_reminders() == 0


def test_drill_reminders_are_marked(severities, components, staff):
    _overdue_incident(severities, components, staff, drill=True)
    send_cadence_reminders()
    assert all(m.subject.startswith("[DRILL]") for m in _reminders())
