"""Heartbeat minutes (a row per store per minute) and link state changes do not grow forever:
the hourly job prune-storelink deletes them past PRUNE_STORELINK_DAYS, keeping what the
postmortems and the Stores page still read."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tideover.core import periodic
from tideover.incidents.models import Incident
from tideover.incidents.services import declare_incident
from tideover.storelink import pruning, services
from tideover.storelink.models import HeartbeatMinute, StateChange, StoreAgent


def _minutes(store, start, count):
    HeartbeatMinute.objects.bulk_create(
        HeartbeatMinute(store=store, minute=start + timedelta(minutes=i)) for i in range(count)
    )


def _job():
    [job] = [j for j in periodic.jobs() if j.name == "prune-storelink"]
    assert job.every_seconds == 3600
    return job


def test_old_heartbeat_minutes_and_state_changes_are_deleted_by_the_hourly_job(chain, settings):
    settings.PRUNE_STORELINK_DAYS = 90
    store, other = chain["stores"]["S001"], chain["stores"]["S002"]
    now = timezone.now().replace(second=0, microsecond=0)
    _minutes(store, now - timedelta(days=200), 30)
    _minutes(other, now - timedelta(days=91), 30)
    _minutes(store, now - timedelta(days=89), 30)
    for days in (200, 120, 10):
        StateChange.objects.create(
            store=store, state="offline", previous="online", at=now - timedelta(days=days)
        )
    pruning.KEEP_CHANGES, kept = 1, pruning.KEEP_CHANGES
    try:
        _job().function()
    finally:
        pruning.KEEP_CHANGES = kept
    assert HeartbeatMinute.objects.filter(minute__lt=now - timedelta(days=90)).count() == 0
    assert HeartbeatMinute.objects.count() == 30
    assert list(StateChange.objects.values_list("at", flat=True)) == [now - timedelta(days=10)]


def test_heartbeat_minutes_of_an_incident_stay_for_its_postmortem(chain, severities, settings):
    settings.PRUNE_STORELINK_DAYS = 90
    store = chain["stores"]["S001"]
    services.record_heartbeat(
        store,
        services.Heartbeat(agent_id="a", mode="online"),
        at=timezone.now() - timedelta(days=400),
    )
    StoreAgent.objects.update(registered_at=timezone.now() - timedelta(days=400))
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=200)
    incident = declare_incident(
        title="Payments down",
        severity=severities["SEV2"],
        started_at=start,
        at=start + timedelta(minutes=5),
    )
    Incident.objects.filter(pk=incident.pk).update(resolved_at=start + timedelta(hours=2))
    _minutes(store, start - timedelta(hours=3), 8 * 60)  # 3 h before to 5 h after its start
    before = services.heartbeat_coverage(start, start + timedelta(hours=2))
    counts = pruning.prune_storelink()
    # over an hour before or after it, and the heartbeat that registered the agent
    assert counts["heartbeat_minutes"] == 2 * 60 + 2 * 60 + 1
    assert services.heartbeat_coverage(start, start + timedelta(hours=2)) == before
    assert min(v for _, v in before) == 1.0


def test_each_stores_newest_changes_stay_for_the_stores_page(chain, settings):
    settings.PRUNE_STORELINK_DAYS = 90
    store = chain["stores"]["S001"]
    old = timezone.now() - timedelta(days=300)
    StateChange.objects.bulk_create(
        StateChange(store=store, state="online", previous="offline", at=old + timedelta(hours=i))
        for i in range(70)
    )
    page = services.recent_changes()
    assert pruning.prune_storelink()["state_changes"] == 20
    assert services.recent_changes() == page and len(page) == 50


def test_a_retention_of_zero_keeps_everything(chain, settings):
    settings.PRUNE_STORELINK_DAYS = 0
    _minutes(chain["stores"]["S001"], timezone.now() - timedelta(days=900), 10)
    assert pruning.prune_storelink() == {"heartbeat_minutes": 0, "state_changes": 0}
    assert HeartbeatMinute.objects.count() == 10
