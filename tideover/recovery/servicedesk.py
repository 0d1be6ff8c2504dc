"""Customer service sees what the customer saw: the incidents that affected a person (with the
evidence), every message sent to them and its delivery state, their offer, its code and
whether it was used; and can resend the offer or grant one by hand within the policy.
Every lookup and action is recorded (``ServiceAction``), never with a phone or e-mail."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from tideover.core.actors import Actor
from tideover.core.emails import email_spellings
from tideover.core.errors import Conflict, DomainError
from tideover.core.phones import to_e164
from tideover.loyalty.members import find_member
from tideover.loyalty.offers import code_state
from tideover.notifications.campaigns import messages_to
from tideover.notifications.models import Category
from tideover.notifications.services import queue_member_message
from tideover.recovery import texts
from tideover.recovery.campaign import OfferContext, issue_offers
from tideover.recovery.models import (
    AffectedCustomer,
    Campaign,
    GoodwillOffer,
    GoodwillPolicy,
    ServiceAction,
)
from tideover.recovery.policy import contact_for, point_value_cents, recipients, terms_for


def _audit(actor: Actor, action: str, customer=None, detail: str = "") -> None:
    ServiceAction.objects.create(
        actor=actor.name[:150],
        user=actor.user,
        action=action,
        customer=customer,
        detail=detail[:300],
    )


def lookup(query: str, *, actor: Actor) -> dict:
    """Everything about one person across incidents, by loyalty id, phone or e-mail."""
    text = (query or "").strip()
    if len(text) < 3:
        raise DomainError("Enter a loyalty id, a phone number or an e-mail address", field="q")
    match = Q(pk__in=[])
    member = None
    # Addresses are stored in one spelling (core.emails): search in that spelling too.
    spellings = email_spellings(text) if "@" in text else []
    if spellings:
        match |= Q(email__in=spellings)
        member = find_member(email=text)
    else:
        member = find_member(loyalty_id=text)
        try:
            phone = to_e164(text)
        except DomainError:
            phone = ""
        if phone:
            match |= Q(phone_e164=phone)
            member = member or find_member(phone_e164=phone)
    if member is not None:
        match |= Q(member=member)
    customers = list(
        AffectedCustomer.objects.filter(match)
        .select_related("incident", "store", "member")
        .prefetch_related("evidence", "evidence__store")
        .order_by("-incident__declared_at", "pk")[:20]
    )
    contacts = set(spellings)
    for customer in customers:
        contacts |= {customer.phone_e164, customer.email}
    if member is not None:
        contacts |= {member.phone_e164, member.email}
    cards = []
    for customer in customers:
        offer = GoodwillOffer.objects.filter(customer=customer).first()
        reward = code_state(offer.reward_id) if offer and offer.reward_id else None
        cards.append({"customer": customer, "offer": offer, "reward": reward})
    _audit(actor, "lookup", None, f"{len(customers)} affected record(s) found")
    return {
        "member": member,
        "cards": cards,
        "messages": messages_to(sorted(c for c in contacts if c)),
    }


def resend_offer(customer: AffectedCustomer, *, actor: Actor) -> str:
    """Send the customer's offer again (they asked for it: a transactional message, at once)."""
    offer = GoodwillOffer.objects.filter(customer=customer).select_related("reward").first()
    if offer is None or offer.reward is None:
        raise Conflict("This customer has no offer to resend; grant one instead")
    reward = offer.reward
    if not reward.is_usable():
        raise Conflict(f"The code {reward.code} can no longer be used (used or expired)")
    member = customer.member
    email = customer.email or (member.email if member else "")
    phone = customer.phone_e164 or (member.phone_e164 if member else "")
    sent = ServiceAction.objects.filter(customer=customer, action="resend").count()
    terms = terms_for(offer_policy(customer), member.tier if member else None, point_cents=0)
    subject, apology = _words(customer)
    body = texts.offer_text(
        apology, customer, terms, reward.code, reward.expires_at,
        "sms" if phone and not email else "email",
    )  # fmt: skip
    channels = queue_member_message(
        member_id=str(customer.pk),
        email=email,
        phone_e164="" if email else phone,  # one message: e-mail when we have it
        consent_email=True,
        consent_sms=True,
        subject=subject,
        body=body,
        dedupe_key=f"goodwill-resend:{customer.pk}:{sent + 1}",
        category=Category.TRANSACTIONAL,
    )
    if not channels:
        raise DomainError("No phone or e-mail on record: read the code to the customer")
    _audit(actor, "resend", customer, f"offer {offer.pk} by {channels[0]}")
    return channels[0]


def _words(customer: AffectedCustomer) -> tuple[str, str]:
    """Subject and apology: the campaign's own (what the others were sent) once it has
    started, else the incident's words today."""
    campaign = Campaign.objects.filter(incident_id=customer.incident_id).first()
    if campaign is not None:
        return campaign.subject, campaign.body
    return texts.campaign_text(customer.incident)


def offer_policy(customer: AffectedCustomer) -> GoodwillPolicy:
    policy = GoodwillPolicy.objects.filter(incident_id=customer.incident_id).first()
    if policy is None:
        raise DomainError("This incident has no goodwill policy yet")
    return policy


def grant_offer(customer: AffectedCustomer, *, actor: Actor, reason: str) -> GoodwillOffer:
    """Give an affected customer their offer by hand, on the policy's terms (audited)."""
    if not (reason or "").strip():
        raise DomainError("Say why the offer is granted by hand", field="reason")
    with transaction.atomic():
        # A campaign chunk holds its campaign's row locked while it reads who has an offer and
        # writes the others'. Taken first (the chunk's order: campaign, then customers), a
        # grant waits for a chunk in flight and then sees the offer it made.
        list(Campaign.objects.select_for_update().filter(incident_id=customer.incident_id))
        customer = (
            AffectedCustomer.objects.select_for_update(of=("self",))
            .select_related("member", "store", "incident", "member__home_store")
            .get(pk=customer.pk)
        )
        if GoodwillOffer.objects.filter(customer=customer).exists():
            raise Conflict("This customer already has an offer for this incident; resend it")
        if customer.incident.is_drill:
            raise DomainError("This incident is a drill: no offers go to customers")
        policy = offer_policy(customer)
        ctx = OfferContext(customer.incident)
        [person] = recipients(AffectedCustomer.objects.filter(pk=customer.pk))
        member = person.member
        terms = terms_for(policy, member.tier if member else None, point_cents=point_value_cents())
        channel, address = contact_for(person, member, policy.channel)
        subject, body = _words(customer)
        if channel is None:
            channel, address = "", ""
        # Without a consented channel the offer still exists: customer service reads it out.
        try:
            with transaction.atomic():
                [offer_id] = issue_offers(
                    customer.incident_id, [(person, channel, address, terms)], ctx,
                    text=(subject, body), created_by=actor.name,
                )  # fmt: skip
        except IntegrityError:
            # A campaign started after the lock above offered this customer meanwhile.
            if GoodwillOffer.objects.filter(customer=customer).exists():
                raise Conflict(
                    "This customer was just offered one by the campaign; resend it"
                ) from None
            raise
        _audit(actor, "grant", customer, reason.strip())
    return GoodwillOffer.objects.get(pk=offer_id)
