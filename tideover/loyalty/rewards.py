"""Rewards: points become a single-use code the moment they cross the threshold, and a code
is redeemed once at a till even when two tills try at the same instant."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tideover.loyalty import codes, notices
from tideover.loyalty.config import Program
from tideover.loyalty.ledger import LotBook, Posting
from tideover.loyalty.models import (
    Account,
    AuditRecord,
    EntryKind,
    Member,
    NoticeKind,
    Reward,
)
from tideover.sales.hooks import CodeRefused

MAX_REWARDS_PER_POSTING = 50  # a guard against a mistyped million-point adjustment
# A reward is issued at HQ's clock and spent at the till's: the very next sale, on a till whose
# clock is behind (tills drift while a store is offline), may look older than the code. An hour
# keeps a shopper at such a till from being turned away with a code just sent, and still stops
# a new code being spent on an old purchase.
ISSUED_CLOCK_GRACE = timedelta(hours=1)


def issue_due(
    member: Member, book: LotBook, program: Program, *, at=None, actor: str = "system"
) -> tuple[list[Posting], list[Reward]]:
    """Turn every full threshold of the member's balance into a reward, now.

    The caller holds the member locked, writes the returned postings in its transaction and
    then calls :func:`save_rewards` (rewards of a whole batch go in one insert).
    """
    postings, issued = [], []
    now = timezone.now()
    at = at or now
    while member.balance >= program.reward_threshold and len(issued) < MAX_REWARDS_PER_POSTING:
        reward = Reward(
            member=member,
            code=codes.make_code(),
            value_cents=program.reward_value_cents,
            points=program.reward_threshold,
            issued_at=now,
            expires_at=now + timedelta(days=program.reward_valid_days),
        )
        member.balance -= program.reward_threshold
        book.debit(member, program.reward_threshold)
        postings.append(
            Posting(
                member=member,
                kind=EntryKind.REWARD,
                source_type="reward",
                source_id=reward.code,
                points=-program.reward_threshold,
                contra=Account.POINTS_REDEEMED,
                occurred_at=at,
                actor=actor,
                reason=f"{program.reward_threshold} points became a "
                f"{notices.dollars(program.reward_value_cents)} reward",
            )
        )
        issued.append(reward)
    return postings, issued


def save_rewards(issued: list[Reward]) -> None:
    """Insert the rewards and tell each member (notice + event), in the caller's transaction.

    Codes carry 55 random bits, so a clash is astronomically rare; if one happens the unique
    index fails the transaction and the posting is retried whole, never half-written.
    """
    if not issued:
        return
    Reward.objects.bulk_create(issued)
    messages = []
    for reward in issued:
        text = (
            f"Your {notices.dollars(reward.value_cents)} reward is ready: code {reward.code}. "
            f"Use it on your next purchase, in store or online, by "
            f"{timezone.localtime(reward.expires_at):%-d %b %Y}. "
            f"Points left: {reward.member.balance}."
        )
        messages.append((reward.member, text, f"reward:{reward.code}", {"reward": reward}))
    notices.tell_many(NoticeKind.REWARD_ISSUED, "loyalty.reward_issued", messages)


def redeem_for_sale(code: str, *, sale) -> dict | None:
    """Sales hook: redeem a reward or goodwill code carried by a sale, once, or say why not
    (typo, used, expired, not valid yet, issued after the sale, below the minimum spend,
    nothing left to take off).

    Codes apply in the order the till sent them, each taking off at most what the codes
    before it left of the sale's total (a percentage is of what is left), so a sale never
    records more discount than it cost. Among several codes, one that would take nothing off
    (the codes before it took the whole total, or it rounds to 0 on what is left) is refused,
    naming it, and stays unused (the whole sale is refused, so the till takes it off); a code
    alone on a sale too small for it to take anything off is used for 0, as before."""
    normalized = codes.normalize_code(code)
    if normalized is None:
        if codes.looks_like_code(code):
            raise CodeRefused(
                f"Code {code.strip().upper()} has a typo (its check character does not match): "
                "read it again from the customer's message, no 0, O, 1 or I"
            )
        return None
    reward = Reward.objects.filter(code=normalized).first()
    if reward is None:
        return None
    total = sale.total_cents
    reason = refusal(reward, at=sale.occurred_at, total_cents=total)
    if reason:
        raise CodeRefused(reason)
    left = max(0, total - sale.discount_cents)
    discount = discount_on(reward, left)
    if discount <= 0 and len(sale.codes or ()) > 1:
        already = (
            f"the codes before it already take {notices.dollars(total - left)} off this "
            f"{notices.dollars(total)} sale"
            if left == 0
            else f"it rounds to nothing on the {notices.dollars(left)} left of this sale"
        )
        raise CodeRefused(
            f"Code {reward.code} would take nothing more off: {already}; take it off this sale "
            "(it stays usable) and post it again"
        )
    # The WHERE is the lock: of two tills, exactly one UPDATE finds redeemed_at still empty.
    updated = Reward.objects.filter(
        pk=reward.pk, redeemed_at__isnull=True, expires_at__gte=sale.occurred_at
    ).update(
        redeemed_at=timezone.now(),
        redeemed_sale_id=sale.sale_id,
        redeemed_store=sale.store.code,
        discount_cents=discount,
    )
    if updated:
        return {"code": normalized, "discount_cents": discount}
    reward.refresh_from_db()
    raise CodeRefused(
        refusal(reward, at=sale.occurred_at, total_cents=total)
        or f"Code {reward.code} could not be used; post the sale again"
    )


def discount_on(reward: Reward, left_cents: int) -> int:
    """What ``reward`` takes off a sale of which ``left_cents`` are still to pay."""
    if reward.percent_off:
        return left_cents * reward.percent_off // 100
    return min(reward.value_cents, left_cents)


def for_basket(reward: Reward, basket_cents: int | None) -> dict:
    """What ``reward`` does for a basket of ``basket_cents`` (nothing to say without one)."""
    if basket_cents is None:
        return {"basket_cents": None, "min_spend_met": None, "discount_cents": None}
    met = basket_cents >= reward.min_spend_cents
    return {
        "basket_cents": basket_cents,
        "min_spend_met": met,
        "discount_cents": discount_on(reward, basket_cents) if met else 0,
    }


def refusal(reward: Reward, *, at, total_cents: int | None = None) -> str:
    """Why ``reward`` cannot be used on a sale at ``at`` for ``total_cents`` ('' if it can)."""
    again = "take it off this sale and post it again"
    if reward.redeemed_at is not None:
        return (
            f"Code {reward.code} was already used (sale {reward.redeemed_sale_id} at "
            f"{reward.redeemed_store}); {again}"
        )
    if at > reward.expires_at:
        return (
            f"Code {reward.code} expired on "
            f"{timezone.localtime(reward.expires_at):%-d %b %Y}; {again}"
        )
    if at < reward.issued_at - ISSUED_CLOCK_GRACE:
        # A code is known only once issued: a sale dated before that is back-dated (or the
        # till's clock is far off), and would spend a new code on an old purchase.
        return (
            f"Code {reward.code} was issued on "
            f"{timezone.localtime(reward.issued_at):%-d %b %Y %H:%M}, after this sale "
            f"({timezone.localtime(at):%-d %b %Y %H:%M}); a code works only on purchases made "
            f"after it was issued; {again}"
        )
    if reward.valid_from is not None and at < reward.valid_from:
        return (
            f"Code {reward.code} is valid from "
            f"{timezone.localtime(reward.valid_from):%-d %b %Y %H:%M}; {again}"
        )
    if total_cents is not None and total_cents < reward.min_spend_cents:
        return (
            f"Code {reward.code} needs a purchase of {notices.dollars(reward.min_spend_cents)} "
            f"or more; this sale is {notices.dollars(total_cents)}"
        )
    return ""


def reinstate_for_voids(posted) -> dict:
    """Sales listener: a completed void of a sale that used a reward makes the reward usable
    again, recorded in the audit trail with the sale it was used on."""
    voids = {
        (p.sale.original_store, p.sale.original_sale_id): p.sale
        for p in posted
        if p.sale.kind == "void" and p.sale.status == "completed" and p.sale.original_pk
    }
    if not voids:
        return {}
    extra: dict[str, dict] = {}
    used = Reward.objects.select_related("member").filter(
        redeemed_sale_id__in=[sale_id for _, sale_id in voids], redeemed_at__isnull=False
    )
    for reward in used:
        # Sale ids are unique per store: the reward was used on the voided sale only if it
        # was used at that sale's store.
        void = voids.get((reward.redeemed_store, reward.redeemed_sale_id))
        if void is None:
            continue
        # Conditional like the redemption itself: a reward reused meanwhile stays as it is.
        taken_back = Reward.objects.filter(
            pk=reward.pk, redeemed_sale_id=reward.redeemed_sale_id, redeemed_at__isnull=False
        ).update(redeemed_at=None, redeemed_sale_id="", redeemed_store="", discount_cents=None)
        if not taken_back:
            continue
        # The reward row forgets the sale; the audit record keeps it (and the sale its codes).
        AuditRecord.objects.create(
            actor=(void.posted_by or "system")[:150],
            action="reward_reinstated",
            member=reward.member,
            detail=f"{reward.code} used on sale {reward.redeemed_sale_id} at "
            f"{reward.redeemed_store} ({reward.redeemed_at:%Y-%m-%dT%H:%M:%SZ}); usable again "
            f"after void {void.sale_id}",
        )
        extra.setdefault(void.key, {"notes": []})["notes"].append(
            f"Reward {reward.code} is usable again"
        )
    return extra


def check_code(code: str) -> Reward:
    """The reward behind a code typed at a till (NotFound / Conflict when it cannot be used)."""
    from tideover.core.errors import Conflict, DomainError, NotFound

    normalized = codes.normalize_code(code)
    if normalized is None:
        raise DomainError(
            f"{code!r} is not a valid code: check each character (no 0, O, 1 or I)", field="code"
        )
    reward = Reward.objects.select_related("member").filter(code=normalized).first()
    if reward is None:
        raise NotFound(f"No reward with code {normalized}")
    reason = refusal(reward, at=timezone.now())
    if reason:
        raise Conflict(reason)
    return reward
