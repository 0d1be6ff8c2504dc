"""The outbox table as delivery needs it (migration 0014): a dedupe key queued twice is still
queued once, with one index on the key; on PostgreSQL each page keeps room for the marks of
delivery, so that after an update fills many pages every mark is still heap-only (HOT)."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from tideover.incidents import services as incidents
from tideover.notifications import outbox
from tideover.notifications.demo import seed_subscribers
from tideover.notifications.models import OutboxMessage

TABLE = OutboxMessage._meta.db_table


def _indexes_on_dedupe_key() -> list[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return [name for name, c in constraints.items() if c["columns"] == ["dedupe_key"]]


def test_a_dedupe_key_queued_twice_is_queued_once_with_one_index_on_it(db):
    for _ in range(2):
        outbox.queue_direct("email", "a@example.com", "Receipt", "Thanks", "receipt:1")
    assert OutboxMessage.objects.filter(dedupe_key="receipt:1").count() == 1
    assert len(_indexes_on_dedupe_key()) == 1, _indexes_on_dedupe_key()


@pytest.mark.postgres_only
def test_on_postgresql_the_outbox_keeps_half_of_each_page_free(db):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [TABLE])
        assert "fillfactor=50" in cursor.fetchone()[0]


def _updates() -> tuple[int, int]:
    """Rows of the outbox updated so far by every committed transaction, and the heap-only."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s", [TABLE]
        )
        return cursor.fetchone()


@pytest.fixture
def _no_other_snapshot(transactional_db):
    """PostgreSQL can reclaim a row's old version on its page (and put the next one there)
    only once no transaction in the database may still see it: autovacuum's ANALYZE of any
    table, or a worker process left by another test, would hold every page full. Autovacuum is
    kept off the test database's tables meanwhile, and the test waits until no other session
    of the database holds a snapshot."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [name for (name,) in cursor.fetchall()]
    try:
        with connection.cursor() as cursor:
            for name in tables:
                cursor.execute(f'ALTER TABLE "{name}" SET (autovacuum_enabled = false)')
        _wait_for_no_other_snapshot()
        yield
    finally:
        with connection.cursor() as cursor:
            for name in tables:
                cursor.execute(f'ALTER TABLE "{name}" RESET (autovacuum_enabled)')


def _wait_for_no_other_snapshot(seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT backend_type, application_name, state FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)"
            )
            others = cursor.fetchall()
            if not others:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"other sessions hold a snapshot of the test database: {others}")
            time.sleep(0.2)


@pytest.mark.postgres_only
def test_on_postgresql_the_marks_stay_heap_only_after_an_update_filled_many_pages(
    _no_other_snapshot, severities, components, smtp, http_sink
):
    """Each claim and mark commits on its own, as in a worker; a webhook batch is marked
    'sending' and 'sent' in one statement each. With pages filled to 80% about one mark in
    five found no room on its page and wrote every index of the table."""
    http_sink.secret_for = lambda path: "s"
    seed_subscribers(
        {"email": 750, "webhook": 750}, webhook_url=f"{http_sink.url}/hooks", webhook_secret="s"
    )
    incident = incidents.declare_incident(
        title="Card payments fail",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    OutboxMessage.objects.all().delete()  # the declaration's own messages
    incidents.post_public_update(incident, "Card payments work again.")
    queued = OutboxMessage.objects.count()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s)", [TABLE])
        assert cursor.fetchone()[0] >= 20 * 8192, "the update filled many pages"
    before = _updates()
    assert outbox.drain() == {"sent": queued}
    updated, heap_only = (after - was for after, was in zip(_updates(), before, strict=True))
    assert updated == 3 * queued  # the claim, then 'sending' and 'sent' each in one mark
    marks = 2 * queued
    assert heap_only >= 0.97 * marks, f"{heap_only} of {marks} marks heap-only"
