"""A campaign message's text, written when it is needed (sending it, customer service's view)
instead of stored on each of a million outbox rows.

The text is put together from what the campaign froze: the apology and explanation on the
``Campaign`` (fixed when it starts), the offer's terms and code (``GoodwillOffer`` and its
``Reward``, never changed), and the customer's name. The same records give the same text, so
what customer service reads is what the customer was sent. The outbox row stays the source of
truth for whether and when a message goes (and that it goes once); notifications asks for the
text through ``hooks.add_text_writer`` (registered in ``apps.py``).
"""

from __future__ import annotations

from tideover.recovery import texts
from tideover.recovery.models import Campaign, GoodwillOffer

_FIELDS = (
    "dedupe_key", "incident_id", "code", "discount_text", "bonus_points",
    "reward__min_spend_cents", "reward__expires_at", "customer__name",
)  # fmt: skip


def write_campaign_texts(messages) -> None:
    """Subject and body of each campaign message, from its offer (found by the message's
    dedupe key, which stays the offer's when customer records merge). A message whose offer
    or code is gone keeps an empty body: it is not sent."""
    keys = {message.dedupe_key for message in messages}
    offers = {
        row[0]: row
        for row in GoodwillOffer.objects.filter(dedupe_key__in=keys)
        .exclude(dedupe_key="")  # names the partial index (offer_message_key) on SQLite too
        .values_list(*_FIELDS)
        .order_by()
    }
    campaigns = {
        incident_id: (subject, body)
        for incident_id, subject, body in Campaign.objects.filter(
            incident_id__in={row[1] for row in offers.values()}
        ).values_list("incident_id", "subject", "body")
    }
    optout = texts.optout_url()
    for message in messages:
        offer = offers.get(message.dedupe_key)
        if offer is None or offer[1] not in campaigns or offer[6] is None:
            continue
        _, incident_id, code, discount, points, minimum, until, name = offer
        subject, body = campaigns[incident_id]
        wording = texts.Wording(discount, minimum, points)
        before, after = texts.offer_text_parts(body, wording, until, message.channel, optout)
        message.subject = subject
        message.body = texts.greeting(name, message.channel) + before + code + after
