"""Delivery's per-message statements find their rows by primary key on PostgreSQL, even with the
statistics a busy outbox really has: taken while no row was claimed, so that the planner thinks
'claimed' and 'sending' rows are rare and would rather walk an index of those (every claimed
row, and every dead version of one, for each message marked)."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.utils import timezone

from tideover.notifications.delivery import SENT_AND_NEXT_SENDING
from tideover.notifications.models import MessageState, OutboxMessage
from tideover.notifications.outbox import claim_batch

PKEY = f"{OutboxMessage._meta.db_table}_pkey"


def _indexes_used(sql: str, params: list | dict) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    found, nodes = set(), [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if "Index Name" in node:
            found.add(node["Index Name"])
        if node.get("Node Type") == "Seq Scan":
            found.add("sequential scan")
        nodes.extend(node.get("Plans", []))
    return found


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_marking_a_message_uses_the_primary_key_when_statistics_saw_nothing_claimed():
    OutboxMessage.objects.bulk_create(
        OutboxMessage(channel="email", recipient=f"r{i}@example.com", dedupe_key=f"plan:{i}")
        for i in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {OutboxMessage._meta.db_table}")  # nothing claimed yet
    token, ids = claim_batch(200)
    first, second = ids[0], ids[1]
    now = timezone.now()
    params = {
        "done": first,
        "sent_at": now,
        "provider_id": "id",
        "next": second,
        "lease": now,
        "token": token,
    }
    assert _indexes_used(SENT_AND_NEXT_SENDING, params) == {PKEY}
    # The ORM's per-message writes (cancel, failure, release) and reads name the key too.
    for query in (
        OutboxMessage.objects.filter(pk=first, claim_token=token, state=MessageState.CLAIMED),
        OutboxMessage.objects.filter(pk=first, state=MessageState.SENDING, claim_token=token),
        OutboxMessage.objects.filter(pk__in=ids, claim_token=token, state=MessageState.CLAIMED),
    ):
        sql, query_params = query.values("pk").query.sql_with_params()
        assert _indexes_used(sql, list(query_params)) == {PKEY}, str(query.query)
