"""Signals Tideover derives: heartbeat coverage, sale failure rate, staff reports."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

from django.utils import timezone

from tideover.core import events
from tideover.detect import derived
from tideover.detect.models import Signal, SignalPoint
from tideover.detect.signals import minute_of


def test_heartbeat_coverage_is_read_from_storelink(chain):
    from tideover.storelink import services as storelink
    from tideover.storelink.api import HeartbeatIn

    minute = minute_of(timezone.now()) - timedelta(minutes=2)
    for code, store in chain["stores"].items():
        storelink.register_agent(store, agent_id=code, at=minute - timedelta(minutes=5))
    for code in ("S001", "S002", "S003"):
        storelink.record_heartbeat(
            chain["stores"][code],
            HeartbeatIn(store=code, mode="online"),
            at=minute + timedelta(seconds=10),
        )
    derived.derive_until(minute)
    point = SignalPoint.objects.get(signal__slug="heartbeat-coverage", minute=minute)
    assert point.value == 75.0


def test_failed_and_declined_sales_make_the_failure_rate_per_store_and_chain(chain):
    from tideover.sales.services import post_sales

    minute = minute_of(timezone.now()) - timedelta(minutes=3)

    def sale(n, store, status):
        return {
            "sale_id": f"T-{n}",
            "store": store,
            "register": "R1",
            "occurred_at": (minute + timedelta(seconds=n)).isoformat(),
            "status": status,
            "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 100}],
        }

    statuses = ["completed", "completed", "failed", "declined"]
    results = post_sales([sale(i, "S001", s) for i, s in enumerate(statuses)])
    results += post_sales([sale(10 + i, "S002", "completed") for i in range(4)])
    assert {r.result for r in results} == {"posted"}
    derived.derive_until(minute)
    chain_rate = SignalPoint.objects.get(signal__slug="sale-failure-rate", minute=minute)
    assert chain_rate.value == 25.0
    s001 = Signal.objects.get(family="sale-failure-rate", store__code="S001")
    assert SignalPoint.objects.get(signal=s001, minute=minute).value == 50.0


def test_staff_reports_count_once_per_person_and_cause(chain):
    at = minute_of(timezone.now()) - timedelta(minutes=5, seconds=-5)

    def report(key, category, seconds=0):
        return SimpleNamespace(
            store=chain["stores"]["S001"],
            created_at=at + timedelta(seconds=seconds),
            category=category,
            reporter_key=key,
        )

    for item in (
        report("a", "tills"),
        report("a", "tills", 30),
        report("b", "tills"),
        report("a", "cards", 40),
    ):
        events.publish("frontline.problem_reported", report=item)
    point = SignalPoint.objects.get(signal__slug="staff-reports", minute=minute_of(at))
    assert point.value == 3
    store_series = Signal.objects.get(family="staff-reports", store__code="S001")
    assert store_series.points.get().value == 3
