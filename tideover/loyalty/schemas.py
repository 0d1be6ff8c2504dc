"""API shapes for members, balances, statements, rewards and adjustments."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from ninja import Field, Schema

from tideover.core.schemas import InputSchema
from tideover.loyalty.models import AdjustmentReason

ReasonCode = Literal[tuple(AdjustmentReason.values)]  # type: ignore[valid-type]


class ConsentOut(Schema):
    transactional: bool
    marketing_sms: bool
    marketing_email: bool
    updated_at: datetime | None
    source: str


class MemberOut(Schema):
    loyalty_id: str
    name: str
    phone: str | None = Field(None, description="E.164; only for callers allowed to see contacts")
    email: str | None = None
    tier: str
    balance: int
    home_store: str | None
    consent: ConsentOut
    created_at: datetime


class MemberIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=200)
    phone: str = Field("", max_length=40, description="Any format; stored as E.164")
    email: str = Field("", max_length=254)
    tier: str = "member"
    loyalty_id: str | None = Field(None, max_length=32, description="Leave out to have one made")
    consents: dict[Literal["transactional", "marketing_sms", "marketing_email"], bool] = Field(
        default_factory=dict
    )
    consent_source: str = Field("", max_length=40, description="How consent was given")
    home_store: str | None = Field(None, max_length=20, description="Store code")


class LotOut(Schema):
    expires_on: date
    points: int


class RewardOut(Schema):
    code: str
    value_cents: int
    points: int
    issued_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None
    redeemed_sale_id: str


class BalanceOut(Schema):
    loyalty_id: str
    balance: int
    tier: str
    pending_rewards: list[RewardOut]
    expiring: list[LotOut]
    next_reward_in_points: int


class MemberBalanceOut(Schema):
    loyalty_id: str
    balance: int
    tier: str


class BalancesOut(Schema):
    balances: list[MemberBalanceOut]
    unknown: list[str]  # asked for, but no such member


class LineOut(Schema):
    account: str
    points: int


class EntryOut(Schema):
    id: int
    kind: str
    source_type: str
    source_id: str
    points: int
    occurred_at: datetime
    posted_at: datetime
    actor: str
    reason: str
    lines: list[LineOut]


class AdjustmentIn(InputSchema):
    points: int = Field(
        ...,
        description="Positive credits, negative debits",
        ge=-1_000_000,
        le=1_000_000,
        strict=True,
    )
    reason_code: ReasonCode
    note: str = Field(..., min_length=1, max_length=2000)


class DecisionIn(InputSchema):
    note: str = Field("", max_length=2000)


class AdjustmentOut(Schema):
    id: int
    loyalty_id: str
    points: int
    reason_code: str
    note: str
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str
    decided_at: datetime | None
    decision_note: str


class CodeCheckOut(Schema):
    code: str
    kind: str = Field(..., description="reward (from points) or goodwill (an incident's offer)")
    value_cents: int = Field(..., description="Money off a fixed-value code (0 for percent off)")
    percent_off: int = Field(..., description="Percent off a percentage code (0 for money off)")
    min_spend_cents: int = Field(..., description="The purchase it needs (0: none)")
    valid_from: datetime | None
    expires_at: datetime
    usable: bool
    basket_cents: int | None = Field(None, description="The basket total asked about, if any")
    min_spend_met: bool | None = Field(
        None, description="With basket_cents: whether that basket reaches the minimum spend"
    )
    discount_cents: int | None = Field(
        None, description="With basket_cents: what the code alone takes off that basket"
    )


class ConsentIn(InputSchema):
    channel: Literal["transactional", "marketing_sms", "marketing_email"]
    granted: bool
    source: str = Field(..., min_length=1, max_length=40, description="How the member told us")
