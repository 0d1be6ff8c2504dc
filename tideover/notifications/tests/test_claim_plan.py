"""A worker's claim walks the due messages in order and stops after its batch, however wrong
the planner's statistics are about how many are due (PostgreSQL; SQLite's planner takes the
index for the ORDER BY already)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tideover.notifications.models import MessageState, OutboxMessage
from tideover.notifications.outbox import claim_batch, due_in_order, walk_due_in_order

DUE = 3000


@pytest.fixture
def _queue_without_statistics(transactional_db):
    """Many due messages in a table the planner has no statistics for, as in a new
    installation before autovacuum's first ANALYZE (autovacuum kept off the table meanwhile,
    and let back on after)."""
    past = timezone.now() - timedelta(minutes=1)
    OutboxMessage.objects.bulk_create(
        OutboxMessage(
            channel="email",
            recipient=f"plan{i}@example.com",
            dedupe_key=f"plan-{i}",
            next_attempt_at=past,
        )
        for i in range(DUE)
    )
    with connection.cursor() as cursor:
        table = OutboxMessage._meta.db_table
        cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [table])
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


def _plan(walk: bool) -> str:
    with transaction.atomic():
        if walk:
            walk_due_in_order()
        plan = due_in_order(timezone.now())[:200].explain()
        transaction.set_rollback(True)
    return plan


@pytest.mark.postgres_only
@pytest.mark.usefixtures("_queue_without_statistics")
def test_the_claim_walks_the_due_index_in_order_when_statistics_say_little_is_due():
    # What the planner chose on its own: every due row read and sorted for a batch of 200.
    assert "Sort" in _plan(walk=False)

    plan = _plan(walk=True)

    assert "outbox_due" in plan
    assert "Sort" not in plan


@pytest.mark.postgres_only
@pytest.mark.usefixtures("_queue_without_statistics")
def test_a_claim_without_statistics_takes_the_first_due_batch_and_sorting_comes_back_after():
    first = list(
        OutboxMessage.objects.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:200]
    )

    token, ids = claim_batch(200)

    assert ids == first
    assert (
        OutboxMessage.objects.filter(claim_token=token, state=MessageState.CLAIMED).count() == 200
    )
    with connection.cursor() as cursor:  # SET LOCAL ended with the claim's transaction
        cursor.execute("SHOW enable_sort")
        assert cursor.fetchone()[0] == "on"
