from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.errors import Conflict, DomainError
from tideover.core.models import ComponentStatus
from tideover.incidents import services
from tideover.incidents.models import ComponentStatusChange, IncidentState, TimelineKind


@pytest.fixture
def sev1_checkout(severities, components, chain, staff):
    commander = services.Actor.of(staff["incident_commander"])
    return services.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"]["north"]],
        message="We are investigating a problem with in-store checkout.",
        actor=commander,
    )


def test_declaring_sets_component_status_and_writes_timeline(sev1_checkout, components):
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.MAJOR_OUTAGE
    kinds = list(sev1_checkout.timeline.values_list("kind", flat=True))
    assert kinds[0] == TimelineKind.DECLARED
    assert TimelineKind.COMPONENT_STATUS in kinds and TimelineKind.PUBLIC_UPDATE in kinds
    assert sev1_checkout.first_public_update_at == sev1_checkout.declared_at
    assert sev1_checkout.commander.username == "incident_commander"
    assert sev1_checkout.affected_store_ids() == {
        s.pk for s in sev1_checkout.affected_regions.get().stores.all()
    }


def test_state_machine_moves_forward_and_back_then_resolves(sev1_checkout, components):
    services.change_state(sev1_checkout, IncidentState.IDENTIFIED)
    services.change_state(sev1_checkout, IncidentState.MONITORING, message="A fix is in place.")
    services.change_state(sev1_checkout, IncidentState.INVESTIGATING, message="It flared up again.")
    services.resolve_incident(sev1_checkout, "All registers are back online.")
    sev1_checkout.refresh_from_db()
    assert sev1_checkout.state == IncidentState.RESOLVED
    assert sev1_checkout.mitigated_at is not None and sev1_checkout.resolved_at is not None
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.OPERATIONAL
    assert list(sev1_checkout.public_updates.values_list("state", flat=True)) == [
        "resolved",
        "investigating",
        "monitoring",
        "investigating",
    ]


def test_resolved_incident_refuses_updates_until_reopened(sev1_checkout, components):
    services.resolve_incident(sev1_checkout)
    with pytest.raises(Conflict):
        services.post_public_update(sev1_checkout, "still here?")
    with pytest.raises(Conflict):
        services.change_state(sev1_checkout, IncidentState.MONITORING)
    services.reopen_incident(sev1_checkout, "Registers are dropping again in two stores.")
    sev1_checkout.refresh_from_db()
    assert sev1_checkout.state == IncidentState.INVESTIGATING and sev1_checkout.resolved_at is None
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.MAJOR_OUTAGE


def test_changing_to_the_same_state_is_refused_with_a_message(sev1_checkout):
    with pytest.raises(Conflict, match="already investigating"):
        services.change_state(sev1_checkout, IncidentState.INVESTIGATING)


def test_empty_update_is_refused_and_nothing_is_written(sev1_checkout):
    before = sev1_checkout.timeline.count()
    with pytest.raises(DomainError, match="cannot be empty"):
        services.post_public_update(sev1_checkout, "   ")
    assert sev1_checkout.timeline.count() == before


def test_component_keeps_worst_status_of_other_open_incidents(
    sev1_checkout, severities, components
):
    second = services.declare_incident(
        title="Slow card terminals",
        severity=severities["SEV3"],
        components={components["in-store-checkout"]: ComponentStatus.DEGRADED_PERFORMANCE},
    )
    services.resolve_incident(sev1_checkout)
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.DEGRADED_PERFORMANCE
    services.resolve_incident(second)
    components["in-store-checkout"].refresh_from_db()
    assert components["in-store-checkout"].status == ComponentStatus.OPERATIONAL


def test_drill_never_changes_public_component_status(severities, components):
    services.declare_incident(
        title="Drill: registers offline",
        severity=severities["SEV1"],
        is_drill=True,
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
    )
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.OPERATIONAL
    assert not ComponentStatusChange.objects.exists()


def test_derived_times_are_computed_from_timestamps(severities, components):
    t0 = timezone.now() - timedelta(hours=3)
    incident = services.declare_incident(
        title="Card processor timeouts",
        severity=severities["SEV2"],
        started_at=t0,
        detected_at=t0 + timedelta(minutes=4),
        at=t0 + timedelta(minutes=6),
    )
    services.post_public_update(incident, "Investigating.", at=t0 + timedelta(minutes=9))
    services.resolve_incident(incident, "Fixed.", at=t0 + timedelta(minutes=70))
    incident.refresh_from_db()
    assert incident.time_to_detect == timedelta(minutes=4)
    assert incident.time_to_first_update == timedelta(minutes=3)
    assert incident.time_to_resolve == timedelta(minutes=70)


def test_maintenance_goes_scheduled_in_progress_completed(components):
    start = timezone.now() - timedelta(minutes=1)
    window = services.schedule_maintenance(
        title="Payment terminal firmware",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=1),
        components=[components["card-payments"]],
        message="Card terminals restart tonight.",
    )
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.OPERATIONAL  # not yet started
    assert services.due_maintenance_transitions() == 1
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.UNDER_MAINTENANCE
    assert services.due_maintenance_transitions(start + timedelta(hours=2)) == 1
    window.refresh_from_db()
    assert window.state == IncidentState.COMPLETED
    components["card-payments"].refresh_from_db()
    assert components["card-payments"].status == ComponentStatus.OPERATIONAL


def test_maintenance_window_must_end_after_it_starts(components):
    now = timezone.now()
    with pytest.raises(DomainError, match="end after"):
        services.schedule_maintenance(
            title="x",
            scheduled_for=now,
            scheduled_until=now,
            components=[components["card-payments"]],
            message="m",
        )


def test_component_status_is_decided_on_the_stored_row_not_a_stale_object(severities, components):
    checkout = components["in-store-checkout"]  # loaded once, reused across incidents
    first = services.declare_incident(
        title="First",
        severity=severities["SEV2"],
        components={checkout: ComponentStatus.MAJOR_OUTAGE},
    )
    services.resolve_incident(first)
    stale = type(checkout).objects.get(pk=checkout.pk)
    stale.status = ComponentStatus.MAJOR_OUTAGE  # what a long-lived object might still say
    services.declare_incident(
        title="Second",
        severity=severities["SEV2"],
        components={stale: ComponentStatus.MAJOR_OUTAGE},
    )
    checkout.refresh_from_db()
    assert checkout.status == ComponentStatus.MAJOR_OUTAGE
    assert ComponentStatusChange.objects.filter(component=checkout).count() == 3
