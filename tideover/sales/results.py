"""Each sale posted gets its own answer: posted, duplicate, conflict or rejected (with why)."""

from __future__ import annotations

from dataclasses import dataclass, field

POSTED, DUPLICATE, CONFLICT, REJECTED = "posted", "duplicate", "conflict", "rejected"


@dataclass
class SaleResult:
    sale_id: str
    result: str
    reason: str | None = None
    points: int | None = None
    balance: int | None = None
    rewards: list[dict] = field(default_factory=list)
    redeemed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tier: str | None = None  # the member's loyalty tier, when the sale earned points

    def as_dict(self) -> dict:
        # By hand: dataclasses.asdict deep-copies field by field, which cost a sixth of the
        # CPU of a 500-sale sales:batch request (the agent's drain sends those).
        return {
            "sale_id": self.sale_id,
            "result": self.result,
            "reason": self.reason,
            "points": self.points,
            "balance": self.balance,
            "rewards": [dict(reward) for reward in self.rewards],
            "redeemed": list(self.redeemed),
            "notes": list(self.notes),
            "tier": self.tier,
        }
