"""The shape of a sale as registers and store agents send it, and of each sale's result.

The one definition for HQ and the store agent (``tideover.agent``), which imports it without
Django: so nothing here imports Django. The occurred_at bounds read HQ's settings when Django is
configured and the documented defaults otherwise (the agent's process).
"""

from __future__ import annotations

import hashlib
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel as Schema
from pydantic import (
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

SALE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
# The defaults of SALES_FUTURE_TOLERANCE_SECONDS and SALES_MAX_AGE_DAYS (docs/configuration.md).
DEFAULT_FUTURE_TOLERANCE_SECONDS = 300
DEFAULT_MAX_AGE_DAYS = 400


def _bounds() -> tuple[int, int]:
    """(future tolerance in seconds, max age in days): HQ's settings, else the defaults."""
    conf = sys.modules.get("django.conf")
    if conf is not None and conf.settings.configured:
        return conf.settings.SALES_FUTURE_TOLERANCE_SECONDS, conf.settings.SALES_MAX_AGE_DAYS
    return DEFAULT_FUTURE_TOLERANCE_SECONDS, DEFAULT_MAX_AGE_DAYS


def member_key(member_id: str) -> str:
    """A loyalty id as HQ keeps it: stripped, upper-case (a till may send it as typed)."""
    return member_id.strip().upper()


def describe_errors(exc: ValidationError) -> str:
    """A sale's validation errors in one line a till can show: ``field: what to fix; ...``."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error.get("loc", ()))
        message = error.get("msg", "invalid value").removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


def content_hash(sale: SaleIn) -> str:
    """A fingerprint of what the till sent, to tell a resend (same) from a clash (different)."""
    # Fields serialise in their declared order and occurred_at is already UTC (SaleIn), so the
    # same sale always gives the same bytes however the till formatted it. original_store
    # came later: left out when unset, so sales posted before it still hash the same.
    exclude = {"original_store"} if sale.original_store is None else None
    return hashlib.sha256(sale.model_dump_json(exclude=exclude).encode()).hexdigest()


def hash_as_sent(sale: SaleIn) -> str | None:
    """The fingerprint the sale had before loyalty ids were upper-cased, when that changed it
    (a resend of a sale posted then is still a duplicate, not a conflict); else None."""
    sent = sale._member_id_as_sent
    if sent is None or sent == sale.member_id:
        return None
    return content_hash(sale.model_copy(update={"member_id": sent}))


def _within_bounds(value: datetime) -> datetime:
    """A sale happened in the recent past: a date far off is a till clock or a typo, and
    would earn points (or deadlines) that never were."""
    now = datetime.now(UTC)
    tolerance, max_age_days = _bounds()
    ahead = timedelta(seconds=max(0, tolerance))
    if value > now + ahead:
        raise ValueError(
            f"is in the future (more than {int(ahead.total_seconds())} s after HQ's clock, "
            f"{now:%Y-%m-%dT%H:%M:%SZ}); check the register's clock and send it again"
        )
    max_age = timedelta(days=max(1, max_age_days))
    if value < now - max_age:
        raise ValueError(
            f"is more than {max_age.days} days ago; sales that old are not posted, "
            "check the register's clock or the date sent"
        )
    return value


class LineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(..., min_length=1, max_length=40)
    quantity: int = Field(
        ..., ge=1, le=100_000, strict=True, description="Units; returns list units returned"
    )
    unit_price_cents: int = Field(
        ..., ge=0, le=100_000_000, strict=True, description="Integer cents"
    )


class TenderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["cash", "card", "card_offline"]
    amount_cents: int = Field(..., ge=0, le=1_000_000_000, strict=True)


class SaleIn(Schema):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    sale_id: str = Field(
        ...,
        pattern=SALE_ID_PATTERN,
        description="Globally unique id made at the register or store agent; posting is idempotent by it",
    )
    store: str = Field(..., min_length=1, max_length=20, description="Store code, e.g. S001")
    # "register" would shadow pydantic's ABC.register, hence the alias.
    register_code: str = Field("", max_length=20, alias="register")
    occurred_at: datetime = Field(..., description="When the customer paid, with a time zone")
    status: Literal["completed", "failed", "declined", "voided"] = "completed"
    kind: Literal["sale", "return", "void"] = "sale"
    original_sale_id: str | None = Field(
        None, pattern=SALE_ID_PATTERN, description="Returns and voids: the sale they undo"
    )
    original_store: str | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="Returns and voids of a sale made at another store: that store's code "
        "(sale ids are unique per store; without it the returning store's sale is meant, "
        "else the one store that posted that id)",
    )
    member_id: str | None = Field(
        None,
        max_length=32,
        description="Loyalty id, when scanned (any case: kept upper-case, as members are)",
    )
    lines: list[LineIn] = Field(default_factory=list, max_length=500)
    tenders: list[TenderIn] = Field(default_factory=list, max_length=20)
    codes: list[Annotated[str, Field(max_length=40)]] = Field(
        default_factory=list, max_length=10, description="Reward or coupon codes used"
    )

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("needs a time zone, e.g. 2026-11-21T14:03:00Z")
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            # 0001-01-01T00:00+05:00 is before the first representable UTC instant.
            raise ValueError("is outside the calendar; send when the customer paid") from None
        return _within_bounds(value)

    _member_id_as_sent: str | None = PrivateAttr(None)

    @field_validator("member_id")
    @classmethod
    def _normal_loyalty_id(cls, value: str | None) -> str | None:
        # Loyalty ids are stored upper-case; a till sending one as typed must still earn.
        return member_key(value) or None if value is not None else None

    @model_validator(mode="wrap")
    @classmethod
    def _remember_member_id_as_sent(cls, data, handler):
        sale = handler(data)
        if isinstance(data, dict) and isinstance(data.get("member_id"), str):
            sale._member_id_as_sent = data["member_id"].strip() or None
        return sale

    @model_validator(mode="after")
    def _consistent(self) -> SaleIn:
        if self.kind == "sale" and not self.lines:
            raise ValueError("a sale needs at least one line")
        if self.kind != "sale" and not self.original_sale_id:
            raise ValueError(f"a {self.kind} needs original_sale_id: the sale it undoes")
        if self.kind == "sale" and self.original_sale_id:
            raise ValueError("original_sale_id is only for returns and voids")
        if self.original_store and not self.original_sale_id:
            raise ValueError("original_store is only for returns and voids")
        if self.original_sale_id == self.sale_id and self.original_store in (None, self.store):
            raise ValueError("a return cannot undo itself")
        return self


class BatchIn(Schema):
    model_config = ConfigDict(extra="forbid")

    # JsonValue last: an item that is not even an object (a number, a string) is still
    # accepted here and rejected on its own by post_sales, instead of failing the whole batch.
    sales: list[Annotated[SaleIn | dict | JsonValue, Field(union_mode="left_to_right")]] = Field(
        ...,
        min_length=1,
        description="Sales in the order they happened; each gets its own result. A sale that "
        "does not match the SaleIn shape is rejected on its own, with the reason.",
    )
    queued_offline: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list,
        description="Store agents: the ids of the sales in this batch that were taken while HQ "
        "could not be reached (recovery counts their customers as affected; at most "
        "SALES_MAX_BATCH ids, like the sales). Not part of a sale's content: a resend is a "
        "duplicate whatever this says.",
    )


class RewardOut(Schema):
    code: str
    value_cents: int
    expires_at: datetime


class SaleResultOut(Schema):
    sale_id: str
    result: Literal["posted", "duplicate", "conflict", "rejected"]
    reason: str | None = None
    points: int | None = Field(None, description="Points this sale earned (or took back)")
    balance: int | None = Field(None, description="The member's balance after this posting")
    rewards: list[RewardOut] = Field(default_factory=list, description="Rewards issued just now")
    redeemed: list[str] = Field(default_factory=list, description="Codes redeemed by this sale")
    notes: list[str] = Field(default_factory=list)
    tier: str | None = Field(
        None, description="The member's loyalty tier (store agents estimate points with it)"
    )


class BatchOut(Schema):
    posted: int
    duplicate: int
    conflict: int
    rejected: int
    results: list[SaleResultOut]
