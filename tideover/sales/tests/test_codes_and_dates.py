import json
from datetime import UTC, datetime, timedelta

import pytest

from tideover.loyalty.models import Member, Reward
from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale


def post(client, path, body, headers):
    return client.post(path, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def agent(api_token, chain):
    return api_token("sales:write", store=chain["stores"]["S001"], name="agent S001")


@pytest.fixture
def reward_code(db, chain, settings):
    from tideover.loyalty.members import create_member
    from tideover.sales.services import post_sales

    settings.LOYALTY_POINTS_PER_DOLLAR = 1
    create_member(name="Dana Shopper", loyalty_id="M0000042")
    [result] = post_sales([sale(member="M0000042", cents=50_000)])  # 500 points: one reward
    return result.rewards[0]["code"]


def spending(code: str, **kwargs) -> dict:
    """A sale that uses ``code``, made now (after the code was issued, as at a real till)."""
    return sale(codes=[code], at=datetime.now(UTC), **kwargs)


@pytest.fixture
def real_bounds(settings):
    settings.SALES_FUTURE_TOLERANCE_SECONDS = 300
    settings.SALES_MAX_AGE_DAYS = 400


def test_declined_sale_does_not_use_up_the_reward_code(client, agent, reward_code):
    declined = post(
        client, "/api/v1/sales", sale(status="declined", codes=[reward_code]), agent
    ).json()
    assert declined["result"] == "posted"
    assert declined["redeemed"] == []
    assert any(reward_code in note and "not used" in note for note in declined["notes"])
    assert Reward.objects.get(code=reward_code).redeemed_at is None
    retry = post(client, "/api/v1/sales", spending(reward_code), agent).json()
    assert retry["result"] == "posted", retry
    assert retry["redeemed"] == [reward_code]
    assert Reward.objects.get(code=reward_code).redeemed_sale_id == retry["sale_id"]


@pytest.mark.parametrize("status", ["failed", "voided"])
def test_failed_or_voided_sale_does_not_use_up_the_reward_code(client, agent, reward_code, status):
    result = post(client, "/api/v1/sales", sale(status=status, codes=[reward_code]), agent).json()
    assert result["result"] == "posted" and result["redeemed"] == []
    assert Reward.objects.get(code=reward_code).redeemed_at is None


def test_return_carrying_a_code_does_not_redeem_it(client, agent, reward_code):
    original = sale(cents=1000)
    post(client, "/api/v1/sales", original, agent)
    refund = sale(kind="return", original=original["sale_id"], cents=1000, codes=[reward_code])
    result = post(client, "/api/v1/sales", refund, agent).json()
    assert result["result"] == "posted" and result["redeemed"] == []
    assert Reward.objects.get(code=reward_code).redeemed_at is None


def test_sale_in_the_future_is_rejected_and_earns_nothing(client, agent, reward_code, real_bounds):
    later = sale(member="M0000042", at=datetime(2099, 12, 31, tzinfo=UTC))
    response = post(client, "/api/v1/sales", later, agent)
    assert response.status_code == 422
    assert "occurred_at" in response.json()["detail"]
    assert "future" in response.json()["detail"]
    assert not Sale.objects.filter(sale_id=later["sale_id"]).exists()
    assert Member.objects.get(loyalty_id="M0000042").balance == 0


def test_a_till_clock_a_minute_fast_is_still_accepted(client, agent, real_bounds):
    soon = sale(at=datetime.now(UTC) + timedelta(minutes=1))
    assert post(client, "/api/v1/sales", soon, agent).json()["result"] == "posted"


def test_future_tolerance_is_a_setting(client, agent, settings):
    settings.SALES_FUTURE_TOLERANCE_SECONDS = 0
    settings.SALES_MAX_AGE_DAYS = 400
    soon = sale(at=datetime.now(UTC) + timedelta(minutes=1))
    assert post(client, "/api/v1/sales", soon, agent).status_code == 422


def test_sale_older_than_the_bound_is_rejected(client, agent, real_bounds):
    old = sale(at=datetime.now(UTC) - timedelta(days=401))
    response = post(client, "/api/v1/sales", old, agent)
    assert response.status_code == 422
    assert "400 days" in response.json()["detail"]


@pytest.mark.parametrize(
    "occurred_at",
    ["9999-12-31T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"],
)
def test_dates_at_the_edge_of_the_calendar_are_rejected_not_a_server_error(
    client, agent, reward_code, real_bounds, occurred_at
):
    edge = {**sale(member="M0000042"), "occurred_at": occurred_at}
    response = post(client, "/api/v1/sales", edge, agent)
    assert response.status_code == 422, response.content
    assert "occurred_at" in response.json()["detail"]


def test_one_sale_with_a_bad_date_does_not_fail_the_batch(client, agent, reward_code, real_bounds):
    good = sale(member="M0000042", at=datetime.now(UTC) - timedelta(hours=1))
    batch = [
        {**sale(member="M0000042"), "occurred_at": "9999-12-31T00:00:00Z"},
        {**sale(member="M0000042"), "occurred_at": "0001-01-01T00:00:00+05:00"},
        sale(member="M0000042", at=datetime(2099, 12, 31, tzinfo=UTC)),
        good,
    ]
    response = post(client, "/api/v1/sales:batch", {"sales": batch}, agent)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["rejected", "rejected", "rejected", "posted"]
    assert "calendar" in results[1]["reason"] and "future" in results[2]["reason"]
    assert all("occurred_at" in r["reason"] for r in results[:3])
    assert Sale.objects.filter(sale_id=good["sale_id"]).exists()
    assert not Sale.objects.filter(sale_id__in=[s["sale_id"] for s in batch[:3]]).exists()


def test_void_of_a_sale_that_used_a_reward_makes_the_reward_usable_again(
    client, agent, reward_code
):
    from tideover.loyalty.models import AuditRecord

    used = spending(reward_code)
    assert post(client, "/api/v1/sales", used, agent).json()["redeemed"] == [reward_code]
    void = sale(cents=0, kind="void", original=used["sale_id"])
    result = post(client, "/api/v1/sales", void, agent).json()
    assert result["result"] == "posted", result
    assert f"Reward {reward_code} is usable again" in result["notes"]
    assert Reward.objects.get(code=reward_code).redeemed_at is None
    record = AuditRecord.objects.get(action="reward_reinstated")
    assert used["sale_id"] in record.detail and void["sale_id"] in record.detail
    assert Sale.objects.get(sale_id=used["sale_id"]).codes == [reward_code]  # history kept
    again = post(client, "/api/v1/sales", spending(reward_code), agent).json()
    assert again["redeemed"] == [reward_code]
    # Resending the void changes nothing: the reward stays used by the new sale.
    assert post(client, "/api/v1/sales", void, agent).json()["result"] == "duplicate"
    assert Reward.objects.get(code=reward_code).redeemed_sale_id == again["sale_id"]


def test_declined_void_does_not_give_the_reward_back(client, agent, reward_code):
    used = spending(reward_code)
    post(client, "/api/v1/sales", used, agent)
    void = sale(cents=0, kind="void", original=used["sale_id"], status="declined")
    post(client, "/api/v1/sales", void, agent)
    assert Reward.objects.get(code=reward_code).redeemed_sale_id == used["sale_id"]
