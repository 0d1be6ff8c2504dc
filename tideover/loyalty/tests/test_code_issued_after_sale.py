"""A code is known only once it is issued: a sale dated before that (a back-dated sale, up to
SALES_MAX_AGE_DAYS) cannot spend it; a till whose clock is behind HQ's (up to an hour) still
can."""

from datetime import timedelta

from tideover.loyalty.models import Reward
from tideover.loyalty.tests.factories import BASE_TIME, sale
from tideover.sales.models import Sale
from tideover.sales.services import post_sales


def issued_reward(member) -> Reward:
    [earned] = post_sales([sale(member=member.loyalty_id, cents=5_000, at=BASE_TIME)])
    return Reward.objects.get(code=earned.rewards[0]["code"])


def test_a_code_is_refused_on_a_sale_made_before_it_was_issued(member):
    reward = issued_reward(member)
    back_dated = sale(cents=2_500, codes=[reward.code], at=reward.issued_at - timedelta(days=30))
    [result] = post_sales([back_dated])
    assert result.result == "rejected"
    assert reward.code in result.reason and "issued on" in result.reason, result.reason
    assert "after it was issued" in result.reason
    assert not Sale.objects.filter(sale_id=back_dated["sale_id"]).exists()
    assert Reward.objects.get(pk=reward.pk).redeemed_at is None


def test_a_code_works_on_the_next_sale_at_a_till_whose_clock_is_behind(member):
    """Tills drift while a store is offline: half an hour behind HQ is still the next sale."""
    reward = issued_reward(member)
    next_sale = sale(cents=2_500, codes=[reward.code], at=reward.issued_at - timedelta(minutes=30))
    [result] = post_sales([next_sale])
    assert result.result == "posted", result.reason
    assert result.redeemed == [reward.code]
