from datetime import timedelta

import pytest

from tideover.loyalty.models import JournalEntry, Member, Promotion, Reward
from tideover.loyalty.tests.factories import BASE_TIME, sale
from tideover.sales.services import post_sales


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).balance


def test_purchase_earns_points_per_dollar_at_once(member):
    [result] = post_sales([sale(member=member.loyalty_id, cents=2500)])
    assert result.result == "posted"
    assert result.points == 250
    assert result.balance == 250
    assert balance(member) == 250


def test_cardholders_earn_their_tier_multiplier(make_member, chain):
    cardholder = make_member("M-CARD", tier="cardholder")
    [result] = post_sales([sale(member=cardholder.loyalty_id, cents=1000)])
    assert result.points == 150


def test_promotion_counts_only_for_sales_made_in_its_window(member):
    Promotion.objects.create(
        name="Double points Saturday",
        multiplier_percent=200,
        starts_at=BASE_TIME - timedelta(hours=1),
        ends_at=BASE_TIME + timedelta(hours=1),
    )
    inside, outside = post_sales(
        [
            sale(member=member.loyalty_id, cents=1000, at=BASE_TIME),
            sale(member=member.loyalty_id, cents=1000, at=BASE_TIME + timedelta(hours=2)),
        ]
    )
    assert (inside.points, outside.points) == (200, 100)


def test_failed_declined_and_voided_sales_earn_nothing(member):
    results = post_sales(
        [sale(member=member.loyalty_id, status=s) for s in ("failed", "declined", "voided")]
    )
    assert [r.result for r in results] == ["posted"] * 3
    assert balance(member) == 0
    assert not JournalEntry.objects.exists()


def test_crossing_the_threshold_issues_a_reward_in_the_same_posting(member):
    post_sales([sale(member=member.loyalty_id, cents=4500)])
    [result] = post_sales([sale(member=member.loyalty_id, cents=700)])
    assert result.points == 70
    assert result.balance == 20
    [reward] = result.rewards
    assert reward["value_cents"] == 500
    assert Reward.objects.get(code=reward["code"]).member == member
    assert member.notices.get().text.startswith("Your $5.00 reward is ready")


def test_return_takes_back_points_in_proportion(member):
    original = sale(
        member=member.loyalty_id,
        lines=[
            {"sku": "A", "quantity": 1, "unit_price_cents": 3000},
            {"sku": "B", "quantity": 1, "unit_price_cents": 1000},
        ],
    )
    post_sales([original])
    returned = sale(
        kind="return",
        original=original["sale_id"],
        lines=[{"sku": "B", "quantity": 1, "unit_price_cents": 1000}],
    )
    [result] = post_sales([returned])
    assert result.points == -100
    assert balance(member) == 300
    void = sale(kind="void", original=original["sale_id"], cents=0)
    [result] = post_sales([void])
    assert result.points == -300
    assert balance(member) == 0


def test_return_of_an_unposted_sale_is_rejected_until_the_sale_arrives(member):
    original = sale(member=member.loyalty_id)
    returned = sale(kind="void", original=original["sale_id"], cents=0)
    [rejected] = post_sales([returned])
    assert rejected.result == "rejected"
    assert "has not been posted yet" in rejected.reason
    first, second = post_sales([original, returned])
    assert (first.result, second.result) == ("posted", "posted")
    assert balance(member) == 0


def test_unknown_member_posts_the_sale_without_points(chain):
    [result] = post_sales([sale(member="NOBODY-1")])
    assert result.result == "posted"
    assert "without points" in result.notes[0]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("occurred_at", "2026-11-21T14:00:00", "time zone"),
        ("lines", [], "at least one line"),
        ("store", "S999", "Unknown store"),
    ],
)
def test_bad_sales_are_rejected_alone_with_the_reason(member, field, value, message):
    good = sale(member=member.loyalty_id)
    bad = {**sale(), field: value}
    results = post_sales([good, bad])
    assert results[0].result == "posted"
    assert results[1].result == "rejected"
    assert message in results[1].reason
