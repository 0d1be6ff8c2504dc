import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from tideover.loyalty.demo import seed_members
from tideover.loyalty.models import JournalEntry, JournalLine, Member
from tideover.loyalty.tests.factories import sale
from tideover.sales.services import post_sales


def test_journal_refuses_updates_and_deletes_through_the_model(member):
    post_sales([sale(member=member.loyalty_id)])
    entry = JournalEntry.objects.get()
    with pytest.raises(TypeError, match="append-only"):
        entry.save()
    with pytest.raises(TypeError, match="append-only"):
        JournalEntry.objects.filter(pk=entry.pk).update(points=1)
    with pytest.raises(TypeError, match="append-only"):
        JournalLine.objects.all().delete()
    with pytest.raises(TypeError, match="append-only"):
        entry.delete()


def test_database_refuses_updates_to_journal_lines_too(member):
    post_sales([sale(member=member.loyalty_id)])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE loyalty_journalline SET points = points + 1")


def test_every_entry_balances_and_balances_equal_their_lines(member):
    post_sales([sale(member=member.loyalty_id, cents=c) for c in (4000, 2500, 900)])
    for entry in JournalEntry.objects.prefetch_related("lines"):
        assert sum(line.points for line in entry.lines.all()) == 0
    from django.db.models import Sum

    lines = JournalLine.objects.filter(member=member, account="member_points")
    assert Member.objects.get(pk=member.pk).balance == lines.aggregate(s=Sum("points"))["s"]


def test_posting_costs_the_same_queries_for_10_or_200_sales(chain):
    seed_members(300, opening_share=0.0)

    def queries_for(count: int, tag: str) -> int:
        batch = [
            sale(
                member=f"M{n % 300 + 1:07d}" if n % 5 < 3 else None, cents=500, sale_id=f"{tag}-{n}"
            )
            for n in range(count)
        ]
        with CaptureQueriesContext(connection) as captured:
            results = post_sales(batch)
        assert {r.result for r in results} == {"posted"}
        return len(captured)

    assert queries_for(10, "a") == queries_for(200, "b")


def test_seeded_members_have_opening_balances_on_their_statements(chain):
    counts = seed_members(500, list(chain["stores"].values()))
    assert counts == {"members": 500, "created": 500}
    assert seed_members(500)["created"] == 0
    opened = Member.objects.filter(balance__gt=0)
    assert opened.count() > 250
    member = opened.first()
    assert member.entries.get().points == member.balance
    assert member.lots.get().remaining == member.balance
