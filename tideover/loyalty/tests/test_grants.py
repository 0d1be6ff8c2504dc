"""Points granted by other apps (goodwill bonuses) in batches: once per source, double entry,
balances, lots and rewards as a member-at-a-time grant keeps them."""

import pytest
from django.db.models import Sum

from tideover.core.errors import DomainError
from tideover.loyalty.adjustments import Grant, grant_points, grant_points_many
from tideover.loyalty.models import AuditRecord, JournalEntry, JournalLine, PointsLot, Reward


def _ledger_holds(members):
    for entry in JournalEntry.objects.all():
        assert entry.lines.aggregate(s=Sum("points"))["s"] == 0
    for member in members:
        member.refresh_from_db()
        lines = JournalLine.objects.filter(member=member, account="member_points")
        assert member.balance == (lines.aggregate(s=Sum("points"))["s"] or 0)
        lots = PointsLot.objects.filter(member=member).aggregate(s=Sum("remaining"))["s"] or 0
        assert lots == max(member.balance, 0)


def test_batch_grant_posts_each_source_once_in_double_entry(make_member):
    ann, bob, cy = make_member("G-1"), make_member("G-2", tier="cardholder"), make_member("G-3")
    granted = grant_points_many(
        [
            Grant(ann.pk, 300, "7:1"),
            Grant(ann.pk, 300, "7:2"),  # a second source for the same member adds up
            Grant(bob.pk, 200, "7:3"),
            Grant(bob.pk, 999, "7:3"),  # the same source twice in a batch: the first counts
        ],
        source_type="goodwill",
        reason="Goodwill bonus for incident 7",
    )
    assert granted == ["7:1", "7:2", "7:3"]
    _ledger_holds([ann, bob, cy])
    assert (ann.balance, bob.balance, cy.balance) == (100, 200, 0)  # 600 - a 500-point reward
    assert Reward.objects.filter(member=ann, kind="reward").count() == 1
    assert AuditRecord.objects.filter(action="points_granted").count() == 3

    again = grant_points_many(
        [Grant(ann.pk, 300, "7:1"), Grant(cy.pk, 50, "7:4")],
        source_type="goodwill",
        reason="Goodwill bonus for incident 7",
    )
    assert again == ["7:4"]  # 7:1 was granted before: nothing changes for Ann
    _ledger_holds([ann, bob, cy])
    assert (ann.balance, cy.balance) == (100, 50)
    sources = JournalEntry.objects.values_list("source_type", "source_id")
    assert sources.count() == len(set(sources))


def test_single_grant_and_batch_grant_share_one_source_space(member):
    assert grant_points(member, 40, source_type="goodwill", source_id="9:1", reason="x")
    assert (
        grant_points_many([Grant(member.pk, 40, "9:1")], source_type="goodwill", reason="x") == []
    )
    assert grant_points(member, 40, source_type="goodwill", source_id="9:1", reason="x") is None
    member.refresh_from_db()
    assert member.balance == 40


def test_batch_grant_refuses_nonpositive_points_and_ledger_sources(member):
    with pytest.raises(DomainError, match="positive"):
        grant_points_many([Grant(member.pk, 0, "1")], source_type="goodwill", reason="x")
    with pytest.raises(DomainError, match="reserved"):
        grant_points_many([Grant(member.pk, 5, "1")], source_type="sale", reason="x")
    assert not JournalEntry.objects.exists()
