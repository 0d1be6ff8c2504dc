"""Sales that make sense: per-sale limits, and returns that never take back more than the sale."""

import pytest

from tideover.loyalty.members import create_member
from tideover.loyalty.models import Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale
from tideover.sales.services import post_sales


def line(sku="MUG", quantity=1, cents=1000):
    return {"sku": sku, "quantity": quantity, "unit_price_cents": cents}


def one(payload):
    [result] = post_sales([payload])
    return result


def refund(original, lines, **extra):
    return sale(kind="return", original=original["sale_id"], lines=lines, **extra)


def test_a_sale_over_the_amount_limit_is_rejected_naming_the_limit(chain, settings):
    settings.SALES_MAX_AMOUNT_CENTS = 100_000
    huge = sale(lines=[line(quantity=500, cents=100_000)])  # $500,000
    result = one(huge)
    assert result.result == "rejected"
    assert "SALES_MAX_AMOUNT_CENTS" in result.reason and "$1,000.00" in result.reason
    assert one(sale(cents=100_000)).result == "posted"
    assert not Sale.objects.filter(sale_id=huge["sale_id"]).exists()


def test_tenders_over_the_amount_limit_are_rejected_too(chain, settings):
    settings.SALES_MAX_AMOUNT_CENTS = 100_000
    payload = {**sale(cents=1000), "tenders": [{"kind": "card", "amount_cents": 500_000}]}
    result = one(payload)
    assert result.result == "rejected" and "tenders total $5,000.00" in result.reason


def test_too_many_lines_or_units_are_rejected_naming_the_limit(chain, settings):
    settings.SALES_MAX_LINES = 3
    settings.SALES_MAX_LINE_QUANTITY = 10
    lines = one(sale(lines=[line(sku=f"S{i}") for i in range(4)]))
    assert lines.result == "rejected" and "SALES_MAX_LINES" in lines.reason
    units = one(sale(lines=[line(), line(sku="BOLT", quantity=11, cents=5)]))
    assert units.result == "rejected"
    assert "line 2 (BOLT)" in units.reason and "SALES_MAX_LINE_QUANTITY" in units.reason
    assert one(sale(lines=[line(quantity=10)] * 3)).result == "posted"


def test_a_return_cannot_take_back_more_than_a_ten_dollar_sale(chain):
    original = sale(lines=[line(cents=1000)])
    one(original)
    big = refund(original, [line(quantity=100, cents=10_000)])  # $10,000, within the limits
    result = one(big)
    assert result.result == "rejected"
    assert "MUG: 100 unit(s) returned, 0 before, but sale" in result.reason
    assert not Sale.objects.filter(sale_id=big["sale_id"]).exists()


def test_returns_add_up_per_line_across_several_returns(chain):
    original = sale(lines=[line("MUG", 3, 1000), line("TEA", 1, 500)])
    one(original)
    assert one(refund(original, [line("MUG", 2, 1000)])).result == "posted"
    third = one(refund(original, [line("MUG", 2, 1000)]))
    assert third.result == "rejected"
    assert "MUG: 2 unit(s) returned, 2 before, but sale" in third.reason and "had 3" in third.reason
    assert one(refund(original, [line("MUG", 1, 1000), line("TEA", 1, 500)])).result == "posted"
    assert one(refund(original, [line("TEA", 1, 500)])).result == "rejected"


def test_a_return_at_a_higher_price_than_paid_is_rejected(chain):
    original = sale(lines=[line("MUG", 2, 1000)])
    one(original)
    dearer = one(refund(original, [line("MUG", 1, 5000)]))
    assert dearer.result == "rejected" and "$50.00 returned" in dearer.reason


def test_a_refund_larger_than_what_was_paid_is_rejected(chain):
    original = sale(lines=[line(cents=1000)])
    one(original)
    payload = {
        **refund(original, [line(cents=1000)]),
        "tenders": [{"kind": "cash", "amount_cents": 1_000_000}],
    }
    result = one(payload)
    assert result.result == "rejected" and "refund $10,000.00" in result.reason


def test_a_return_of_an_item_not_on_the_sale_is_rejected(chain):
    original = sale(lines=[line("MUG")])
    one(original)
    result = one(refund(original, [line("TV", 1, 1000)]))
    assert result.result == "rejected" and "SKU TV was not on sale" in result.reason


def test_nothing_is_left_to_return_after_a_void(chain):
    original = sale(lines=[line("MUG", 2, 1000)])
    one(original)
    void = sale(kind="void", original=original["sale_id"], cents=0)
    assert one(void).result == "posted"
    again = one(refund(original, [line("MUG", 1, 1000)]))
    assert again.result == "rejected" and f"voided by {void['sale_id']}" in again.reason
    assert one({**void, "sale_id": "SECOND-VOID"}).result == "rejected"


def test_returns_in_the_same_batch_as_their_sale_are_counted_together(chain):
    original = sale(lines=[line("MUG", 1, 1000)])
    first = refund(original, [line("MUG", 1, 1000)])
    second = refund(original, [line("MUG", 1, 1000)])
    results = post_sales([original, first, second])
    assert [r.result for r in results] == ["posted", "posted", "rejected"]
    assert Sale.objects.get(sale_id=first["sale_id"]).original.sale_id == original["sale_id"]


def test_a_failed_return_takes_nothing_back(chain):
    original = sale(lines=[line("MUG", 1, 1000)])
    one(original)
    declined = refund(original, [line("MUG", 1, 1000)], status="declined")
    assert one(declined).result == "posted"
    assert one(refund(original, [line("MUG", 1, 1000)])).result == "posted"


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_tills_refunding_one_receipt_at_once_take_back_at_most_the_sale(chain):
    from tideover.loyalty.tests.test_concurrency import at_once

    create_member(name="Refunds", loyalty_id="M-REF")
    original = sale(lines=[line("MUG", 1, 2000)], member="M-REF")
    one(original)
    refunds = [refund(original, [line("MUG", 1, 2000)]) for _ in range(4)]
    results = at_once(4, lambda i: one(refunds[i]).result)
    assert sorted(results) == ["posted", "rejected", "rejected", "rejected"]
    assert Sale.objects.filter(kind="return").count() == 1
    assert Member.objects.get(loyalty_id="M-REF").balance == 0
