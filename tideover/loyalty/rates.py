"""How many points a purchase earns: one formula for HQ's posting (``accrual.Rates``) and the
store agent's provisional points (``tideover.agent.policy``, with the rules HQ sends it). No
Django here: the agent's process imports it.

The base rate is the latest accrual rule started by the sale's time (else the program's
``points_per_dollar``); the member's tier multiplier and the best promotion running then (for
that tier) apply on top, in percent; the result is rounded down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Rule:
    """Points per dollar from ``starts_at`` on (as ``loyalty.models.AccrualRule``)."""

    points_per_dollar: int
    starts_at: datetime


@dataclass(frozen=True)
class Promo:
    """Extra points in a window, for some tiers or all (as ``loyalty.models.Promotion``)."""

    multiplier_percent: int
    starts_at: datetime
    ends_at: datetime
    tiers: tuple[str, ...] = ()


def earned(
    paid_cents: int,
    tier: str,
    at: datetime,
    *,
    points_per_dollar: int,
    tier_multipliers: Mapping[str, int],
    rules: Sequence = (),
    promotions: Sequence = (),
) -> int:
    """Points ``paid_cents`` earns a member of ``tier`` at ``at``. ``rules`` newest first;
    rules and promotions are any objects with the attributes of ``Rule`` and ``Promo``."""
    if paid_cents <= 0:
        return 0
    tier_percent = tier_multipliers.get(tier, 100)
    if not rules and not promotions:  # the usual case: one multiplication
        return paid_cents * points_per_dollar * tier_percent // 10_000
    per_dollar = next((r.points_per_dollar for r in rules if r.starts_at <= at), points_per_dollar)
    promo_percent = max(
        (
            p.multiplier_percent
            for p in promotions
            if p.starts_at <= at < p.ends_at and (not p.tiers or tier in p.tiers)
        ),
        default=100,
    )
    return paid_cents * per_dollar * tier_percent * promo_percent // 1_000_000
