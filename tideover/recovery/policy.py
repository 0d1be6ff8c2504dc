"""The goodwill policy of an incident: what each affected customer gets, who is reachable, and
what it may cost (shown before anyone presses send)."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
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
    for name in ("offer_value", "min_spend_cents", "budget_cents"):
        if values[name] < 0:
            raise DomainError(f"{name} cannot be negative", field=name)


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


def contact_for(customer, member, preference: str) -> tuple[str, str] | tuple[None, str]:
    """(channel, address) the offer goes to, or (None, why not). Marketing consent is the
    shopper's own tick at sign-up or the member's marketing consent for that channel."""
    phone = customer.phone_e164 or (member.phone_e164 if member else "")
    email = customer.email or (member.email if member else "")
    consented = customer.consent_marketing
    sms_ok = bool(phone) and (consented or bool(member and member.consent_marketing_sms))
    email_ok = bool(email) and (consented or bool(member and member.consent_marketing_email))
    order = {
        ChannelPreference.SMS_FIRST: ("sms", "email"),
        ChannelPreference.EMAIL_FIRST: ("email", "sms"),
        ChannelPreference.SMS_ONLY: ("sms",),
        ChannelPreference.EMAIL_ONLY: ("email",),
    }[preference]
    for channel in order:
        if channel == "sms" and sms_ok:
            return "sms", phone
        if channel == "email" and email_ok:
            return "email", email
    if not (phone or email):
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
    """``queryset`` of affected customers as Recipients, in its order."""
    found = []
    for row in queryset.values_list(*_RECIPIENT_FIELDS):
        member = MemberView(row[5], *row[6:11]) if row[5] is not None else None
        zone = row[11] or row[12] or settings.TIME_ZONE
        found.append(Recipient(row[0], row[1], row[2], row[3], row[4], member, zone))
    return found


def estimate(incident: Incident, policy: GoodwillPolicy | None = None) -> dict:
    """Who would get what, and what it may cost, if the campaign were sent now."""
    policy = policy or policy_of(incident)
    point_cents = point_value_cents()
    counts: Counter = Counter()
    by_tier: Counter = Counter()
    totals = [0, 0, 0]  # discounts, points cost, points
    everyone = AffectedCustomer.objects.filter(incident=incident).order_by("pk")
    last = 0
    while True:
        chunk = recipients(everyone.filter(pk__gt=last)[:20_000])
        if not chunk:
            break
        last = chunk[-1].pk
        _tally(chunk, policy, point_cents, counts, by_tier, totals)
    discounts, points_cost, points = totals
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


def _tally(chunk, policy, point_cents, counts, by_tier, totals) -> None:
    for customer in chunk:
        counts["affected"] += 1
        if is_holdout(policy, customer.pk):
            counts["holdout"] += 1
            continue
        member = customer.member
        channel, why = contact_for(customer, member, policy.channel)
        if channel is None:
            counts[why] += 1
            continue
        terms = terms_for(policy, member.tier if member else None, point_cents=point_cents)
        counts["offers"] += 1
        counts[channel] += 1
        by_tier[member.tier if member else "not a member"] += 1
        totals[0] += terms.cost_cents
        totals[1] += terms.points_cost_cents
        totals[2] += terms.bonus_points
