"""90-day history bars: per component and day, the worst status and the minutes of outage."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tideover.core.models import Component, ComponentStatus
from tideover.incidents import services
from tideover.incidents.models import ComponentStatusChange
from tideover.statuspage.history import component_history

CHICAGO = ZoneInfo("America/Chicago")


def at(day, hour, minute=0, zone=CHICAGO):
    return datetime(2026, 3, day, hour, minute, tzinfo=zone)


@pytest.fixture
def checkout(db):
    component = Component.objects.create(name="In-store checkout", slug="checkout")
    Component.objects.filter(pk=component.pk).update(created_at=at(1, 0) - timedelta(days=200))
    component.refresh_from_db()
    return component


def change(component, when, status, previous):
    ComponentStatusChange.objects.create(
        component=component, status=status, previous_status=previous, at=when
    )


@pytest.mark.django_db
def test_history_bars_show_worst_status_of_the_day(settings, checkout):
    settings.TIME_ZONE = "America/Chicago"
    change(checkout, at(10, 9), ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.OPERATIONAL)
    change(checkout, at(10, 10), ComponentStatus.MAJOR_OUTAGE, ComponentStatus.DEGRADED_PERFORMANCE)
    change(checkout, at(10, 10, 45), ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE)
    change(checkout, at(10, 11), ComponentStatus.OPERATIONAL, ComponentStatus.PARTIAL_OUTAGE)
    (history,) = component_history([checkout], now=at(12, 12))
    assert len(history.days) == 90
    assert history.days[-1].day.isoformat() == "2026-03-12"
    by_day = {bar.day.isoformat(): bar for bar in history.days}
    bad = by_day["2026-03-10"]
    assert bad.worst == ComponentStatus.MAJOR_OUTAGE
    assert bad.minutes == {"degraded_performance": 60, "major_outage": 45, "partial_outage": 15}
    assert bad.outage_minutes == 60
    assert "worst major outage" in bad.label and "45 min major outage" in bad.label
    assert by_day["2026-03-09"].worst == ComponentStatus.OPERATIONAL
    assert by_day["2026-03-11"].label == "Mar 11: operational"
    assert 99.0 < history.uptime_percent < 100.0


@pytest.mark.django_db
def test_days_follow_the_page_time_zone(settings, checkout):
    settings.TIME_ZONE = "America/Chicago"
    # 23:00-23:30 Chicago on the 10th is 05:00-05:30 UTC on the 11th.
    change(checkout, at(10, 23), ComponentStatus.MAJOR_OUTAGE, ComponentStatus.OPERATIONAL)
    change(checkout, at(10, 23, 30), ComponentStatus.OPERATIONAL, ComponentStatus.MAJOR_OUTAGE)
    (history,) = component_history([checkout], now=at(12, 12))
    by_day = {bar.day.isoformat(): bar for bar in history.days}
    assert by_day["2026-03-10"].worst == ComponentStatus.MAJOR_OUTAGE
    assert by_day["2026-03-11"].worst == ComponentStatus.OPERATIONAL


@pytest.mark.django_db
def test_outage_spanning_midnight_counts_on_both_days_and_still_open_today(settings, checkout):
    settings.TIME_ZONE = "UTC"
    utc = ZoneInfo("UTC")
    change(
        checkout, at(10, 23, 0, utc), ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.OPERATIONAL
    )
    (history,) = component_history([checkout], now=at(11, 2, 0, utc))
    assert history.days[-2].minutes == {"partial_outage": 60}
    assert history.days[-1].minutes == {"partial_outage": 120}
    assert history.days[-1].outage_minutes == 120


@pytest.mark.django_db
def test_status_before_the_window_carries_in_and_days_before_creation_have_no_data(
    settings, checkout
):
    settings.TIME_ZONE = "UTC"
    utc = ZoneInfo("UTC")
    change(
        checkout,
        at(1, 0, 0, utc) - timedelta(days=120),
        ComponentStatus.DEGRADED_PERFORMANCE,
        "operational",
    )
    (history,) = component_history(
        [checkout], now=at(12, 0, 0, utc) - timedelta(days=120) + timedelta(days=91)
    )
    assert history.days[0].worst == ComponentStatus.DEGRADED_PERFORMANCE
    young = Component.objects.create(name="Mobile app", slug="mobile")
    (fresh,) = component_history([young])
    assert fresh.days[0].worst == "" and fresh.days[0].css == "n"
    assert fresh.days[0].label.endswith("no data")
    assert fresh.days[-1].worst == ComponentStatus.OPERATIONAL


@pytest.mark.django_db
def test_drills_leave_no_trace_in_history(severities, components):
    services.declare_incident(
        title="Drill",
        severity=severities["SEV1"],
        components={components["card-payments"]: ComponentStatus.MAJOR_OUTAGE},
        is_drill=True,
    )
    history = component_history([components["card-payments"]])
    assert all(bar.worst in ("", ComponentStatus.OPERATIONAL) for bar in history[0].days)


@pytest.mark.django_db
def test_history_takes_two_queries_for_any_number_of_components(
    components, django_assert_num_queries
):
    with django_assert_num_queries(2):
        component_history(list(components.values()))
