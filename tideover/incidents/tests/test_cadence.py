from datetime import timedelta

from django.utils import timezone

from tideover.incidents import services
from tideover.incidents.models import Severity


def test_sev1_update_is_due_15_minutes_after_the_last_one(severities):
    t0 = timezone.now() - timedelta(hours=1)
    incident = services.declare_incident(
        title="Checkout down", severity=severities["SEV1"], message="Looking.", at=t0
    )
    assert incident.next_update_due_at() == t0 + timedelta(minutes=15)
    assert not incident.is_update_overdue(t0 + timedelta(minutes=15))
    assert incident.is_update_overdue(t0 + timedelta(minutes=15, seconds=1))
    services.post_public_update(incident, "Still looking.", at=t0 + timedelta(minutes=14))
    incident.refresh_from_db()
    assert incident.next_update_due_at() == t0 + timedelta(minutes=29)


def test_overdue_incidents_lists_only_open_late_ones(severities):
    t0 = timezone.now() - timedelta(hours=2)
    late = services.declare_incident(title="Late", severity=severities["SEV2"], at=t0)
    services.declare_incident(title="On time", severity=severities["SEV2"], at=timezone.now())
    services.declare_incident(title="No cadence", severity=severities["SEV4"], at=t0)
    resolved = services.declare_incident(title="Done", severity=severities["SEV1"], at=t0)
    services.resolve_incident(resolved)
    assert [i.title for i in services.overdue_incidents()] == [late.title]


def test_cadence_is_an_editable_default(severities):
    Severity.objects.filter(name="SEV3").update(update_cadence_minutes=5)
    t0 = timezone.now() - timedelta(minutes=6)
    incident = services.declare_incident(
        title="Slow app", severity=Severity.objects.get(name="SEV3"), at=t0
    )
    assert incident.is_update_overdue()


def test_raising_severity_tightens_the_cadence(severities):
    t0 = timezone.now() - timedelta(minutes=20)
    incident = services.declare_incident(
        title="Web checkout errors", severity=severities["SEV2"], at=t0
    )
    assert not incident.is_update_overdue()
    services.change_severity(incident, severities["SEV1"])
    assert incident.is_update_overdue()
