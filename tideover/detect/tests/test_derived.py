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


def test_offline_queue_depth_is_derived_from_store_agents_heartbeats(chain):
    from tideover.storelink import services as storelink

    minute = minute_of(timezone.now()) - timedelta(minutes=4)
    stores = chain["stores"]
    for code, store in stores.items():
        storelink.register_agent(store, agent_id=code, at=minute - timedelta(minutes=5))

    def heard(code, offset, queued):
        beat = storelink.Heartbeat(agent_id=code, mode="offline", queue_depth=queued)
        storelink.record_heartbeat(stores[code], beat, at=minute + timedelta(seconds=offset))

    heard("S001", 5, 10)
    heard("S002", 5, 4)
    heard("S001", 50, 12)  # the last heartbeat of the minute is what the queue held
    heard("S001", 70, 30)  # S002 says nothing more: its 4 queued sales still count
    derived.derive_until(minute + timedelta(minutes=2))
    series = dict(
        SignalPoint.objects.filter(signal__slug=derived.QUEUE_DEPTH).values_list("minute", "value")
    )
    assert series == {
        minute: 16.0,
        minute + timedelta(minutes=1): 34.0,
        minute + timedelta(minutes=2): 34.0,
    }
    assert Signal.objects.get(slug=derived.QUEUE_DEPTH).unit == "sales"


def post_checkouts(client, headers, reports):
    import json

    return client.post(
        "/api/v1/web-checkouts",
        json.dumps({"reports": reports}),
        content_type="application/json",
        **headers,
    )


def test_web_checkout_error_rate_is_derived_from_checkouts_reported_through_the_api(
    client, api_token
):
    headers = api_token("signals:write")
    minute = minute_of(timezone.now()) - timedelta(minutes=10)

    def at(k):
        return (minute + timedelta(minutes=k, seconds=20)).isoformat()

    answer = post_checkouts(
        client,
        headers,
        [
            {"minute": at(0), "checkouts": 40, "errors": 0, "source": "web-1"},
            {"minute": at(0), "checkouts": 60, "errors": 2, "source": "web-2"},
            {"minute": at(1), "checkouts": 100, "errors": 48, "source": "web-1"},
        ],
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["recorded"] == 3
    derived.derive_until(minute + timedelta(minutes=6))
    series = dict(
        SignalPoint.objects.filter(signal__slug=derived.WEB_CHECKOUT_ERRORS).values_list(
            "minute", "value"
        )
    )
    # Five minutes together, every server together; a minute with no checkout in its window
    # has no rate (not 0%).
    assert series[minute] == 2.0
    assert series[minute + timedelta(minutes=1)] == 25.0
    assert series[minute + timedelta(minutes=4)] == 25.0
    assert series[minute + timedelta(minutes=5)] == 48.0
    assert minute + timedelta(minutes=6) not in series


def test_web_checkout_reports_are_idempotent_by_source_and_minute(client, api_token):
    headers = api_token("signals:write")
    minute = (minute_of(timezone.now()) - timedelta(minutes=3)).isoformat()
    first = {"minute": minute, "checkouts": 10, "errors": 1, "source": "web-1"}
    assert post_checkouts(client, headers, [first]).json()["recorded"] == 1
    answer = post_checkouts(
        client,
        headers,
        [
            first,
            {**first, "errors": 5},
            {**first, "source": "web-2", "errors": 11},
            {**first, "source": "web-3", "minute": "2999-01-01T00:00:00Z"},
        ],
    ).json()
    assert [r["result"] for r in answer["results"]] == [
        "duplicate",
        "conflict",
        "rejected",
        "rejected",
    ]
    assert "the first stays" in answer["results"][1]["reason"]
    assert "errors cannot be more than checkouts" in answer["results"][2]["reason"]
    assert "future" in answer["results"][3]["reason"]
    assert post_checkouts(client, api_token("incidents:write"), [first]).status_code == 403


def test_the_minute_job_derives_queue_depth_and_checkout_errors_with_the_others(chain):
    from tideover.core import periodic
    from tideover.detect import checkouts, tasks
    from tideover.storelink import services as storelink

    assert periodic._jobs["detect"].function is tasks.detect_now
    minute = minute_of(timezone.now()) - timedelta(minutes=2)
    store = chain["stores"]["S001"]
    storelink.register_agent(store, agent_id="S001", at=minute - timedelta(minutes=5))
    storelink.record_heartbeat(
        store, storelink.Heartbeat(agent_id="S001", queue_depth=7), at=minute
    )
    checkouts.record_checkouts([checkouts.CheckoutReport(minute, 20, 5)])
    tasks.detect_now()
    values = dict(SignalPoint.objects.filter(minute=minute).values_list("signal__slug", "value"))
    assert values[derived.QUEUE_DEPTH] == 7.0
    assert values[derived.WEB_CHECKOUT_ERRORS] == 25.0
    assert values[derived.HEARTBEATS] == 100.0  # the one store with an agent was heard
