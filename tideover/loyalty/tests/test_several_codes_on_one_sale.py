"""Several reward or goodwill codes on one sale apply in order, each taking off at most what
the codes before it left of the sale's total: the discount recorded is never more than the
sale cost, and among several codes one that takes nothing off is refused by name and stays
usable."""

from datetime import UTC, datetime, timedelta

from django.db.models import Sum

from tideover.loyalty.models import Reward
from tideover.loyalty.offers import OfferTerms, mint_goodwill_codes
from tideover.loyalty.tests.factories import BASE_TIME, sale
from tideover.sales.models import Sale
from tideover.sales.services import post_sales


def two_rewards(member) -> list[str]:
    [earned] = post_sales([sale(member=member.loyalty_id, cents=10_000)])  # 1,000 points
    codes = [r["code"] for r in earned.rewards]
    assert len(codes) == 2 and all(r["value_cents"] == 500 for r in earned.rewards)
    return codes


def goodwill(percent_off: int = 0, value_cents: int = 0) -> str:
    terms = OfferTerms(
        value_cents, percent_off, 0, BASE_TIME - timedelta(days=30), BASE_TIME + timedelta(days=30)
    )
    [(_, code)] = mint_goodwill_codes([None], [terms], source="incident:1")
    return code


def spending(codes: list[str], cents: int) -> dict:
    # Made now: after the codes were issued, as at a real till.
    return sale(cents=cents, codes=codes, at=datetime.now(UTC))


def discounts(codes: list[str]) -> dict[str, int | None]:
    return dict(Reward.objects.filter(code__in=codes).values_list("code", "discount_cents"))


def test_two_reward_codes_take_off_no_more_than_the_sale_total(member):
    first, second = two_rewards(member)
    [result] = post_sales([spending([first, second], 800)])  # $5 + $5 on an $8 sale
    assert result.result == "posted", result.reason
    assert result.redeemed == [first, second]
    assert discounts([first, second]) == {first: 500, second: 300}
    total = Reward.objects.filter(code__in=[first, second]).aggregate(s=Sum("discount_cents"))
    assert total["s"] == 800


def test_a_code_with_nothing_left_to_take_off_is_refused_by_name_and_stays_usable(member):
    first, second = two_rewards(member)
    refused = spending([first, second], 400)  # the first $5 already covers the $4 sale
    [result] = post_sales([refused])
    assert result.result == "rejected"
    assert second in result.reason and "nothing more" in result.reason, result.reason
    assert "$4.00" in result.reason
    assert not Sale.objects.filter(sale_id=refused["sale_id"]).exists()
    # Nothing was used up: the first code too is free again for the sale sent without it.
    assert discounts([first, second]) == {first: None, second: None}
    [again] = post_sales([spending([first], 400)])
    assert again.result == "posted" and discounts([first]) == {first: 400}
    assert Reward.objects.get(code=second).redeemed_at is None


def test_a_percent_code_after_a_fixed_one_takes_its_share_of_what_is_left(member):
    [fixed, _] = two_rewards(member)
    percent = goodwill(percent_off=10)
    [result] = post_sales([spending([fixed, percent], 2_500)])  # $25 - $5, then 10% of $20
    assert result.result == "posted", result.reason
    assert discounts([fixed, percent]) == {fixed: 500, percent: 200}


def test_one_code_still_takes_off_its_value_up_to_the_sale_total(member):
    [fixed, _] = two_rewards(member)
    percent = goodwill(percent_off=15)
    [small, fifteen] = post_sales([spending([fixed], 300), spending([percent], 2_000)])
    assert (small.result, fifteen.result) == ("posted", "posted")
    assert discounts([fixed, percent]) == {fixed: 300, percent: 300}


def test_a_code_alone_on_a_sale_too_small_for_it_is_used_for_nothing_not_refused(member):
    """A 10% code on a 9-cent sale takes 0 cents off (rounded down); alone on the sale it is
    used, as before, rather than turning the whole sale away."""
    code = goodwill(percent_off=10)
    [result] = post_sales([spending([code], 9)])
    assert result.result == "posted", result.reason
    assert discounts([code]) == {code: 0}


def test_among_several_codes_one_that_rounds_to_nothing_is_refused_and_stays_usable(member):
    """$5 off a $5.05 sale leaves 5 cents, and 10% of that rounds to nothing: the 10% code is
    refused by name rather than used up for 0; the same for codes on a 1-cent sale."""
    five, ten_percent = goodwill(value_cents=500), goodwill(percent_off=10)
    [result] = post_sales([spending([five, ten_percent], 505)])
    assert result.result == "rejected"
    assert ten_percent in result.reason and "rounds to nothing" in result.reason, result.reason
    assert discounts([five, ten_percent]) == {five: None, ten_percent: None}
    small = [goodwill(percent_off=10), goodwill(percent_off=50)]
    [result] = post_sales([spending(small, 1)])
    assert result.result == "rejected", result.reason
    assert discounts(small) == dict.fromkeys(small)
