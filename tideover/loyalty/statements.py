"""Reading a member's points: balance, pending rewards and the statement."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone

from tideover.loyalty.models import JournalEntry, JournalLine, Member, PointsLot, Reward


def statement(
    member: Member, *, limit: int = 200, before_id: int | None = None
) -> list[JournalEntry]:
    """The member's entries, newest first, each with its lines, source, who and why."""
    query = member.entries.prefetch_related(
        Prefetch("lines", queryset=JournalLine.objects.order_by("pk"))
    ).order_by("-pk")
    if before_id:
        query = query.filter(pk__lt=before_id)
    return list(query[: max(1, min(limit, 1000))])


def pending_rewards(member: Member) -> list[Reward]:
    """Rewards the member can still use."""
    return list(
        member.rewards.filter(redeemed_at__isnull=True, expires_at__gte=timezone.now()).order_by(
            "expires_at"
        )
    )


def upcoming_expiry(member: Member) -> list[PointsLot]:
    """Lots with points left, soonest deadline first."""
    return list(member.lots.filter(remaining__gt=0).order_by("expires_on"))
