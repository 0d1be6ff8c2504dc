"""The goodwill policy: what each tier gets, the cost shown before sending, the budget cap."""

from __future__ import annotations

import pytest

from tideover.core.errors import DomainError
from tideover.recovery.campaign import start_campaign
from tideover.recovery.models import Campaign
from tideover.recovery.policy import estimate, is_holdout
from tideover.recovery.tests.conftest import CX

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(incident, sign_up, make_member, settings):
    settings.LOYALTY_REWARD_THRESHOLD_POINTS = 500
    settings.LOYALTY_REWARD_VALUE_CENTS = 500  # a point is worth one cent
    make_member("M-C1", tier="cardholder", phone="+15125550401", sms=True)
    make_member("M-M1", tier="member", email="m1@example.com", mail=True)
    sign_up(loyalty_id="M-C1")
    sign_up(loyalty_id="M-M1")
    sign_up(phone="+15125550403")  # not a member


def test_expected_cost_counts_tier_bonuses_at_the_expected_redemption_rate(incident, three, policy):
    policy(offer_value=500, expected_redemption_percent=20,
           tier_bonus={"cardholder": {"points": 300, "extra": 500}, "member": {"points": 100}})  # fmt: skip
    figures = estimate(incident)
    assert figures["counts"]["offers"] == 3
    assert figures["by_tier"] == {"cardholder": 1, "member": 1, "not a member": 1}
    # discounts: $10 (cardholder: $5 + $5 extra) + $5 + $5 = $20; points: 400 = $4.00
    assert figures["max_cost_cents"] == 2000 + 400
    assert figures["expected_cost_cents"] == 2000 * 20 // 100 + 400
    assert figures["bonus_points"] == 400


def test_percent_offers_cost_their_share_of_a_minimum_spend_basket(incident, three, policy):
    policy(offer_kind="percent", offer_value=10, min_spend_cents=4000,
           expected_redemption_percent=100, tier_bonus={"cardholder": {"extra": 5}})  # fmt: skip
    # 15% + 10% + 10% of $40
    assert estimate(incident)["expected_cost_cents"] == 600 + 400 + 400


def test_sending_over_the_budget_is_refused_with_the_figures(incident, three, policy):
    policy(offer_value=1000, expected_redemption_percent=50, budget_cents=1000)
    with pytest.raises(DomainError, match=r"expected cost \$15.00 is over the budget \$10.00"):
        start_campaign(incident, actor=CX)
    assert not Campaign.objects.exists()
    policy(budget_cents=1500)
    assert start_campaign(incident, actor=CX).state == "running"
    with pytest.raises(DomainError, match="campaign has started"):
        policy(offer_value=100)


def test_a_holdout_share_keeps_the_same_customers_out_every_time(incident, policy, sign_up):
    customers = [sign_up(phone=f"+1512555{5000 + i:04d}") for i in range(200)]
    chosen = policy(holdout_percent=20)
    held = [c.pk for c in customers if is_holdout(chosen, c.pk)]
    assert 20 <= len(held) <= 60  # about a fifth
    assert held == [c.pk for c in customers if is_holdout(chosen, c.pk)]
    assert estimate(incident)["counts"]["holdout"] == len(held)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"offer_value": 0}, "offer_value"),
        ({"offer_kind": "percent", "offer_value": 95}, "offer_value"),
        ({"tier_bonus": {"platinum": {"points": 5}}}, "tier_bonus"),
        ({"tier_bonus": {"member": {"points": -5}}}, "tier_bonus"),
        ({"holdout_percent": 80}, "holdout_percent"),
        ({"valid_days": 0}, "valid_days"),
    ],
)
def test_a_policy_that_makes_no_sense_is_refused_naming_the_field(incident, policy, values, field):
    with pytest.raises(DomainError) as refused:
        policy(**values)
    assert refused.value.field == field


@pytest.mark.parametrize("field", ["offer_value", "min_spend_cents", "budget_cents"])
def test_an_amount_past_any_apology_is_refused_by_name_in_the_form_and_the_service(
    incident, client_as, policy, field
):
    from tideover.recovery.models import GoodwillPolicy

    form = {
        "offer_kind": "amount", "offer_value": "500", "min_spend_cents": "2500",
        "member_bonus_points": "0", "cardholder_bonus_points": "0", "cardholder_extra": "0",
        "valid_days": "30", "channel": "sms_first", "budget_cents": "0",
        "expected_redemption_percent": "20", "holdout_percent": "0", "recovery_window_days": "7",
        field: str(10**20),
    }  # fmt: skip
    page = client_as("cx_manager").post(f"/recover/incidents/{incident.pk}/policy/", form)
    assert page.status_code == 400
    with pytest.raises(DomainError, match=f"{field} is at most"):
        policy(**{field: 10**12})
    assert not GoodwillPolicy.objects.exists()
