"""Several connections at once, on PostgreSQL: each thread has its own database connection."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from tideover.loyalty.members import create_member
from tideover.loyalty.models import JournalEntry, Member, Reward
from tideover.loyalty.tests.factories import sale
from tideover.sales.models import Sale
from tideover.sales.services import post_sales

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


def at_once(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; return their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_the_same_sale_from_several_connections_posts_once(chain):
    member = create_member(name="Concurrent", loyalty_id="M-CONC")
    batch = [sale(member=member.loyalty_id, cents=1500) for _ in range(30)]
    results = at_once(6, lambda i: [r.result for r in post_sales(batch)])
    per_sale = list(zip(*results, strict=True))
    for outcomes in per_sale:
        assert sorted(outcomes).count("posted") == 1
        assert set(outcomes) <= {"posted", "duplicate"}
    assert Sale.objects.count() == 30
    assert JournalEntry.objects.filter(source_type="sale").count() == 30
    # 30 x $15 at 10 points per dollar = 4,500 points: nine $5 rewards, nothing left over
    assert Member.objects.get(pk=member.pk).balance == 0
    assert Reward.objects.filter(member=member).count() == 9


def test_one_reward_code_redeemed_at_two_tills_at_once_succeeds_once(chain):
    member = create_member(name="Two tills", loyalty_id="M-TILL")
    [first] = post_sales([sale(member=member.loyalty_id, cents=50_000)])
    code = first.rewards[0]["code"]
    now = datetime.now(UTC)  # after the code was issued: a sale dated before may not use it
    tills = [sale(store="S001", cents=2500, codes=[code], at=now) for _ in range(2)]
    results = at_once(2, lambda i: post_sales([tills[i]])[0])
    assert sorted(r.result for r in results) == ["posted", "rejected"]
    rejected = next(r for r in results if r.result == "rejected")
    assert "already used" in rejected.reason
    reward = Reward.objects.get(code=code)
    assert reward.redeemed_sale_id in {t["sale_id"] for t in tills}
    assert Sale.objects.filter(sale_id__in=[t["sale_id"] for t in tills]).count() == 1


def test_batches_sharing_members_in_different_orders_do_not_deadlock(chain):
    members = [create_member(name=f"D{i}", loyalty_id=f"M-DL{i}") for i in range(5)]
    forward = [sale(member=m.loyalty_id, cents=700) for m in members]
    backward = [sale(member=m.loyalty_id, cents=700) for m in reversed(members)]
    at_once(2, lambda i: post_sales(forward if i == 0 else backward))
    assert all(m.balance == 140 for m in Member.objects.filter(loyalty_id__startswith="M-DL"))
