"""The demo's stores answer the plan inside the scenario replay (runbooks.demo.attach)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone

from tideover.core.models import ComponentStatus, StaffProfile
from tideover.frontline.models import Report
from tideover.incidents import services as incidents
from tideover.runbooks import demo
from tideover.runbooks.models import Checklist


def test_demo_stores_acknowledge_work_get_stuck_and_report(severities, components, chain, staff):
    staff["store_associate"].username = "alex.associate"
    staff["store_associate"].save()
    assert StaffProfile.objects.get(user=staff["store_associate"]).store.code == "S001"
    start = timezone.now() - timedelta(hours=2)
    seen = []
    runner = SimpleNamespace(
        start=start,
        shift=SimpleNamespace(incident=None, resolved=False),
        tick=lambda label, done, total: seen.append(done),
    )
    demo.attach(runner)
    runner.shift.incident = incidents.declare_incident(
        title="Registers cannot reach HQ",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: ComponentStatus.MAJOR_OUTAGE},
        all_stores=True,
        at=start,
    )
    for minute in range(0, 32):
        runner.tick("", minute, 40)
    assert seen == list(range(32))  # the replay's own tick still runs
    lists = Checklist.objects.filter(store__isnull=False)
    assert lists.filter(acknowledged_at__isnull=False).count() == 4
    assert lists.filter(done_at__isnull=False).count() == 4
    assert Report.objects.count() == 4 and Report.objects.filter(answer__gt="").count() == 2
