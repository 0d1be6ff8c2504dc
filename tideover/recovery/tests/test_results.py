"""Results against a constructed incident: every figure worked out by hand."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from tideover.notifications.models import OutboxMessage
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import GoodwillOffer
from tideover.recovery.results import TOTAL, plot_svg, results, to_csv
from tideover.recovery.tests.conftest import CX
from tideover.sales.services import post_sale

pytestmark = pytest.mark.django_db


@pytest.fixture
def constructed(incident, sign_up, make_member, policy, settings):
    settings.LOYALTY_REWARD_THRESHOLD_POINTS = 500
    settings.LOYALTY_REWARD_VALUE_CENTS = 500  # a point is worth one cent
    card = make_member("M-RES", tier="cardholder", phone="+15125550301", sms=True)
    sign_up(store="S001", loyalty_id="M-RES")  # offered: SMS, 200 bonus points
    sign_up(store="S002", email="b@example.com", source="qr")  # offered: e-mail
    from tideover.loyalty.models import Member
    from tideover.recovery.capture import Person, record

    quiet = make_member("M-QUIET", phone="+15125550302")  # no marketing consent: no offer
    record(incident, Person(member=Member.objects.get(pk=quiet.pk)), source="sale_declined",
           store=incident.affected_stores.get(code="S002"))  # fmt: skip
    policy(offer_value=500, min_spend_cents=2500, budget_cents=10_000,
           tier_bonus={"cardholder": {"points": 200}})  # fmt: skip
    run_campaign(start_campaign(incident, actor=CX))
    sms = OutboxMessage.objects.get(channel="sms")
    OutboxMessage.objects.filter(pk=sms.pk).update(state="delivered")
    OutboxMessage.objects.filter(channel="email").update(state="sent")
    code = GoodwillOffer.objects.get(customer__member=card).code
    result = post_sale(
        {"sale_id": "S001-R1-BACK-1", "store": "S001", "register": "R1",
         "occurred_at": timezone.now().isoformat(), "member_id": "M-RES",
         "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 3000}],
         "tenders": [{"kind": "card", "amount_cents": 2500}], "codes": [code]}
    )  # fmt: skip
    assert result.result == "posted", result.reason
    return incident


def test_results_add_up_for_the_incident_and_each_store(constructed):
    data = results(constructed)
    total = data["rows"][TOTAL]
    assert total["captured"] == 3
    assert total["captured_by_source"] == {"associate": 1, "qr": 1, "sale_declined": 1}
    assert (total["offers"], total["sent"], total["delivered"], total["redeemed"]) == (2, 2, 1, 1)
    assert total["redemption_rate"] == 0.5
    assert total["revenue_cents"] == 2500  # what the customer paid after the $5 off
    assert total["discount_cents"] == 500
    assert total["points_granted"] == 200
    assert total["cost_cents"] == 700 and total["budget_cents"] == 10_000
    s001, s002 = data["rows"]["S001"], data["rows"]["S002"]
    assert (s001["captured"], s001["offers"], s001["redeemed"], s001["cost_cents"]) == (
        1,
        1,
        1,
        700,
    )
    assert (s002["captured"], s002["offers"], s002["redeemed"], s002["cost_cents"]) == (2, 1, 0, 0)
    assert data["per_day"] == [(timezone.localdate(), 1)]
    offered = data["came_back"]["offered"]
    assert offered["members"] == 1
    assert offered[7]["came_back"] == 1 and offered[7]["rate"] == 1.0
    assert offered[7]["usual_rate"] == 0.0 and not offered[7]["complete"]
    assert data["came_back"]["holdout"]["members"] == 0


def test_results_export_as_csv_and_plot_per_day(constructed, client_as):
    text = to_csv(results(constructed))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:7] == [
        "scope",
        "captured",
        "offers",
        "sent",
        "delivered",
        "redeemed",
        "redemption_rate",
    ]
    assert rows[1][:11] == [
        "all stores",
        "3",
        "2",
        "2",
        "1",
        "1",
        "0.5000",
        "2500",
        "500",
        "200",
        "700",
    ]
    assert ["day", "redemptions"] in rows
    svg = plot_svg(results(constructed)["per_day"])
    assert svg.startswith("<svg") and svg.count("<rect") == 1
    page = client_as("cx_manager").get(f"/recover/incidents/{constructed.pk}/")
    assert page.status_code == 200
    assert b"Redemptions per day" in page.content and b"$7.00" in page.content
    download = client_as("comms").get(f"/recover/incidents/{constructed.pk}/results.csv")
    assert download.status_code == 200 and download["Content-Type"] == "text/csv"
    # Results carry no personal data, and roles without the capability are refused.
    assert b"b@example.com" not in download.content
    assert (
        client_as("store_associate").get(f"/recover/incidents/{constructed.pk}/").status_code == 403
    )


def test_sent_and_delivered_survive_pruning_of_the_messages(constructed):
    from datetime import timedelta

    from tideover.notifications.pruning import prune_messages

    before = results(constructed)["rows"]
    pruned = prune_messages(now=timezone.now() + timedelta(days=400))
    assert pruned["messages"] >= 2
    assert not OutboxMessage.objects.filter(category="marketing").exists()
    after = results(constructed)["rows"]
    for scope in (TOTAL, "S001", "S002"):
        assert (after[scope]["sent"], after[scope]["delivered"]) == (
            before[scope]["sent"],
            before[scope]["delivered"],
        )
    assert (after[TOTAL]["sent"], after[TOTAL]["delivered"]) == (2, 1)
    assert after[TOTAL]["redemption_rate"] == 0.5
