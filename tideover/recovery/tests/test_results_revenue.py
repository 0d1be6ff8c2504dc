"""Revenue of redeeming sales counts each sale once, however many of the incident's codes it
redeemed (two codes on one purchase are two redemptions but one purchase)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tideover.notifications.models import OutboxMessage
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import GoodwillOffer
from tideover.recovery.results import TOTAL, results
from tideover.recovery.tests.conftest import CX
from tideover.sales.services import post_sale

pytestmark = pytest.mark.django_db


def test_a_sale_that_redeemed_two_goodwill_codes_counts_its_revenue_once(incident, sign_up, policy):
    sign_up(store="S001", email="a@example.com")
    sign_up(store="S002", email="b@example.com", source="qr")
    policy(offer_value=500, min_spend_cents=2500, budget_cents=10_000)
    run_campaign(start_campaign(incident, actor=CX))
    OutboxMessage.objects.update(state="delivered")
    codes = list(GoodwillOffer.objects.order_by("pk").values_list("code", flat=True))
    assert len(codes) == 2
    result = post_sale(
        {"sale_id": "S001-R1-BOTH-1", "store": "S001", "register": "R1",
         "occurred_at": timezone.now().isoformat(),
         "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 3000}],
         "tenders": [{"kind": "card", "amount_cents": 2000}], "codes": codes}
    )  # fmt: skip
    assert result.result == "posted", result.reason
    rows = results(incident)["rows"]
    total = rows[TOTAL]
    assert (total["redeemed"], total["discount_cents"]) == (2, 1000)
    assert total["revenue_cents"] == 2000  # paid once, after $10 off
    # Each store's row counts the purchase its customer's code was used on, once.
    assert rows["S001"]["revenue_cents"] == 2000 and rows["S002"]["revenue_cents"] == 2000
