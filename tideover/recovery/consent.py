"""Opting out of goodwill and marketing messages, by phone or e-mail."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.core.phones import to_e164
from tideover.loyalty.members import set_consent
from tideover.loyalty.models import ConsentChannel, Member
from tideover.notifications.campaigns import cancel_marketing
from tideover.recovery.capture import clean_email
from tideover.recovery.models import AffectedCustomer

OPT_OUT_SOURCE = "goodwill opt-out page"


@transaction.atomic
def opt_out(contact: str) -> None:
    """No more goodwill or marketing to this phone or e-mail: consents off (members too, with
    the record), queued marketing messages cancelled. Says nothing about whether it was known."""
    text = (contact or "").strip()
    if "@" in text:
        email, phone = clean_email(text), ""
    else:
        email, phone = "", to_e164(text, field="contact")
    if not (email or phone):
        raise DomainError("Enter your mobile number or e-mail address", field="contact")
    field, value = ("email", email) if email else ("phone_e164", phone)
    AffectedCustomer.objects.filter(Q(**{field: value}) | Q(**{f"member__{field}": value})).update(
        consent_marketing=False
    )
    channel = ConsentChannel.MARKETING_EMAIL if email else ConsentChannel.MARKETING_SMS
    flag = "consent_marketing_email" if email else "consent_marketing_sms"
    for member in Member.objects.filter(**{field: value, flag: True}):
        set_consent(member, channel, False, source=OPT_OUT_SOURCE, actor=Actor.of(name="shopper"))
    cancel_marketing(value)
