"""The goodwill policy of an incident: what each affected customer gets, who is reachable, and
what it may cost (shown before anyone presses send)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q
from django.utils import timezone

from tideover.core.actors import Actor
from tideover.core.errors import DomainError
from tideover.incidents.models import Incident
from tideover.loyalty.config import program
from tideover.recovery.models import (
    AffectedCustomer,
    ChannelPreference,
    GoodwillPolicy,
    OfferKind,
)

POLICY_FIELDS = (
    "offer_kind",
    "offer_value",
    "min_spend_cents",
    "tier_bonus",
    "valid_days",
    "channel",
    "budget_cents",
    "expected_redemption_percent",
    "holdout_percent",
    "recovery_window_days",
)


def policy_of(incident: Incident) -> GoodwillPolicy:
    """The incident's policy (the defaults until someone sets one; not saved)."""
    policy = GoodwillPolicy.objects.filter(incident=incident).first()
    return policy or GoodwillPolicy(incident=incident)


def _check(values: dict) -> None:
    kind = values["offer_kind"]
    if kind not in OfferKind.values:
        raise DomainError("Choose an amount or a percent off", field="offer_kind")
    if values["offer_value"] <= 0:
        raise DomainError("The offer must be worth something", field="offer_value")
    if kind == OfferKind.PERCENT and values["offer_value"] > 90:
        raise DomainError("A percent offer is at most 90% off", field="offer_value")
    if values["channel"] not in ChannelPreference.values:
        raise DomainError("Unknown channel preference", field="channel")
    if not 1 <= values["valid_days"] <= 365:
        raise DomainError("Validity is 1 to 365 days", field="valid_days")
    if not 0 <= values["expected_redemption_percent"] <= 100:
        raise DomainError(
            "Expected redemption is a percentage", field="expected_redemption_percent"
        )
    if not 0 <= values["holdout_percent"] <= 50:
        raise DomainError("Hold out at most half of the customers", field="holdout_percent")
    if not 1 <= values["recovery_window_days"] <= 90:
        raise DomainError("The recovery window is 1 to 90 days", field="recovery_window_days")
    tiers = program().tier_multipliers
    bonus = values["tier_bonus"]
    if not isinstance(bonus, dict):
        raise DomainError("Tier bonus is {tier: {points: n} or {extra: n}}", field="tier_bonus")
    for tier, rule in bonus.items():
        if tier not in tiers:
            raise DomainError(
                f"Unknown tier {tier!r}; use one of {', '.join(tiers)}", field="tier_bonus"
            )
        if not isinstance(rule, dict) or set(rule) - {"points", "extra"}:
            raise DomainError(
                f"Bonus for {tier} is {{points: n}} or {{extra: n}}", field="tier_bonus"
            )
        if any(not isinstance(v, int) or v < 0 for v in rule.values()):
            raise DomainError(f"Bonus for {tier} must be whole numbers", field="tier_bonus")
        if any(v > MAX_BONUS for v in rule.values()):
            raise DomainError(f"Bonus for {tier} is at most {MAX_BONUS:,}", field="tier_bonus")
    for name, most in MOST.items():
        if values[name] < 0:
            raise DomainError(f"{name} cannot be negative", field=name)
        if values[name] > most:
            raise DomainError(f"{name} is at most {most:,}", field=name)


# The most each amount may be: far past any apology, and within what its column holds.
MOST = {
    "offer_value": 100_000,  # cents: $1,000 off (a percent offer stops at 90 above)
    "min_spend_cents": 100_000_000,
    "budget_cents": 10_000_000_000,
}
MAX_BONUS = 1_000_000  # points, or cents/percent points extra


@transaction.atomic
def set_policy(incident: Incident, *, actor: Actor, **values) -> GoodwillPolicy:
    """Set the incident's goodwill policy (refused once the campaign has started)."""
    if hasattr(incident, "goodwill_campaign"):
        raise DomainError("The campaign has started; the policy can no longer change")
    policy = policy_of(incident)
    merged = {name: values.get(name, getattr(policy, name)) for name in POLICY_FIELDS}
    _check(merged)
    for name, value in merged.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.updated_by = actor.name[:150]
    policy.save()
    return policy


@dataclass(frozen=True)
class Terms:
    """What one customer is offered."""

    value_cents: int
    percent_off: int
    min_spend_cents: int
    bonus_points: int
    cost_cents: int  # most the discount can cost (percent: on a minimum-spend basket)
    points_cost_cents: int  # the bonus points at what a point is worth in rewards
    text: str  # "$5.00 off", "15% off"


def _dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def point_value_cents() -> float:
    prog = program()
    return prog.reward_value_cents / prog.reward_threshold


def terms_for(policy: GoodwillPolicy, tier: str | None, *, point_cents: float) -> Terms:
    bonus = policy.tier_bonus.get(tier, {}) if tier else {}
    extra, points = bonus.get("extra", 0), bonus.get("points", 0)
    points_cost = round(points * point_cents)
    if policy.offer_kind == OfferKind.PERCENT:
        percent = min(policy.offer_value + extra, 90)
        cost = policy.min_spend_cents * percent // 100
        return Terms(
            0, percent, policy.min_spend_cents, points, cost, points_cost, f"{percent}% off"
        )
    value = policy.offer_value + extra
    text = f"{_dollars(value)} off"
    return Terms(value, 0, policy.min_spend_cents, points, value, points_cost, text)


def is_holdout(policy: GoodwillPolicy, customer_pk: int) -> bool:
    """A stable draw per customer: the same customers are held out however often it runs."""
    if not policy.holdout_percent:
        return False
    digest = hashlib.sha256(f"{policy.incident_id}:{customer_pk}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < policy.holdout_percent


_ORDER = {
    ChannelPreference.SMS_FIRST.value: ("sms", "email"),
    ChannelPreference.EMAIL_FIRST.value: ("email", "sms"),
    ChannelPreference.SMS_ONLY.value: ("sms",),
    ChannelPreference.EMAIL_ONLY.value: ("email",),
}


def contact_for(customer, member, preference: str) -> tuple[str, str] | tuple[None, str]:
    """(channel, address) the offer goes to, or (None, why not). Marketing consent is the
    shopper's own tick at sign-up (for the contact details they gave then, or their member
    record's), or the member's marketing consent for that channel, which covers the member's
    own number or address only: a number the shopper opted out never borrows it."""
    consented = customer.consent_marketing
    phones = [(customer.phone_e164, consented)]
    emails = [(customer.email, consented)]
    if member is not None:
        phones.append((member.phone_e164, consented or member.consent_marketing_sms))
        emails.append((member.email, consented or member.consent_marketing_email))
    for channel in _ORDER[preference]:
        for address, allowed in phones if channel == "sms" else emails:
            if address and allowed:
                return channel, address
    if not any(address for address, _ in phones + emails):
        return None, "no_contact"
    return None, "no_marketing_consent"


@dataclass(slots=True)
class MemberView:
    pk: int
    tier: str
    phone_e164: str
    email: str
    consent_marketing_sms: bool
    consent_marketing_email: bool


@dataclass(slots=True)
class Recipient:
    """An affected customer as the campaign needs them: read as plain values (a million model
    instances would cost more than everything else the campaign does)."""

    pk: int
    name: str
    phone_e164: str
    email: str
    consent_marketing: bool
    member: MemberView | None
    time_zone: str

    @property
    def member_id(self) -> int | None:
        return self.member.pk if self.member is not None else None


_RECIPIENT_FIELDS = (
    "pk", "name", "phone_e164", "email", "consent_marketing", "member_id", "member__tier",
    "member__phone_e164", "member__email", "member__consent_marketing_sms",
    "member__consent_marketing_email", "store__time_zone", "member__home_store__time_zone",
)  # fmt: skip


def recipients(queryset) -> list[Recipient]:
    """``queryset`` of affected customers as Recipients, in its order. The rows are read
    through the cursor (the query is the ORM's): a campaign reads a million of them, and the
    ORM's per-value conversions would cost more than deciding each one's offer."""
    sql, params = queryset.values_list(*_RECIPIENT_FIELDS).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    default_zone = settings.TIME_ZONE
    found = []
    for row in rows:
        member = (
            MemberView(row[5], row[6], row[7], row[8], bool(row[9]), bool(row[10]))
            if row[5] is not None
            else None
        )
        zone = row[11] or row[12] or default_zone
        found.append(Recipient(row[0], row[1], row[2], row[3], bool(row[4]), member, zone))
    return found


# What decides a customer's offer: which contacts exist (theirs or their member's), the
# consents, the tier. Customers alike in these are counted together by the database.
_PROFILE = {
    "has_phone": Q(phone_e164__gt="") | Q(member__phone_e164__gt=""),
    "has_email": Q(email__gt="") | Q(member__email__gt=""),
    "member_sms": Q(member__consent_marketing_sms=True),
    "member_email": Q(member__consent_marketing_email=True),
}
_PROFILE_FIELDS = ("consent_marketing", "no_member", "member__tier", *_PROFILE)


def _profiles(incident: Incident, policy: GoodwillPolicy) -> Counter:
    """(held out, profile) -> customers, where a profile is a representative Recipient's
    fields (contacts as "+" / "@" when present)."""
    everyone = AffectedCustomer.objects.filter(incident=incident).annotate(
        no_member=ExpressionWrapper(Q(member__isnull=True), BooleanField()),
        **{name: ExpressionWrapper(q, BooleanField()) for name, q in _PROFILE.items()},
    )
    found: Counter = Counter()
    if not policy.holdout_percent:
        grouped = everyone.values_list(*_PROFILE_FIELDS).annotate(n=Count("pk")).order_by()
        for *profile, n in grouped:
            found[(False, _key(profile))] += n
        return found
    # The holdout draw is per customer (a hash the database cannot compute): walk them all.
    rows = everyone.values_list("pk", *_PROFILE_FIELDS).order_by()
    for pk, *profile in rows.iterator(chunk_size=20_000):
        found[(is_holdout(policy, pk), _key(profile))] += 1
    return found


def _key(profile) -> tuple:
    consented, no_member, tier, *flags = profile  # NULL (no member) is False
    return (bool(consented), bool(no_member), tier, *(bool(flag) for flag in flags))


def _representative(profile: tuple) -> Recipient:
    consented, no_member, tier, has_phone, has_email, sms, mail = profile
    phone, email = ("+" if has_phone else ""), ("@" if has_email else "")
    member = None if no_member else MemberView(0, tier, phone, email, bool(sms), bool(mail))
    return Recipient(0, "", phone, email, bool(consented), member, "")


def estimate(incident: Incident, policy: GoodwillPolicy | None = None) -> dict:
    """Who would get what, and what it may cost, if the campaign were sent now."""
    policy = policy or policy_of(incident)
    point_cents = point_value_cents()
    counts: Counter = Counter()
    by_tier: Counter = Counter()
    discounts = points_cost = points = 0
    for (held, profile), n in _profiles(incident, policy).items():
        counts["affected"] += n
        if held:
            counts["holdout"] += n
            continue
        customer = _representative(profile)
        member = customer.member
        channel, why = contact_for(customer, member, policy.channel)
        if channel is None:
            counts[why] += n
            continue
        tier = member.tier if member else None
        terms = terms_for(policy, tier, point_cents=point_cents)
        counts["offers"] += n
        counts[channel] += n
        by_tier[tier or "not a member"] += n
        discounts += terms.cost_cents * n
        points_cost += terms.points_cost_cents * n
        points += terms.bonus_points * n
    # Points are granted to every member who gets an offer; discounts cost only when used.
    expected = discounts * policy.expected_redemption_percent // 100 + points_cost
    return {
        "counts": dict(counts),
        "by_tier": dict(by_tier),
        "max_cost_cents": discounts + points_cost,
        "points_cost_cents": points_cost,
        "expected_cost_cents": expected,
        "bonus_points": points,
        "budget_cents": policy.budget_cents,
        "within_budget": not policy.budget_cents or expected <= policy.budget_cents,
    }
