import json

from tideover.loyalty.models import Adjustment, Member, Reward
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def adjust(client, points, note="apology"):
    return post(
        client,
        "/api/v1/loyalty/members/M0000042/adjustments",
        {"points": points, "reason_code": "goodwill", "note": note},
    ).json()


def test_splitting_a_large_adjustment_still_needs_a_second_person(member, client_as):
    service = client_as("customer_service")
    states = [adjust(service, 1000, f"part {n}")["state"] for n in range(3)]
    assert states == ["posted", "pending", "pending"]
    assert Member.objects.get(pk=member.pk).balance == 1000 - 1000 // 500 * 500


def test_small_adjustments_within_the_limit_post_at_once(member, client_as):
    service = client_as("customer_service")
    assert [adjust(service, 400)["state"] for _ in range(2)] == ["posted", "posted"]
    assert adjust(service, 300)["state"] == "pending"  # 400 + 400 + 300 passes 1,000


def test_debits_count_toward_the_window_too(member, client_as):
    service = client_as("customer_service")
    adjust(service, 900)
    assert adjust(service, -200)["state"] == "pending"


def test_adjustments_older_than_the_window_do_not_count(member, client_as, settings):
    from datetime import timedelta

    from django.utils import timezone

    service = client_as("customer_service")
    adjust(service, 1000)
    Adjustment.objects.update(requested_at=timezone.now() - timedelta(hours=25))
    assert adjust(service, 1000)["state"] == "posted"
    settings.LOYALTY_ADJUSTMENT_WINDOW_HOURS = 24 * 365
    assert adjust(service, 10)["state"] == "pending"


def test_another_persons_adjustments_count_separately(member, client_as):
    adjust(client_as("customer_service"), 1000)
    assert adjust(client_as("administrator"), 1000)["state"] == "posted"


def _reward(member) -> str:
    [result] = post_sales([sale(member=member.loyalty_id, cents=5000)])
    return result.rewards[0]["code"]


def test_store_agent_token_sees_reward_codes_masked(member, client, api_token, chain):
    code = _reward(member)
    headers = api_token("loyalty:read", store=chain["stores"]["S001"])
    [shown] = client.get("/api/v1/loyalty/members/M0000042/rewards", **headers).json()
    assert shown["code"] != code
    assert shown["code"].endswith(code[-4:]) and code[:4] not in shown["code"]
    assert shown["value_cents"] == 500
    assert Reward.objects.get(code=code).redeemed_at is None


def test_read_only_token_without_store_sees_codes_masked(member, client, api_token):
    code = _reward(member)
    [shown] = client.get(
        "/api/v1/loyalty/members/M0000042/rewards", **api_token("loyalty:read")
    ).json()
    assert shown["code"] == "****-****-" + code[-4:]


def test_staff_and_write_tokens_see_reward_codes_in_full(member, client, client_as, api_token):
    code = _reward(member)
    staff = client_as("customer_service").get("/api/v1/loyalty/members/M0000042/rewards").json()
    assert staff[0]["code"] == code
    writer = api_token("loyalty:read", "loyalty:write")
    full = client.get("/api/v1/loyalty/members/M0000042/rewards", **writer).json()
    assert full[0]["code"] == code


def test_balance_and_statement_do_not_show_codes_to_a_store_agent(member, client, api_token, chain):
    code = _reward(member)
    headers = api_token("loyalty:read", store=chain["stores"]["S001"])
    base = "/api/v1/loyalty/members/M0000042"
    balance = client.get(f"{base}/balance", **headers).json()
    assert balance["pending_rewards"][0]["code"] == "****-****-" + code[-4:]
    statement = client.get(f"{base}/statement", **headers)
    assert code not in statement.content.decode()
    writer = api_token("loyalty:read", "loyalty:write")
    assert code in client.get(f"{base}/statement", **writer).content.decode()


def test_points_must_be_a_json_integer_not_true_or_a_string(member, client_as):
    service = client_as("customer_service")
    for points in (True, "100", 100.0):
        response = post(
            service,
            "/api/v1/loyalty/members/M0000042/adjustments",
            {"points": points, "reason_code": "goodwill", "note": "sorry"},
        )
        assert response.status_code == 422, (points, response.content)
        assert "points" in response.json()["detail"]
    assert not Adjustment.objects.exists()
