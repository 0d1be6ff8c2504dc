"""Opting out of goodwill and marketing messages, by phone or e-mail."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from tideover.core.actors import Actor
from tideover.core.emails import email_spellings
from tideover.core.errors import DomainError
from tideover.core.phones import to_e164
from tideover.loyalty.members import set_consent
from tideover.loyalty.models import ConsentChannel, Member
from tideover.notifications.campaigns import cancel_marketing
from tideover.recovery.models import AffectedCustomer

OPT_OUT_SOURCE = "goodwill opt-out page"


@transaction.atomic
def opt_out(contact: str) -> None:
    """No more goodwill or marketing to this phone or e-mail: consents off (members too, with
    the record), queued marketing messages cancelled. Says nothing about whether it was known."""
    text = (contact or "").strip()
    if not text:
        raise DomainError("Enter your mobile number or e-mail address", field="contact")
    if "@" in text:
        # Not validated again: an address stored before canonical domains (which today's
        # check may refuse) must still be able to opt out, in whichever spelling it was kept.
        field, values = "email", email_spellings(text)
    else:
        field, values = "phone_e164", [to_e164(text, field="contact")]
    AffectedCustomer.objects.filter(
        Q(**{f"{field}__in": values}) | Q(**{f"member__{field}__in": values})
    ).update(consent_marketing=False)
    email = field == "email"
    channel = ConsentChannel.MARKETING_EMAIL if email else ConsentChannel.MARKETING_SMS
    flag = "consent_marketing_email" if email else "consent_marketing_sms"
    for member in Member.objects.filter(**{f"{field}__in": values, flag: True}):
        set_consent(member, channel, False, source=OPT_OUT_SOURCE, actor=Actor.of(name="shopper"))
    for value in values:
        cancel_marketing(value)
