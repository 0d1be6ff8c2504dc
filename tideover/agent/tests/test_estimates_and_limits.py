"""The agent estimates points with HQ's accrual rules (tier, rule, promotion, cap, review), so
its provisional points are what HQ posts; it applies HQ's per-sale limits at the till in HQ's
words; and a return's original_store reaches HQ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tideover.agent.tests.conftest import sale
from tideover.sales import limits
from tideover.sales.models import Sale
from tideover.sales.schemas import SaleIn


def _member(loyalty_id: str, tier: str = "member"):
    from tideover.loyalty.members import create_member

    return create_member(name="Kim", loyalty_id=loyalty_id, tier=tier)


def test_provisional_points_use_hqs_tier_rule_and_promotion(http_agent, settings):  # noqa: F811
    from tideover.loyalty.models import AccrualRule, Promotion

    settings.LOYALTY_POINTS_PER_DOLLAR = 10
    now = datetime.now(UTC)
    _member("M0000099", tier="cardholder")  # 150% (LOYALTY_TIERS)
    AccrualRule.objects.create(points_per_dollar=11, starts_at=now - timedelta(days=30))
    AccrualRule.objects.create(points_per_dollar=12, starts_at=now - timedelta(hours=2))
    Promotion.objects.create(
        name="Double for cardholders",
        multiplier_percent=200,
        starts_at=now - timedelta(hours=3),
        ends_at=now + timedelta(hours=3),
        tiers=["cardholder"],
    )
    Promotion.objects.create(
        name="Next week", multiplier_percent=500, starts_at=now + timedelta(days=7),
        ends_at=now + timedelta(days=8),
    )  # fmt: skip
    agent, client = http_agent()
    assert agent.heartbeat(), agent.link_error  # HQ's rules ride on the heartbeat's answer
    assert client.get("/api/v1/members/M0000099/balance").json()["hq_balance"] == 0  # tier seen
    agent.online = False
    answer = client.post("/api/v1/sales", json=sale(cents=2_000, member="M0000099")).json()
    assert answer["points"] == 2_000 * 12 * 150 * 200 // 1_000_000 == 720
    agent.online = True
    agent.forwarder.drain()
    assert agent.journal.sale_state(answer["sale_id"])["hq_points"] == 720
    view = client.get("/api/v1/members/M0000099/balance").json()
    assert view["hq_minus_estimate_points"] == 0


def test_the_tier_is_learned_from_hqs_answer_to_a_forwarded_sale(http_agent, settings):  # noqa: F811
    settings.LOYALTY_POINTS_PER_DOLLAR = 10
    _member("M0000098", tier="cardholder")
    agent, client = http_agent()
    assert agent.heartbeat(), agent.link_error
    first = client.post("/api/v1/sales", json=sale(cents=1_000, member="M0000098")).json()
    assert first["points"] == 100  # tier not known here yet: the base tier's estimate
    agent.forwarder.drain()
    assert agent.journal.tier("M0000098") == "cardholder"
    second = client.post("/api/v1/sales", json=sale(cents=1_000, member="M0000098")).json()
    assert second["points"] == 150
    agent.forwarder.drain()
    assert agent.journal.sale_state(second["sale_id"])["hq_points"] == 150


def test_points_hq_would_cap_or_hold_for_review_are_estimated_as_hq_posts_them(
    http_agent,  # noqa: F811
    settings,
):
    settings.LOYALTY_SALE_POINTS_CAP = 300
    settings.LOYALTY_SALE_POINTS_REVIEW = 250
    settings.LOYALTY_POINTS_PER_DOLLAR = 1
    _member("M0000097")
    agent, client = http_agent()
    assert agent.heartbeat(), agent.link_error
    agent.online = False
    within = client.post("/api/v1/sales", json=sale(cents=20_000, member="M0000097")).json()
    held = client.post("/api/v1/sales", json=sale(cents=40_000, member="M0000097")).json()
    assert within["points"] == 200 and held["points"] == 0  # 400 capped to 300, over 250: held
    agent.online = True
    agent.forwarder.drain()
    assert client.get("/api/v1/members/M0000097/balance").json()["hq_minus_estimate_points"] == 0


def test_hqs_per_sale_limits_are_refused_at_the_till_in_hqs_words(http_agent, settings):  # noqa: F811
    settings.SALES_MAX_LINES = 2
    settings.SALES_MAX_LINE_QUANTITY = 5
    settings.SALES_MAX_AMOUNT_CENTS = 10_000
    agent, client = http_agent()
    assert agent.heartbeat(), agent.link_error
    agent.online = False  # offline: HQ would only have said so much later
    three_lines = sale()
    three_lines["lines"] = [{"sku": f"SKU-{n}", "quantity": 1, "unit_price_cents": 100} for n in (1, 2, 3)]  # fmt: skip
    three_lines["tenders"] = [{"kind": "cash", "amount_cents": 300}]
    many_units = sale()
    many_units["lines"] = [{"sku": "SKU-1", "quantity": 6, "unit_price_cents": 100}]
    too_much = sale(cents=10_001)
    for bad in (three_lines, many_units, too_much):
        answer = client.post("/api/v1/sales", json=bad).json()
        assert answer["result"] == "refused"
        assert answer["reason"] == limits.per_sale_refusal(SaleIn.model_validate(bad))
    assert "SALES_MAX_LINES" in client.post("/api/v1/sales", json=three_lines).json()["reason"]
    assert client.post("/api/v1/sales", json=sale(cents=10_000)).json()["result"] == "accepted"
    assert agent.journal.queued == 1


def test_the_limits_hold_offline_after_a_restart(make_agent, settings, tmp_path):
    settings.SALES_MAX_AMOUNT_CENTS = 5_000
    data = str(tmp_path / "kept")
    first = make_agent(data=data)
    assert first.heartbeat(), first.link_error
    first.stop()
    again = make_agent(data=data, hq="http://127.0.0.1:9")  # HQ out of reach
    [answer] = again.accept([sale(cents=5_001)])
    assert answer.result == "refused" and "over the per-sale limit of $50.00" in answer.reason


def test_a_return_of_another_stores_sale_keeps_its_original_store(make_agent):
    at_s001 = make_agent(store="S001")
    bought = sale(store="S001", sale_id="S001-R1-SHARED-1", cents=3_000)
    at_s001.accept([bought])
    at_s001.forwarder.drain()
    at_s002 = make_agent(store="S002")
    returned = sale(
        store="S002",
        cents=3_000,
        kind="return",
        original_sale_id="S001-R1-SHARED-1",
        original_store="S001",
    )
    [answer] = at_s002.accept([returned])
    assert answer.result == "accepted"
    assert at_s002.forwarder.drain()["posted"] == 1
    posted = Sale.objects.get(sale_id=returned["sale_id"])
    assert posted.original.store.code == "S001" and posted.original.sale_id == bought["sale_id"]
