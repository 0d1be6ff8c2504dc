"""GET /api/v1/loyalty/rewards/{code} tells the till what a code gives: money off or a
percentage, the minimum spend, and for a basket total whether it is met and what comes off."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tideover.loyalty.offers import OfferTerms, mint_goodwill_codes
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales


@pytest.fixture
def check(api_token, chain):
    headers = api_token("loyalty:read")

    def get(code: str, **query):
        return Client().get(f"/api/v1/loyalty/rewards/{code}", query, **headers)

    return get


@pytest.fixture
def fifteen_off_over_25():
    now = timezone.now()
    terms = OfferTerms(0, 15, 2_500, now - timedelta(minutes=5), now + timedelta(days=30))
    [(_, code)] = mint_goodwill_codes([None], [terms], source="incident:1")
    return code


def test_a_percent_goodwill_code_answers_its_percentage_and_minimum_spend(
    check, fifteen_off_over_25
):
    response = check(fifteen_off_over_25)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "goodwill" and body["usable"] is True
    assert (body["percent_off"], body["value_cents"], body["min_spend_cents"]) == (15, 0, 2_500)
    assert body["valid_from"] is not None
    assert (body["basket_cents"], body["min_spend_met"], body["discount_cents"]) == (None,) * 3


def test_a_basket_total_says_whether_the_minimum_is_met_and_what_comes_off(
    check, fifteen_off_over_25
):
    short = check(fifteen_off_over_25, basket_cents=1_840).json()
    assert (short["basket_cents"], short["min_spend_met"], short["discount_cents"]) == (
        1_840,
        False,
        0,
    )
    enough = check(fifteen_off_over_25, basket_cents=3_000).json()
    assert (enough["min_spend_met"], enough["discount_cents"]) == (True, 450)


def test_a_points_reward_answers_its_value_up_to_the_basket(check, member):
    [earned] = post_sales([sale(member=member.loyalty_id, cents=5_000)])  # a $5 reward
    code = earned.rewards[0]["code"]
    body = check(code).json()
    assert (body["kind"], body["value_cents"], body["percent_off"]) == ("reward", 500, 0)
    assert body["min_spend_cents"] == 0
    small = check(code, basket_cents=300).json()
    assert (small["min_spend_met"], small["discount_cents"]) == (True, 300)


def test_a_basket_total_that_is_not_a_whole_number_of_cents_is_refused(check, fifteen_off_over_25):
    for bad in ("-1", "12.5", "lots"):
        assert check(fifteen_off_over_25, basket_cents=bad).status_code == 422, bad
