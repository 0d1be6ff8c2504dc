"""A shopper stops goodwill and marketing messages from the link in the offer e-mail."""

from __future__ import annotations

import pytest

from tideover.notifications.models import OutboxMessage
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import AffectedCustomer
from tideover.recovery.tests.conftest import CX, text_sent

pytestmark = pytest.mark.django_db


def test_opting_out_cancels_queued_offers_and_withdraws_consent(
    incident, sign_up, make_member, policy, client
):
    member = make_member("M-OPT", email="opt@example.com", mail=True)
    sign_up(loyalty_id="M-OPT")
    policy()
    run_campaign(start_campaign(incident, actor=CX))
    message = OutboxMessage.objects.get(recipient="opt@example.com")
    assert "/recover/opt-out/" in text_sent(message)
    assert client.post("/recover/opt-out/", {"contact": "not an address"}).status_code == 400
    done = client.post("/recover/opt-out/", {"contact": "OPT@example.com"})
    assert done.status_code == 200 and b"no more offers" in done.content
    message.refresh_from_db()
    assert message.state == "cancelled"
    member.refresh_from_db()
    assert not member.consent_marketing_email
    assert member.consents.filter(channel="marketing_email", granted=False).exists()
    assert not AffectedCustomer.objects.get().consent_marketing


def test_a_number_opted_out_never_borrows_the_members_consent_for_their_own_number(
    incident, sign_up, make_member, policy, client
):
    """The member agreed to offers on their own number; at the store they gave another one,
    then opted that one out: the offer may go to the member's number, never to that one."""
    make_member("M-TWO", phone="+1 512 555 0100", sms=True)
    sign_up(loyalty_id="M-TWO", phone="+1 512 555 0199")
    assert client.post("/recover/opt-out/", {"contact": "+1 512 555 0199"}).status_code == 200
    policy()
    run_campaign(start_campaign(incident, actor=CX))
    sent = set(
        OutboxMessage.objects.filter(category="marketing").values_list("recipient", flat=True)
    )
    assert sent == {"+15125550100"}
