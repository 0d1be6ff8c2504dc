"""A campaign's messages are queued without their text; it is written when sent (and when
customer service looks), from what the campaign froze: the same text every time."""

from __future__ import annotations

import pytest

from tideover.core.actors import Actor
from tideover.notifications.channels import DeliveryError
from tideover.notifications.models import OutboxMessage
from tideover.recovery import servicedesk, texts
from tideover.recovery.campaign import run_campaign, start_campaign
from tideover.recovery.models import AffectedCustomer, Campaign, GoodwillOffer
from tideover.recovery.tests.conftest import CX, text_sent

pytestmark = pytest.mark.django_db

AGENT = Actor(name="customer_service")


def test_the_text_is_written_from_the_campaigns_words_and_customer_service_sees_it(
    incident, sign_up, policy
):
    sign_up(email="pat@example.com", name="Pat Doe")
    policy(offer_value=500, min_spend_cents=2500)
    run_campaign(start_campaign(incident, actor=CX))
    message = OutboxMessage.objects.get(category="marketing")
    assert (message.subject, message.body) == ("", "")  # nothing per row but who and when
    sent = text_sent(message)
    code = GoodwillOffer.objects.get().code
    assert sent.startswith("Hello Pat,") and code in sent and "$5.00 off" in sent
    assert "every purchase has been recorded" in sent
    # The public summary is corrected afterwards: the offer still says what the campaign said.
    incident.public_updates.update(body="A later, different summary.")
    assert "different summary" in texts.campaign_text(incident)[1]
    assert text_sent(OutboxMessage.objects.get(pk=message.pk)) == sent
    [shown] = servicedesk.lookup("pat@example.com", actor=AGENT)["messages"]
    assert shown.subject == Campaign.objects.get().subject
    assert code in shown.body and "every purchase has been recorded" in shown.body


def test_an_offer_moved_by_a_merge_still_goes_with_its_code(incident, sign_up, policy):
    older = sign_up(email="lee@example.com")  # offers go by SMS only: no offer
    newer = sign_up(phone="+1 512 555 0170")
    policy(channel="sms")
    run_campaign(start_campaign(incident, actor=CX))
    message = OutboxMessage.objects.get(category="marketing")
    code = GoodwillOffer.objects.get(customer=newer).code
    # The same shopper, now with both: the records merge into the older one, offer and all.
    sign_up(phone="+1 512 555 0170", email="lee@example.com")
    assert not AffectedCustomer.objects.filter(pk=newer.pk).exists()
    assert GoodwillOffer.objects.get().customer_id == older.pk
    assert code in text_sent(OutboxMessage.objects.get(pk=message.pk))


def test_an_offer_moved_by_a_merge_keeps_its_messages_state_when_the_message_is_pruned(
    incident, sign_up, policy
):
    from datetime import timedelta

    from django.utils import timezone

    from tideover.notifications.pruning import prune_messages

    older = sign_up(email="kim@example.com")  # offers go by SMS only: no offer
    sign_up(phone="+1 512 555 0172")
    policy(channel="sms")
    run_campaign(start_campaign(incident, actor=CX))
    OutboxMessage.objects.filter(category="marketing").update(state="delivered")
    sign_up(phone="+1 512 555 0172", email="kim@example.com")  # merged into the older record
    assert GoodwillOffer.objects.get().customer_id == older.pk
    prune_messages(now=timezone.now() + timedelta(days=400))
    assert not OutboxMessage.objects.filter(category="marketing").exists()
    assert GoodwillOffer.objects.get().message_state == "delivered"


def test_a_message_whose_offer_is_gone_is_not_sent(incident, sign_up, policy):
    sign_up(phone="+1 512 555 0171")
    policy()
    run_campaign(start_campaign(incident, actor=CX))
    GoodwillOffer.objects.all().delete()
    with pytest.raises(DeliveryError) as refused:
        text_sent(OutboxMessage.objects.get(category="marketing"))
    assert refused.value.permanent
