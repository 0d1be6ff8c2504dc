"""Goodwill offers as codes: the same ``Reward`` codes the till already redeems (one mechanism),
minted in bulk for a campaign, with a percentage or an amount off, a minimum spend and a
validity window. Recovery calls these; it never writes the loyalty tables itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tideover.loyalty import codes
from tideover.loyalty.models import Reward, RewardKind
from tideover.sales.bulk import insert_rows

FIELDS = [
    "member",
    "kind",
    "code",
    "value_cents",
    "percent_off",
    "min_spend_cents",
    "points",
    "source",
    "issued_at",
    "valid_from",
    "expires_at",
    "redeemed_sale_id",
    "redeemed_store",
]


@dataclass(slots=True)
class OfferTerms:
    value_cents: int  # money off, or 0 with percent_off
    percent_off: int
    min_spend_cents: int
    valid_from: datetime
    expires_at: datetime


def mint_goodwill_codes(
    member_pks: list[int | None], terms: list[OfferTerms], *, source: str
) -> list[tuple[int, str]]:
    """One fresh goodwill code per entry, inserted in bulk; returns (reward id, code) in order.

    Codes carry 55 random bits; a clash with an existing code fails the unique index and this
    batch is minted again with new codes (inside a savepoint, nothing half-written)."""
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    kind, source = RewardKind.GOODWILL.value, source[:40]
    # The columns that are the same for everyone on the same terms, adapted once.
    common = {}
    for t in terms:
        if id(t) not in common:
            common[id(t)] = (t.value_cents, t.percent_off, t.min_spend_cents, 0, source, now,
                             adapt(t.valid_from), adapt(t.expires_at), "", "")  # fmt: skip
    for _attempt in range(3):
        fresh = codes.make_codes(len(member_pks))
        rows = [
            (member, kind, code, *common[id(t)])
            for member, t, code in zip(member_pks, terms, fresh, strict=True)
        ]
        try:
            with transaction.atomic():
                ids = insert_rows(Reward, FIELDS, rows, returning=True, adapted=True)
        except IntegrityError:
            continue
        return list(zip(ids, fresh, strict=True))
    raise IntegrityError("could not mint unique goodwill codes")


def redemptions(source: str) -> list[dict]:
    """The goodwill codes of ``source`` used at a till: id, code, when, sale, store, discount."""
    return list(
        Reward.objects.filter(
            kind=RewardKind.GOODWILL, source=source, redeemed_at__isnull=False
        ).values(
            "id", "code", "redeemed_at", "redeemed_sale_id", "redeemed_store", "discount_cents"
        )
    )


def code_state(reward_id: int) -> Reward | None:
    """One goodwill or reward code as it stands (for customer service)."""
    return Reward.objects.filter(pk=reward_id).first()
