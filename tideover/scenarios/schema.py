"""The scenario file format: a chain, one day, what fails, how people behave, when it returns.

A scenario file is YAML; every field is checked here before anything runs, and unknown fields are
refused by name (a typo must not silently fall back to a default). Durations are written as
offsets from the scenario's start like ``90s``, ``15m``, ``2h`` or ``1h30m``. docs/scenarios.md
describes each field with the shipped files as examples.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

FORMAT_VERSION = 1
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_duration(value: object) -> timedelta:
    """``"1h30m"`` -> 90 minutes; a bare number is minutes."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration such as 15m, 2h or 1h30m")
    if isinstance(value, int):
        return timedelta(minutes=value)
    text = str(value).strip().replace(" ", "")
    match = _DURATION.match(text)
    if not text or not match or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration: write it like 90s, 15m, 2h or 1h30m")
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def written(duration: timedelta) -> str:
    """A duration as the file writes it: 90 minutes -> ``"1h30m"``."""
    seconds = int(duration.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{seconds}s" if seconds else "") or "0m"


def _share(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError("a share between 0 and 1 (0.25 is a quarter)")
    return value


Share = Annotated[float, AfterValidator(_share)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FailureKind(StrEnum):
    REGISTERS_LOSE_HQ = "registers_lose_hq"
    CARD_PROCESSOR_DOWN = "card_processor_down"
    WEB_CHECKOUT_ERRORS = "web_checkout_errors"
    LOYALTY_POSTING_DELAYED = "loyalty_posting_delayed"


class ComponentStatusName(StrEnum):
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"


class StoreSelection(Strict):
    """Which stores a failure hits: all of them, a share of the chain, regions, or codes."""

    all: bool = False
    share: Share | None = None
    regions: list[str] = Field(default_factory=list)
    codes: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_way(self):
        chosen = [self.all, self.share is not None, bool(self.regions), bool(self.codes)]
        if sum(chosen) != 1:
            raise ValueError("choose stores one way: all: true, share, regions or codes")
        return self


class Chain(Strict):
    """The chain to build, or ``use_current: true`` to run against what the database holds."""

    use_current: bool = False
    stores: int = Field(200, ge=1, le=2000)
    members: int = Field(50_000, ge=0, le=1_000_000)
    time_zone: str = "America/Chicago"

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as America/Chicago")
        return value


class Start(Strict):
    """When the day's trouble begins: a weekday and time, or the last day of a month and a time
    (the most recent one at least a day ago, so the whole story is in the past), or an exact
    ``at``."""

    weekday: Literal[WEEKDAYS] | None = None  # type: ignore[valid-type]
    month_end: bool = False
    time: str | None = None
    at: datetime | None = None

    @field_validator("time")
    @classmethod
    def _clock(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError(f"{value!r} is not a time of day: write it like 14:00")
        return value

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time zone, e.g. 2026-11-21T14:00:00-06:00")
        return value

    @model_validator(mode="after")
    def _one_way(self):
        by_day = (self.weekday is not None) + self.month_end
        if self.at is not None and (by_day or self.time is not None):
            raise ValueError("give at alone, or a day (weekday or month_end) and a time")
        if self.at is None and (by_day != 1 or self.time is None):
            raise ValueError(
                "give a weekday and time (saturday, 14:00), month_end: true and a time, or at"
            )
        return self


class Traffic(Strict):
    """Shoppers at the tills: sales per store and hour, the mix, and the busy hours."""

    sales_per_store_hour: int = Field(24, ge=0, le=2000)
    web_orders_per_hour: int = Field(0, ge=0, le=100_000)
    member_share: Share = 0.6
    card_share: Share = 0.6
    return_share: Share = 0.01
    hourly_factor: dict[int, float] = Field(default_factory=dict)

    @field_validator("hourly_factor")
    @classmethod
    def _hours(cls, value: dict[int, float]) -> dict[int, float]:
        for hour, factor in value.items():
            if not 0 <= hour <= 23:
                raise ValueError(f"hour {hour} is not 0-23")
            if not 0 <= factor <= 10:
                raise ValueError(f"factor {factor} for hour {hour} is not 0-10")
        return value


class Failure(Strict):
    """One thing that breaks: what, where, from when until when (offsets from the start)."""

    kind: FailureKind
    component: str
    status: ComponentStatusName = ComponentStatusName.MAJOR_OUTAGE
    stores: StoreSelection = Field(default_factory=lambda: StoreSelection(all=True))
    at: Duration = timedelta(0)
    until: Duration
    decline_share: Share = 0.04
    error_share: Share = 0.5

    @model_validator(mode="after")
    def _order(self):
        if self.until <= self.at:
            raise ValueError("until must come after at")
        return self


class Social(Strict):
    """Posts about the brand: the usual chatter, and complaints while something is broken."""

    brand: str = "tideover"
    normal_per_minute: float = Field(0.2, ge=0, le=1000)
    complaints_per_minute: float = Field(4.0, ge=0, le=1000)
    file: str | None = None


class ScriptedUpdate(Strict):
    at: Duration
    state: Literal["investigating", "identified", "monitoring"] | None = None
    text: str = Field(min_length=10, max_length=1000)


class Staff(Strict):
    """How the people behave: how fast the commander declares, how often comms update."""

    commander: str = "casey.commander"
    comms_lead: str = "morgan.comms"
    declare_after_alert: Duration = timedelta(minutes=3)
    declare_at_latest: Duration = timedelta(minutes=15)
    severity: int = Field(1, ge=1, le=4)
    title: str = Field(min_length=5, max_length=120)
    first_update: str = Field(min_length=10, max_length=1000)
    update_every: Duration = timedelta(minutes=15)
    updates: list[ScriptedUpdate] = Field(default_factory=list)
    resolution: str = Field(min_length=10, max_length=1000)
    signups_per_store: int = Field(2, ge=0, le=200)
    reports_per_store: int = Field(1, ge=0, le=50)


class LoyaltyDeadline(Strict):
    """Members whose points expire at the end of the start's day (use ``start.month_end``:
    points last until a month's end). Each is given ``points`` earned a validity period ago,
    hears the expiry reminder, and shops before the deadline."""

    expiring_members: int = Field(100, ge=1, le=100_000)
    points: int = Field(480, ge=1, le=1_000_000)


class CardPolicy(Strict):
    """The offline card limits every store's agent applies (set per region before the day)."""

    per_sale_limit_cents: int = Field(ge=0, le=10_000_000)
    total_limit_cents: int = Field(ge=0, le=1_000_000_000)
    max_count: int = Field(ge=0, le=1_000_000)
    max_age_minutes: int = Field(ge=0, le=100_000)


class Recovery(Strict):
    """The goodwill offer after resolution, and how shoppers answer it over the next days."""

    amount_off_cents: int = Field(500, ge=0, le=100_000)
    min_spend_cents: int = Field(2500, ge=0, le=1_000_000)
    member_bonus_points: int = Field(200, ge=0, le=100_000)
    valid_days: int = Field(30, ge=1, le=365)
    budget_cents: int = Field(10_000_000, ge=0)
    redeem_share: Share = 0.25
    follow_days: int = Field(7, ge=0, le=60)


class Scenario(Strict):
    """A whole outage day."""

    scenario: Literal[1] = Field(
        description="format version; this Tideover reads version 1",
    )
    name: str = Field(min_length=3, max_length=120)
    description: str = ""
    seed: int = 21
    chain: Chain = Field(default_factory=Chain)
    start: Start
    traffic: Traffic = Field(default_factory=Traffic)
    failures: list[Failure] = Field(min_length=1)
    social: Social = Field(default_factory=Social)
    staff: Staff
    recovery: Recovery | None = None
    loyalty: LoyaltyDeadline | None = None
    card_policy: CardPolicy | None = None

    @property
    def returns_after(self) -> timedelta:
        """When the last failure ends: service is back."""
        return max(f.until for f in self.failures)

    @model_validator(mode="after")
    def _deadline_at_month_end(self):
        if self.loyalty is not None and not self.start.month_end:
            raise ValueError("loyalty deadlines fall at a month's end: set start.month_end: true")
        return self

    @model_validator(mode="after")
    def _declared_before_service_returns(self):
        # declare_at_latest counts from the first failure's start; a day whose declaration
        # would come after service is back is never declared (nothing to resolve, no updates).
        first = min(f.at for f in self.failures)
        if first + self.staff.declare_at_latest > self.returns_after:
            raise ValueError(
                f"staff.declare_at_latest: {written(self.staff.declare_at_latest)} after the "
                f"first failure starts (at {written(first)}) comes after service returns at "
                f"{written(self.returns_after)}; the incident must be declared by then"
            )
        return self

    @model_validator(mode="after")
    def _updates_inside(self):
        for update in self.staff.updates:
            if update.at >= self.returns_after:
                raise ValueError(
                    f"the scripted update at {update.at} comes after service returns "
                    f"({self.returns_after}); the resolution text covers that"
                )
        return self
