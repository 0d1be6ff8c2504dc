"""The outbox table as delivery needs it (migration 0014): a dedupe key queued twice is still
queued once, with one index on the key; on PostgreSQL each page keeps half its room for the
row versions the marks of delivery write. Their effect, the share of heap-only updates, is
measured by bench/outbox_page_room.py: counted in a test's drain it depends on every other
session of the database (a page's old versions are reclaimed only when none may still see
them), and it was not reliable in the full suite."""

from __future__ import annotations

import pytest
from django.db import connection

from tideover.notifications import outbox
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
