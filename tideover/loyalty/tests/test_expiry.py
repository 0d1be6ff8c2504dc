from datetime import date, timedelta

from tideover.core import events
from tideover.loyalty.expiry import run_expiry
from tideover.loyalty.models import JournalEntry, Member, MemberNotice
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales

# Points from a purchase on 21 Nov 2026 last until 30 Nov 2027 (end of month, 12 months on).
DEADLINE = date(2027, 11, 30)


def balance(member) -> int:
    return Member.objects.get(pk=member.pk).balance


def test_reminder_says_how_many_points_by_when_and_what_to_do(member):
    seen = []

    def listen(**kw):
        seen.append(kw)

    events.subscribe("loyalty.expiry_reminder", listen)
    try:
        post_sales([sale(member=member.loyalty_id, cents=3000)])
        run_expiry(today=DEADLINE - timedelta(days=40))
        assert not MemberNotice.objects.exists()
        run_expiry(today=DEADLINE - timedelta(days=20))
        run_expiry(today=DEADLINE - timedelta(days=19))
    finally:
        events._handlers["loyalty.expiry_reminder"].remove(listen)
    notice = MemberNotice.objects.get()
    assert "300 of your 300 points expire after 30 Nov 2027" in notice.text
    assert "Earn 200 more points" in notice.text and "$20.00" in notice.text
    assert seen[-1]["points"] == 300 and seen[-1]["expires_on"] == DEADLINE


def test_points_expire_after_their_last_day_oldest_first(member):
    post_sales([sale(member=member.loyalty_id, cents=3000)])
    run_expiry(today=DEADLINE)
    assert balance(member) == 300
    result = run_expiry(today=DEADLINE + timedelta(days=1))
    assert result["expired_points"] == 300
    assert balance(member) == 0
    assert JournalEntry.objects.filter(kind="expiry").count() == 1
    assert run_expiry(today=DEADLINE + timedelta(days=2))["expired_points"] == 0


def test_a_sale_made_before_the_deadline_counts_even_when_it_posts_after(member):
    post_sales([sale(member=member.loyalty_id, cents=4500)])  # 450 points
    run_expiry(today=DEADLINE + timedelta(days=1))
    assert balance(member) == 0
    from datetime import UTC, datetime

    last_day = datetime(2027, 11, 30, 20, 0, tzinfo=UTC)
    [late] = post_sales([sale(member=member.loyalty_id, cents=600, at=last_day)])
    # 450 expired points come back for this sale: 450 + 60 crosses 500, so a reward is issued
    assert len(late.rewards) == 1
    assert late.balance == 10
    assert balance(member) == 10


def test_a_sale_after_the_deadline_does_not_bring_points_back(member):
    post_sales([sale(member=member.loyalty_id, cents=4500)])
    run_expiry(today=DEADLINE + timedelta(days=1))
    from datetime import UTC, datetime

    [late] = post_sales(
        [sale(member=member.loyalty_id, cents=600, at=datetime(2027, 12, 2, tzinfo=UTC))]
    )
    assert late.rewards == [] and late.balance == 60


def test_points_granted_with_their_earning_date_expire_by_it(member, settings):
    """Balances carried over from another system keep their earning dates, so they expire on
    time rather than a year after the carry-over."""
    from datetime import UTC, date, datetime

    from tideover.loyalty.adjustments import grant_points
    from tideover.loyalty.models import PointsLot

    settings.LOYALTY_POINTS_VALID_MONTHS = 12
    grant_points(
        member,
        40,
        source_type="carried_over",
        source_id="old-system:1",
        reason="carried over",
        earned_at=datetime(2025, 10, 15, 12, tzinfo=UTC),
    )
    lot = PointsLot.objects.get(member=member)
    assert lot.expires_on == date(2026, 10, 31)
    assert lot.remaining == 40


def test_a_late_sale_into_a_negative_balance_brings_no_expired_points_back_for_good(member):
    """The expired points would pay off the debt and never expire again: they stay expired,
    and the balance is what it would be had the sale posted on time."""
    from datetime import UTC, datetime

    post_sales([sale(member=member.loyalty_id, cents=4500)])  # 450 points
    run_expiry(today=DEADLINE + timedelta(days=1))
    after = datetime(2027, 12, 2, 15, tzinfo=UTC)
    big = sale(member=member.loyalty_id, cents=6000, at=after)  # 600: a reward, 100 left
    post_sales([big])
    undo = sale(kind="return", original=big["sale_id"], cents=6000, at=after + timedelta(days=1))
    post_sales([undo])  # -600: the reward was spent, so the balance goes below zero
    assert balance(member) == -500
    last_day = datetime(2027, 11, 30, 20, 0, tzinfo=UTC)
    [late] = post_sales([sale(member=member.loyalty_id, cents=100, at=last_day)])
    assert late.balance == -490 and balance(member) == -490
    assert not JournalEntry.objects.filter(member=member, kind="reinstate").exists()
