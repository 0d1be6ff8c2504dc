"""Drills run everything but reach no customer or public channel (asserted on the outbox), stay
out of real figures, and end with a report and readiness scores."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.core.models import Component, ComponentStatus
from tideover.frontline import services as frontline
from tideover.incidents import services as incidents
from tideover.notifications.models import ChannelEndpoint, OutboxMessage, Subscriber
from tideover.runbooks import checklists, drills
from tideover.runbooks.models import Checklist


def _drill(severities, components, at, **kwargs):
    return incidents.declare_incident(
        title="Drill: registers lose HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        is_drill=True,
        message="Drill: stores practise selling offline.",
        at=at,
        **kwargs,
    )


def test_a_drill_reaches_staff_but_no_customer_or_public_channel(
    severities, components, chain, staff, settings
):
    settings.NOTIFY_ENQUEUE_TASKS = False
    for channel, address in (
        ("email", "shopper@example.com"),
        ("sms", "+15125550177"),
        ("webhook", "https://hooks.example.com/x"),
    ):
        Subscriber.objects.create(channel=channel, address=address, state="active")
    ChannelEndpoint.objects.create(name="#store-ops", channel="email", target="ops@staff.example")
    drill = _drill(severities, components, timezone.now())
    incidents.post_public_update(drill, "Drill: still practising.", state="identified")
    checklists.tick(
        Checklist.objects.filter(incident=drill, store__code="S001").get().steps.first()
    )
    frontline.submit_report(
        kind="problem",
        category="registers",
        text="drill till down",
        store=chain["stores"]["S001"],
        reporter=staff["store_associate"],
    )
    incidents.resolve_incident(drill, "Drill over.")
    messages = OutboxMessage.objects.all()
    assert messages.exists()
    assert not messages.filter(subscriber__isnull=False).exists()
    assert set(messages.values_list("category", flat=True)) == {"internal"}
    assert set(messages.values_list("recipient", flat=True)) == {"ops@staff.example"}
    assert Component.objects.get(slug="in-store-checkout").status == ComponentStatus.OPERATIONAL
    assert Checklist.objects.filter(incident=drill, is_drill=True).count() == 4 + 3


def test_drill_report_times_each_store_and_scores_readiness(
    severities, components, chain, settings
):
    settings.RESPOND_SILENT_AFTER_MINUTES = 5
    settings.DRILL_FINISH_TARGET_MINUTES = 30
    start = timezone.now() - timedelta(hours=2)
    drill = _drill(severities, components, start)
    lists = {
        c.store.code: c
        for c in Checklist.objects.filter(incident=drill, store__isnull=False).select_related(
            "store"
        )
    }
    # S001: acknowledges in 2 min, finishes in 20: full marks.
    checklists.acknowledge(lists["S001"], at=start + timedelta(minutes=2))
    for step in lists["S001"].steps.all():
        checklists.tick(step, at=start + timedelta(minutes=20))
    # S002: acknowledges in 12.5 min (half marks), never finishes.
    checklists.acknowledge(lists["S002"], at=start + timedelta(minutes=12, seconds=30))
    # S003, S004: silent.
    report = drills.drill_report(drill)
    by_code = {r.code: r for r in report["stores"]}
    assert by_code["S001"].to_acknowledge == timedelta(minutes=2)
    assert by_code["S001"].to_finish == timedelta(minutes=20)
    assert by_code["S001"].score == 100.0
    assert by_code["S002"].score == 25.0
    assert by_code["S003"].score == 0.0 and by_code["S003"].to_acknowledge is None
    assert report["acknowledged"] == 2 and report["finished"] == 1
    assert report["score"] == 31.2  # (100 + 25 + 0 + 0) / 4, rounded
    incidents.resolve_incident(drill, "Drill over.")  # readiness counts finished drills
    readiness = drills.readiness()
    regions = {r["name"]: r["score"] for r in readiness["regions"]}
    assert regions == {"North": 62.5, "South": 0.0}
    assert readiness["stores"][0]["score"] == 0.0  # least ready first


def test_real_incidents_do_not_count_towards_readiness(severities, components, chain):
    incidents.declare_incident(
        title="Real",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
    )
    assert drills.readiness()["stores"] == []


def test_drill_pages(severities, components, chain, client_as):
    drill = _drill(severities, components, timezone.now() - timedelta(minutes=30))
    client = client_as("incident_commander")
    assert "Drill: registers lose HQ" in client.get("/console/respond/drills/").content.decode()
    page = client.get(f"/console/respond/drills/{drill.pk}/")
    assert page.status_code == 200 and "S004" in page.content.decode()
    real = incidents.declare_incident(
        title="Real",
        severity=severities["SEV3"],
        components={components["loyalty"]: ComponentStatus.DEGRADED_PERFORMANCE},
        all_stores=True,
    )
    assert client.get(f"/console/respond/drills/{real.pk}/").status_code == 404
    assert client_as("store_associate").get("/console/respond/drills/").status_code == 403


@pytest.mark.parametrize(
    "ack,finish,score",
    [
        (None, None, 0.0),
        (timedelta(minutes=20), None, 0.0),
        (timedelta(minutes=5), timedelta(minutes=75), 75.0),
    ],
)
def test_drill_score_falls_linearly_from_the_target_to_four_times_it(ack, finish, score, settings):
    settings.RESPOND_SILENT_AFTER_MINUTES = 5
    settings.DRILL_FINISH_TARGET_MINUTES = 30
    assert drills.drill_score(ack, finish) == score


def _north_drill(severities, components, chain, regions=("north",), at=None):
    return incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        regions=[chain["regions"][r] for r in regions],
        is_drill=True,
        at=at,
    )


def _finish_every_checklist(drill, at):
    for c in Checklist.objects.filter(incident=drill, store__isnull=False):
        for step in c.steps.all():
            checklists.tick(step, at=at)


def test_a_drill_just_declared_does_not_drag_readiness_to_zero(severities, components, chain):
    t0 = timezone.now() - timedelta(days=3)
    first = _north_drill(severities, components, chain, at=t0)
    _finish_every_checklist(first, t0 + timedelta(minutes=1))
    incidents.resolve_incident(first, at=t0 + timedelta(hours=1))
    assert {s["code"]: s["score"] for s in drills.readiness()["stores"]}["S001"] == 100.0
    live = _north_drill(severities, components, chain)
    readiness = drills.readiness()
    assert {s["code"]: s["score"] for s in readiness["stores"]}["S001"] == 100.0
    assert live in readiness["drills"]  # still listed, with its live report


def test_readiness_is_over_the_drills_a_store_took_part_in(severities, components, chain, settings):
    settings.DRILL_READINESS_WINDOW = 2
    t0 = timezone.now() - timedelta(days=30)
    first = _north_drill(severities, components, chain, at=t0)
    _finish_every_checklist(first, t0 + timedelta(minutes=1))
    incidents.resolve_incident(first, at=t0 + timedelta(hours=1))
    for day in (10, 20):
        d = _north_drill(severities, components, chain, ("south",), t0 + timedelta(days=day))
        incidents.resolve_incident(d, at=t0 + timedelta(days=day, hours=1))
    stores = {s["code"]: s for s in drills.readiness()["stores"]}
    assert stores["S001"]["score"] == 100.0 and stores["S001"]["drills"] == 1
    assert stores["S003"]["score"] == 0.0 and stores["S003"]["drills"] == 2


def test_readiness_keeps_each_stores_last_drills_only(severities, components, chain, settings):
    settings.DRILL_READINESS_WINDOW = 2
    t0 = timezone.now() - timedelta(days=30)
    for day, finish in ((0, True), (10, False), (20, True)):
        drill = _north_drill(severities, components, chain, at=t0 + timedelta(days=day))
        if finish:
            _finish_every_checklist(drill, t0 + timedelta(days=day, minutes=1))
        incidents.resolve_incident(drill, at=t0 + timedelta(days=day, hours=1))
    stores = {s["code"]: s for s in drills.readiness()["stores"]}
    assert stores["S001"]["drills"] == 2 and stores["S001"]["score"] == 50.0  # (0 + 100) / 2


def test_readiness_reads_the_same_number_of_queries_for_more_stores_and_drills(
    severities, components, chain
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tideover.core.models import Region, Store

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            drills.readiness()
        return len(captured)

    t0 = timezone.now() - timedelta(days=30)
    incidents.resolve_incident(_drill(severities, components, t0), at=t0 + timedelta(hours=1))
    few = queries()
    north = Region.objects.get(slug="north")
    Store.objects.bulk_create(
        [Store(code=f"X{i:03d}", name=f"Extra {i}", region=north) for i in range(30)]
    )
    for day in (5, 10):
        at = t0 + timedelta(days=day)
        incidents.resolve_incident(_drill(severities, components, at), at=at + timedelta(hours=1))
    assert len(drills.readiness()["stores"]) == 34
    assert queries() == few
