"""Points expire by their earning date, oldest first; members hear before it happens.

``run_expiry`` is the periodic job (registered in LoyaltyConfig.ready, safe on several workers
at once: lots are locked and each expiry's source id carries the lot's sequence number). A sale
made before a deadline that posts after it still counts: see ``accrual``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from tideover.loyalty import ledger, notices
from tideover.loyalty.config import program
from tideover.loyalty.ledger import LotBook, Posting
from tideover.loyalty.models import Account, EntryKind, Member, NoticeKind, PointsLot

CHUNK = 500


def expire_lot(member: Member, lot: PointsLot) -> Posting:
    """Expire what is left in a lot whose deadline passed (caller holds both locked)."""
    amount = lot.remaining
    lot.expiry_seq += 1
    lot.expired += amount
    lot.remaining = 0
    member.balance -= amount
    return Posting(
        member=member,
        kind=EntryKind.EXPIRY,
        source_type="expiry",
        source_id=f"{lot.pk}.{lot.expiry_seq}",
        points=-amount,
        contra=Account.POINTS_EXPIRED,
        occurred_at=timezone.now(),
        reason=f"Points earned for use by {lot.expires_on:%-d %b %Y} expired",
    )


def expire_due(today: date | None = None) -> int:
    """Expire every lot whose last day is before ``today``; returns the points expired."""
    today = today or timezone.localdate()
    total = 0
    while True:
        member_pks = list(
            PointsLot.objects.filter(expires_on__lt=today, remaining__gt=0)
            .values_list("member_id", flat=True)
            .distinct()
            .order_by("member_id")[:CHUNK]
        )
        if not member_pks:
            return total
        total += _expire_members(member_pks, today)


@transaction.atomic
def _expire_members(member_pks: list[int], today: date) -> int:
    members = ledger.lock_members(pks=member_pks)
    book = LotBook()
    book.load(list(members))
    postings = []
    for pk, member in members.items():
        for lot in book.lots(pk):
            # Re-checked under the lock: another worker may have expired it already.
            if lot.expires_on < today and lot.remaining > 0:
                postings.append(expire_lot(member, lot))
    ledger.write(postings)
    ledger.save_balances(members.values())
    book.flush()
    return -sum(p.points for p in postings)


def reminder_text(member: Member, points: int, expires_on: date) -> str:
    prog = program()
    needed = max(prog.reward_threshold - max(member.balance, 0), 1)
    spend_cents = math.ceil(needed * 100 / max(prog.points_per_dollar, 1))
    return (
        f"{points} of your {member.balance} points expire after {expires_on:%-d %b %Y}. "
        f"Earn {needed} more points by then (about {notices.dollars(spend_cents)} of shopping) "
        f"and they become a {notices.dollars(prog.reward_value_cents)} reward, oldest points "
        "first, so nothing is lost. Any purchase made by that day counts, even if the store "
        "is offline."
    )


def send_reminders(today: date | None = None) -> int:
    """Tell each member, once per deadline, how many points expire, when, and what to do."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=program().reminder_days)
    due = (
        PointsLot.objects.filter(expires_on__gte=today, expires_on__lte=horizon, remaining__gt=0)
        .values("member_id", "expires_on")
        .annotate(points=Sum("remaining"))
        .order_by("member_id", "expires_on")
    )
    by_member = defaultdict(list)
    for row in due:
        by_member[row["member_id"]].append((row["expires_on"], row["points"]))
    sent = 0
    pks = list(by_member)
    for start in range(0, len(pks), CHUNK):
        with transaction.atomic():
            for member in Member.objects.filter(pk__in=pks[start : start + CHUNK]):
                for expires_on, points in by_member[member.pk]:
                    text = reminder_text(member, points, expires_on)
                    sent += notices.tell(
                        member,
                        NoticeKind.EXPIRY_REMINDER,
                        text,
                        f"expiry:{member.pk}:{expires_on.isoformat()}",
                        "loyalty.expiry_reminder",
                        points=points,
                        expires_on=expires_on,
                    )
    return sent


def run_expiry(today: date | None = None) -> dict:
    """The periodic job: reminders first, then expiry of lots past their last day."""
    today = today or timezone.localdate()
    return {"reminders": send_reminders(today), "expired_points": expire_due(today)}
