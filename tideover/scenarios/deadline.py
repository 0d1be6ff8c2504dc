"""A loyalty deadline inside a scenario: members whose points expire at the end of the day the
trouble starts, the reminder they get that morning, the expiry run at midnight, and what the
records say afterwards about the reminder's promise ("any purchase made by that day counts")."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db.models import Sum
from django.utils import timezone

from tideover.loyalty import expiry
from tideover.loyalty.adjustments import grant_points
from tideover.loyalty.config import program
from tideover.loyalty.models import EntryKind, Member, MemberNotice, NoticeKind, PointsLot
from tideover.scenarios.schema import LoyaltyDeadline


def deadline_of(start: datetime) -> date:
    """The day whose end the points expire at (in the ledger's time zone)."""
    return timezone.localtime(start).date()


def _months_back(day: date, months: int) -> datetime:
    index = day.year * 12 + day.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 15, 12, tzinfo=UTC)


def give_expiring_points(plan: LoyaltyDeadline, start: datetime, run_key: str) -> list[str]:
    """Members without points get ``plan.points`` earned one validity period before the
    deadline (so they expire at its end); returns their loyalty ids."""
    prog = program()
    deadline = deadline_of(start)
    earned_at = _months_back(deadline, prog.points_valid_months)
    points = min(plan.points, max(prog.reward_threshold - 1, 1))
    members = list(Member.objects.filter(balance=0).order_by("pk")[: plan.expiring_members])
    for member in members:
        grant_points(
            member,
            points,
            source_type="carried_over",
            source_id=f"{run_key}:{member.loyalty_id}",
            reason="Points carried over from the old loyalty system, with their earning date",
            earned_at=earned_at,
        )
    return [m.loyalty_id for m in members]


def remind(start: datetime) -> int:
    """The morning's reminder run (the periodic job, at the scenario's date)."""
    return expiry.send_reminders(deadline_of(start))


def expire_after(start: datetime) -> int:
    """The midnight expiry run after the deadline."""
    return expiry.expire_due(date.fromordinal(deadline_of(start).toordinal() + 1))


def deadline_section(loyalty_ids: list[str], start: datetime) -> dict:
    """The reminder's promise, checked against the ledger: every member who shopped by the
    deadline kept the points that were due to expire (reinstated when the sale posted late)."""
    from tideover.sales.models import Sale

    deadline = deadline_of(start)
    members = Member.objects.filter(loyalty_id__in=loyalty_ids)
    reminded = (
        MemberNotice.objects.filter(member__in=members, kind=NoticeKind.EXPIRY_REMINDER)
        .values("member")
        .distinct()
        .count()
    )
    in_time = set()
    for member_id, occurred in Sale.objects.filter(
        member_id__in=loyalty_ids, status="completed", kind="sale"
    ).values_list("member_id", "occurred_at"):
        if timezone.localtime(occurred).date() <= deadline:
            in_time.add(member_id)
    reinstated = set(
        members.filter(entries__kind=EntryKind.REINSTATE).values_list("loyalty_id", flat=True)
    )
    still_expired = set(
        PointsLot.objects.filter(member__in=members, expires_on=deadline, expired__gt=0)
        .values_list("member__loyalty_id", flat=True)
        .distinct()
    )
    return {
        "deadline": deadline.isoformat(),
        "members_with_points_due": len(loyalty_ids),
        "reminded": reminded,
        "shopped_by_deadline": len(in_time),
        "reinstated_after_late_posting": len(in_time & reinstated),
        "points_reinstated": members.filter(entries__kind=EntryKind.REINSTATE).aggregate(
            n=Sum("entries__points")
        )["n"]
        or 0,
        "promises_broken": len(in_time & still_expired - reinstated),
    }
