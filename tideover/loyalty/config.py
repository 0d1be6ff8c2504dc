"""The loyalty program's numbers, from settings (see docs/configuration.md, "Loyalty")."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Program:
    points_per_dollar: int
    tier_multipliers: dict[str, int]  # tier -> percent (100 = as earned)
    reward_threshold: int  # every this many points ...
    reward_value_cents: int  # ... become a reward worth this
    reward_valid_days: int
    points_valid_months: int
    reminder_days: int
    approval_points: int  # adjustments above this (absolute) need a second person
    sale_points_cap: int = 20_000  # one sale never earns more
    sale_points_review: int = 5_000  # one sale earning more is held for a person to review


def _tiers(items: list[str]) -> dict[str, int]:
    tiers = {}
    for item in items:
        name, _, percent = item.partition(":")
        if not name.strip() or not percent.strip().isdigit():
            raise ImproperlyConfigured(
                f"LOYALTY_TIERS item {item!r} should look like cardholder:150 (tier:percent)"
            )
        tiers[name.strip()] = int(percent)
    return tiers


def program() -> Program:
    """The program as configured now (read on each call: tests override settings)."""
    return Program(
        points_per_dollar=settings.LOYALTY_POINTS_PER_DOLLAR,
        tier_multipliers=_tiers(settings.LOYALTY_TIERS),
        reward_threshold=max(1, settings.LOYALTY_REWARD_THRESHOLD_POINTS),
        reward_value_cents=settings.LOYALTY_REWARD_VALUE_CENTS,
        reward_valid_days=settings.LOYALTY_REWARD_VALID_DAYS,
        points_valid_months=settings.LOYALTY_POINTS_VALID_MONTHS,
        reminder_days=settings.LOYALTY_EXPIRY_REMINDER_DAYS,
        approval_points=settings.LOYALTY_ADJUSTMENT_APPROVAL_POINTS,
        sale_points_cap=max(0, settings.LOYALTY_SALE_POINTS_CAP),
        sale_points_review=max(0, settings.LOYALTY_SALE_POINTS_REVIEW),
    )
