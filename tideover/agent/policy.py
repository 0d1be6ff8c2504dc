"""The offline card policy and provisional loyalty points, as the agent applies them.

HQ keeps the policy per store or region (``tideover.storelink``) and sends it with every answer
to a heartbeat; the agent caches the last one it got, and uses these defaults until it has heard
from HQ once. The defaults are those of HQ's STORELINK_CARD_* settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tideover.agent.journal import Exposure

REFUSAL = "card not accepted offline: take cash or another card"


@dataclass(frozen=True)
class CardPolicy:
    per_sale_limit_cents: int = 20_000
    total_limit_cents: int = 500_000
    max_count: int = 100
    max_age_minutes: int = 240

    @classmethod
    def from_dict(cls, data: dict | None) -> CardPolicy:
        if not data:
            return cls()
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Program:
    """What the agent needs of the loyalty program to estimate points (HQ sends it)."""

    points_per_dollar: int = 1
    reward_threshold: int = 500

    @classmethod
    def from_dict(cls, data: dict | None) -> Program:
        if not data:
            return cls()
        known = {k: int(v) for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def card_offline_cents(sale) -> int:
    """What a completed sale puts on cards the terminal could not authorise."""
    if sale.kind != "sale" or sale.status != "completed":
        return 0
    return sum(t.amount_cents for t in sale.tenders if t.kind == "card_offline")


def check_card(amount_cents: int, policy: CardPolicy, exposure: Exposure, now: float) -> str | None:
    """None when the policy allows this offline card amount, else the refusal to show."""
    if amount_cents <= 0:
        return None
    if amount_cents > policy.per_sale_limit_cents:
        return f"{REFUSAL} (over the {_dollars(policy.per_sale_limit_cents)} limit per sale)"
    if exposure.count + 1 > policy.max_count:
        return f"{REFUSAL} (the store holds {policy.max_count} unsent card sales already)"
    if exposure.total_cents + amount_cents > policy.total_limit_cents:
        return (
            f"{REFUSAL} (the store's unsent card sales would pass "
            f"{_dollars(policy.total_limit_cents)})"
        )
    if (
        exposure.oldest_accepted_at is not None
        and now - exposure.oldest_accepted_at > policy.max_age_minutes * 60
    ):
        return f"{REFUSAL} (unsent card sales are older than {policy.max_age_minutes} minutes)"
    return None


def provisional_points(sale, program: Program) -> int:
    """Points this sale will likely earn (sales) or take back (returns, voids: estimated from
    the refund), at the base rate. HQ's posting is the truth; tier multipliers and promotions
    show up as a difference once it posts."""
    if not sale.member_id or sale.status != "completed":
        return 0
    paid = sum(t.amount_cents for t in sale.tenders)
    if not sale.tenders:
        paid = sum(line.quantity * line.unit_price_cents for line in sale.lines)
    points = paid * program.points_per_dollar // 100
    return points if sale.kind == "sale" else -points


def rewards_unlocked(hq_balance: int, provisional_balance: int, threshold: int) -> int:
    """How many rewards the member would unlock when the queued sales post."""
    if threshold <= 0 or provisional_balance <= hq_balance:
        return 0
    return max(0, provisional_balance // threshold - max(0, hq_balance) // threshold)
