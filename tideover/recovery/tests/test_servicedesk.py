"""Customer service sees what the customer saw, and can resend or grant within the policy."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.errors import Conflict
from tideover.notifications.models import OutboxMessage
from tideover.recovery import servicedesk
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import GoodwillOffer, ServiceAction
from tideover.recovery.tests.conftest import CX
from tideover.sales.services import post_sale

pytestmark = pytest.mark.django_db
AGENT = Actor(name="customer_service")


def test_lookup_by_phone_shows_evidence_messages_offer_and_redemption(
    incident, sign_up, policy, client_as
):
    sign_up(phone="+15125550601", name="Robin Vega")
    policy(min_spend_cents=0)
    run_campaign(start_campaign(incident, actor=CX))
    code = GoodwillOffer.objects.get().code
    post_sale(
        {"sale_id": "S001-R1-CS-1", "store": "S001", "register": "R1",
         "occurred_at": timezone.now().isoformat(),
         "lines": [{"sku": "A", "quantity": 1, "unit_price_cents": 1200}], "codes": [code]}
    )  # fmt: skip
    found = servicedesk.lookup("(512) 555-0601", actor=AGENT)
    [card] = found["cards"]
    assert card["customer"].evidence.get().source == "associate"
    assert (
        card["reward"].redeemed_sale_id == "S001-R1-CS-1" and card["reward"].discount_cents == 500
    )
    assert [m.channel for m in found["messages"]] == ["sms"]
    page = client_as("customer_service").get("/recover/customers/", {"q": "+1 512 555 0601"})
    assert page.status_code == 200
    for text in (code, "Registers down", "Signed up by an associate", "S001-R1-CS-1", "Queued"):
        assert text.encode() in page.content, text
    action = ServiceAction.objects.filter(action="lookup").first()
    assert action is not None and "0601" not in action.detail  # no contact in the audit
    assert client_as("store_associate").get("/recover/customers/").status_code == 403


def test_customer_service_grants_an_offer_by_hand_once_and_can_resend_it(incident, sign_up, policy):
    customer = sign_up(email="late@example.com")
    policy(offer_value=700)
    offer = servicedesk.grant_offer(customer, actor=AGENT, reason="Called in; missed the sign-up")
    assert offer.discount_text == "$7.00 off" and offer.created_by == "customer_service"
    assert ServiceAction.objects.filter(action="grant", customer=customer).exists()
    with pytest.raises(Conflict):
        servicedesk.grant_offer(customer, actor=AGENT, reason="again")
    assert servicedesk.resend_offer(customer, actor=AGENT) == "email"
    bodies = list(
        OutboxMessage.objects.filter(recipient="late@example.com").values_list("body", flat=True)
    )
    assert len(bodies) == 2 and all(offer.code in body for body in bodies)
    # The campaign afterwards does not give this customer a second offer.
    run_campaign(start_campaign(incident, actor=CX))
    assert GoodwillOffer.objects.filter(customer=customer).count() == 1
