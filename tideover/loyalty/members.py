"""Members: sign-up, consent (with when and how), and lookup for customer service."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tideover.core.actors import SYSTEM, Actor
from tideover.core.emails import clean_email, email_spellings
from tideover.core.errors import DomainError, NotFound
from tideover.core.phones import to_e164
from tideover.loyalty import audit
from tideover.loyalty.config import program
from tideover.loyalty.models import ConsentChannel, ConsentRecord, Member

PHONE_LIKE = re.compile(r"^[\d\s().+-]{7,}$")
LOYALTY_ID = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,31}$")
CONSENT_FIELDS = {
    ConsentChannel.TRANSACTIONAL: "consent_transactional",
    ConsentChannel.MARKETING_SMS: "consent_marketing_sms",
    ConsentChannel.MARKETING_EMAIL: "consent_marketing_email",
}


def _email(raw: str) -> str:
    # Kept as notifications and recovery keep it, so a look-up in any spelling finds it.
    return clean_email(raw) if (raw or "").strip() else ""


def _tier(tier: str) -> str:
    tiers = program().tier_multipliers
    if tier not in tiers:
        raise DomainError(f"Unknown tier {tier!r}; use one of {', '.join(tiers)}", field="tier")
    return tier


def create_member(
    *,
    name: str,
    phone: str = "",
    email: str = "",
    tier: str = "member",
    loyalty_id: str | None = None,
    consents: dict[str, bool] | None = None,
    consent_source: str = "",
    home_store=None,
    actor: Actor = SYSTEM,
) -> Member:
    """Sign a member up; consents are recorded with when and how they were given."""
    if not (name or "").strip():
        raise DomainError("Enter the member's name", field="name")
    phone_e164 = to_e164(phone) if (phone or "").strip() else ""
    email = _email(email)
    tier = _tier(tier)
    consents = consents or {}
    unknown = set(consents) - set(ConsentChannel.values)
    if unknown:
        raise DomainError(f"Unknown consent(s): {', '.join(sorted(unknown))}", field="consents")
    if any(consents.values()) and not consent_source.strip():
        raise DomainError(
            "Say how consent was given (e.g. 'store sign-up form')", field="consent_source"
        )
    if loyalty_id is not None:
        loyalty_id = loyalty_id.strip().upper()
        if not LOYALTY_ID.match(loyalty_id):
            raise DomainError("A loyalty id is 3-32 letters, digits or dashes", field="loyalty_id")
    now = timezone.now()
    for _attempt in range(5):
        candidate = loyalty_id or f"M{secrets.randbelow(10**10):010d}"
        try:
            with transaction.atomic():
                member = Member.objects.create(
                    loyalty_id=candidate,
                    name=name.strip()[:200],
                    phone_e164=phone_e164,
                    email=email,
                    tier=tier,
                    home_store=home_store,
                    consent_transactional=consents.get(ConsentChannel.TRANSACTIONAL, True),
                    consent_marketing_sms=consents.get(ConsentChannel.MARKETING_SMS, False),
                    consent_marketing_email=consents.get(ConsentChannel.MARKETING_EMAIL, False),
                    consent_updated_at=now if consents else None,
                    consent_source=consent_source.strip()[:40],
                )
                ConsentRecord.objects.bulk_create(
                    ConsentRecord(
                        member=member, channel=c, granted=g, at=now, source=consent_source[:40]
                    )
                    for c, g in consents.items()
                )
                audit.record(actor, "member_created", member)
                return member
        except IntegrityError:
            if loyalty_id is not None:
                raise DomainError(f"Loyalty id {loyalty_id} is taken", field="loyalty_id")
    raise DomainError("Could not make a free loyalty id; try again")


@transaction.atomic
def set_consent(
    member: Member, channel: str, granted: bool, *, source: str, actor: Actor
) -> Member:
    """Give or withdraw one consent, keeping the record of when and how."""
    if channel not in CONSENT_FIELDS:
        raise DomainError(f"Unknown consent {channel!r}", field="channel")
    if not source.strip():
        raise DomainError("Say how the member told us (e.g. 'phone call')", field="source")
    now = timezone.now()
    setattr(member, CONSENT_FIELDS[channel], granted)
    member.consent_updated_at = now
    member.consent_source = source.strip()[:40]
    member.save(update_fields=[CONSENT_FIELDS[channel], "consent_updated_at", "consent_source"])
    ConsentRecord.objects.create(
        member=member, channel=channel, granted=granted, at=now, source=source[:40]
    )
    audit.record(actor, "consent_changed", member, f"{channel}={'yes' if granted else 'no'}")
    return member


def on_sms_opt_out(*, phone_e164: str, **_payload) -> None:
    """A STOP reply to any of our SMS also withdraws marketing-SMS consent from the members
    with that number (``notifications.sms_opt_out``), on the record with how we learnt it."""
    for member in Member.objects.filter(phone_e164=phone_e164, consent_marketing_sms=True):
        set_consent(
            member, ConsentChannel.MARKETING_SMS, False, source="SMS STOP reply", actor=SYSTEM
        )


def get_member(loyalty_id: str) -> Member:
    member = Member.objects.filter(loyalty_id=(loyalty_id or "").strip().upper()).first()
    if member is None:
        raise NotFound(f"No member with loyalty id {loyalty_id!r}")
    return member


@dataclass
class MemberSearch:
    """One page of a member search, and whether more members match."""

    members: list[Member]
    page: int
    has_more: bool


def find_members(query: str, *, actor: Actor, page: int = 1, per_page: int = 20) -> MemberSearch:
    """Find members by loyalty id, phone (any format), e-mail or name, a page at a time; the
    lookup is audited. An exact id, phone or e-mail match wins over names that contain it."""
    text = (query or "").strip()
    if len(text) < 3:
        raise DomainError(
            "Enter at least 3 characters: a loyalty id, a phone number, an e-mail address or a name",
            field="q",
        )
    page = max(1, page)
    if "@" in text:
        found, how = Member.objects.filter(email__in=email_spellings(text)), "email"
    else:
        # A loyalty id, or something typed like a phone number: try both.
        exact, how = Q(loyalty_id=text.upper()), "loyalty_id"
        if PHONE_LIKE.match(text):
            try:
                exact |= Q(phone_e164=to_e164(text))
                how = "loyalty_id or phone"
            except DomainError:
                pass
        found = Member.objects.filter(exact)
        if not found.exists():
            found, how = Member.objects.filter(name__icontains=text), "name"
    start = (page - 1) * per_page
    rows = list(found.order_by("name", "pk")[start : start + per_page + 1])
    members, has_more = rows[:per_page], len(rows) > per_page
    audit.record(actor, "member_search", None, f"by {how}: page {page}, {len(members)} shown")
    return MemberSearch(members, page, has_more)


def search_members(query: str, *, actor: Actor, limit: int = 20) -> list[Member]:
    """The first ``limit`` members :func:`find_members` finds."""
    return find_members(query, actor=actor, per_page=limit).members


def find_member(*, loyalty_id: str = "", phone_e164: str = "", email: str = "") -> Member | None:
    """The member a shopper is, by loyalty id first, then phone (E.164), then e-mail; None when
    nothing matches (or a phone or e-mail is shared by several members: no guessing)."""
    if loyalty_id:
        found = Member.objects.filter(loyalty_id=loyalty_id.strip().upper()).first()
        if found is not None:
            return found
    for field, value in (("phone_e164", phone_e164), ("email", email.strip())):
        if value:
            lookup = (
                {field: value} if field == "phone_e164" else {"email__in": email_spellings(value)}
            )
            matches = list(Member.objects.filter(**lookup)[:2])
            if len(matches) == 1:
                return matches[0]
    return None
