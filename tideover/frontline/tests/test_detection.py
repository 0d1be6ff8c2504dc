"""The front line is a sensor: problem reports from stores become the staff-reports signal,
and above a threshold they raise an alert (when the Detect capability is installed)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from tideover.frontline import services

pytestmark = pytest.mark.skipif(
    not apps.is_installed("tideover.detect"), reason="the Detect capability is not installed"
)


def test_reports_from_stores_count_per_minute_and_raise_an_alert_above_the_threshold(
    chain, staff, client_as
):
    from tideover.detect import derived
    from tideover.detect.models import Alert, Rule, SignalPoint
    from tideover.detect.scoring import run_detection

    signal = derived.builtin(derived.STAFF_REPORTS)
    Rule.objects.create(
        name="Stores report problems", signal=signal, comparison="above", threshold=2, minutes=1
    )
    minute = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    reporters = ["store_associate", "store_manager", "associate_s002"]
    for n, who in enumerate(reporters):
        store = staff[who].staff_profile.store
        services.submit_report(
            kind="problem",
            category="registers",
            text=f"Tills frozen ({n})",
            store=store,
            reporter=staff[who],
            at=minute + timedelta(seconds=10 * n),
        )
    point = SignalPoint.objects.get(signal=signal, minute=minute)
    assert point.value == 3
    run_detection(minute)
    alert = Alert.objects.get()
    assert signal in alert.signals.all()


def test_insights_and_drill_reports_are_not_counted(chain, staff):
    from tideover.detect.models import SignalPoint

    services.submit_report(
        kind="insight",
        category="customers-asking",
        text="Points?",
        store=chain["stores"]["S001"],
        reporter=staff["store_associate"],
    )
    assert not SignalPoint.objects.exists()
