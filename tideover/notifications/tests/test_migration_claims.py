"""Migration 0013 on an outbox that workers are using: what it does to rows held and not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("notifications", "0012_sms_stopped_by_reply")]
AFTER = [("notifications", "0013_outbox_marks_touch_no_index")]


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_records_claims_for_held_rows_and_takes_the_rest_out_of_the_queue():
    apps = _migrate(BEFORE)
    message = apps.get_model("notifications", "OutboxMessage")
    now = timezone.now()
    lease = now + timedelta(minutes=1)

    def row(key, state, token=""):
        return message.objects.create(
            channel="email",
            recipient=f"{key}@example.com",
            dedupe_key=key,
            state=state,
            claim_token=token,
            lease_until=lease if token else None,
            next_attempt_at=now,
        ).pk

    queued = row("q", "queued")
    claimed, sending = row("c", "claimed", "a" * 32), row("s", "sending", "a" * 32)
    other = row("o", "claimed", "b" * 32)
    sent = row("d", "sent")
    try:
        apps = _migrate(AFTER)
        message = apps.get_model("notifications", "OutboxMessage")
        claims = dict(
            apps.get_model("notifications", "OutboxClaim").objects.values_list(
                "token", "message_ids"
            )
        )
        assert {t: sorted(ids) for t, ids in claims.items()} == {
            "a" * 32: sorted([claimed, sending]),
            "b" * 32: [other],
        }
        due = dict(message.objects.values_list("pk", "next_attempt_at"))
        assert due[queued] is not None
        assert {due[pk] for pk in (claimed, sending, other, sent)} == {None}
        with pytest.raises(IntegrityError), transaction.atomic():
            message.objects.filter(pk=sent).update(state="queued")  # queued with no time
    finally:
        _migrate(AFTER)  # where the rest of the suite expects the schema
