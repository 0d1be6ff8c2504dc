"""The offline card policy and provisional loyalty points, as the agent applies them.

HQ keeps the policy per store or region (``tideover.storelink``) and sends it with every answer
to a heartbeat, with the loyalty program's accrual rules and the per-sale limits; the agent
caches the last ones it got, and uses these defaults until it has heard from HQ once. The
defaults are those of HQ's STORELINK_CARD_*, LOYALTY_* and SALES_MAX_* settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from tideover.agent.journal import Exposure
from tideover.loyalty.rates import Promo, Rule, earned

DEFAULT_TIER = "member"  # loyalty.models.Member.tier's default

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
    """What the agent needs of the loyalty program to estimate points as HQ will post them:
    HQ sends it with every heartbeat answer (``storelink.services.loyalty_program``)."""

    points_per_dollar: int = 1
    reward_threshold: int = 500
    tier_multipliers: tuple[tuple[str, int], ...] = ()
    rules: tuple[Rule, ...] = ()  # newest first
    promotions: tuple[Promo, ...] = ()
    sale_points_cap: int = 0  # 0: none known
    sale_points_review: int = 0

    @classmethod
    def from_dict(cls, data: dict | None) -> Program:
        if not data:
            return cls()
        ints = {
            k: int(v)
            for k, v in data.items()
            if k in cls.__dataclass_fields__ and not isinstance(v, dict | list)
        }
        tiers = data.get("tier_multipliers") or {}
        return cls(
            **ints,
            tier_multipliers=tuple(sorted((str(k), int(v)) for k, v in tiers.items())),
            rules=tuple(
                Rule(int(r["points_per_dollar"]), _time(r["starts_at"]))
                for r in data.get("rules") or []
            ),
            promotions=tuple(
                Promo(
                    int(p["multiplier_percent"]),
                    _time(p["starts_at"]),
                    _time(p["ends_at"]),
                    tuple(p.get("tiers") or ()),
                )
                for p in data.get("promotions") or []
            ),
        )

    def points(self, paid_cents: int, tier: str | None, at: datetime) -> int:
        """Points HQ will post for this purchase (``tideover.loyalty.rates``, HQ's formula),
        after HQ's per-sale cap; 0 when HQ would hold them for review."""
        points = earned(
            paid_cents,
            tier or DEFAULT_TIER,
            at,
            points_per_dollar=self.points_per_dollar,
            tier_multipliers=dict(self.tier_multipliers),
            rules=self.rules,
            promotions=self.promotions,
        )
        if self.sale_points_cap and points > self.sale_points_cap:
            points = self.sale_points_cap
        if self.sale_points_review and points > self.sale_points_review:
            return 0  # held at HQ until someone approves them (loyalty.holds.screen)
        return points


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _dollars(cents: int) -> str:
    return f"${cents / 100:,.2f}"


def card_offline_cents(sale) -> int:
    """What a completed sale puts on cards the terminal could not authorise."""
    if sale.kind != "sale" or sale.status != "completed":
        return 0
    return sum(t.amount_cents for t in sale.tenders if t.kind == "card_offline")


def check_card(amount_cents: int, policy: CardPolicy, exposure: Exposure) -> str | None:
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
        exposure.oldest_age_seconds is not None
        and exposure.oldest_age_seconds > policy.max_age_minutes * 60
    ):
        return f"{REFUSAL} (unsent card sales are older than {policy.max_age_minutes} minutes)"
    return None


def provisional_points(sale, program: Program, tier: str | None = None) -> int:
    """Points this sale will likely earn (sales) or take back (returns, voids: estimated from
    the refund at the return's time), with HQ's rules and the member's last known tier. HQ's
    posting is the truth; a difference (a tier changed, a return of a sale HQ rated otherwise)
    shows once it posts."""
    if not sale.member_id or sale.status != "completed":
        return 0
    paid = sum(t.amount_cents for t in sale.tenders)
    if not sale.tenders:
        paid = sum(line.quantity * line.unit_price_cents for line in sale.lines)
    points = program.points(paid, tier, sale.occurred_at)
    return points if sale.kind == "sale" else -points


def rewards_unlocked(hq_balance: int, provisional_balance: int, threshold: int) -> int:
    """How many rewards the member would unlock when the queued sales post."""
    if threshold <= 0 or provisional_balance <= hq_balance:
        return 0
    return max(0, provisional_balance // threshold - max(0, hq_balance) // threshold)
