"""Nothing grows forever: old finished messages and attempts go, their totals stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tideover.notifications.models import (
    BriefingFallback,
    DeliveryAttempt,
    DeliveryTally,
    OutboxMessage,
    StaffTeam,
)
from tideover.notifications.pruning import (
    counts_by_channel,
    delivery_counts,
    pointing_at_messages,
    prune_messages,
)

pytestmark = pytest.mark.django_db


def _message(n, state, age_days, channel="email", incident_id=7):
    message = OutboxMessage.objects.create(
        channel=channel,
        recipient=f"shopper{n}@example.com",
        dedupe_key=f"test:{n}",
        state=state,
        incident_id=incident_id,
        created_at=timezone.now() - timedelta(days=age_days),
    )
    if state == "failed":
        DeliveryAttempt.objects.create(message=message, error="mailbox full", permanent=True)
    return message


def test_old_finished_messages_are_pruned_and_their_totals_kept(settings):
    settings.PRUNE_MESSAGES_DAYS = 30
    for n in range(5):
        _message(n, "sent", age_days=40)
    _message(5, "failed", age_days=40)
    _message(6, "sent", age_days=40, channel="webhook")
    _message(7, "sent", age_days=2)  # recent: kept
    _message(8, "queued", age_days=40)  # not finished: kept whatever its age
    before = (delivery_counts(incident_id=7), counts_by_channel(7))

    assert prune_messages() == {"messages": 7, "attempts": 1}
    assert set(OutboxMessage.objects.values_list("dedupe_key", flat=True)) == {"test:7", "test:8"}
    assert not DeliveryAttempt.objects.exists()
    assert (delivery_counts(incident_id=7), counts_by_channel(7)) == before
    assert before[0] == {"sent": 7, "failed": 1, "queued": 1}


def test_a_pruned_staff_message_takes_its_fallback_records_with_it(settings):
    settings.PRUNE_MESSAGES_DAYS = 30
    team = StaffTeam.objects.create(name="Store ops")
    failed = _message(1, "failed", age_days=40)
    took_over = _message(2, "sent", age_days=40)
    failed_recently = _message(3, "failed", age_days=2)
    took_over_recently = _message(4, "sent", age_days=2)
    BriefingFallback.objects.create(team=team, failed=failed, fallback=took_over)
    BriefingFallback.objects.create(team=team, failed=failed_recently, fallback=took_over_recently)
    # The old failure's fallback went to a message that is still in the retention: the record
    # goes with the failure, the message it names stays.
    BriefingFallback.objects.create(
        team=StaffTeam.objects.create(name="Social"), failed=failed, fallback=took_over_recently
    )

    assert prune_messages() == {"messages": 2, "attempts": 1}
    kept = BriefingFallback.objects.values_list("failed_id", "fallback_id")
    assert list(kept) == [(failed_recently.pk, took_over_recently.pk)]
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {
        failed_recently.pk,
        took_over_recently.pk,
    }
    assert DeliveryAttempt.objects.get().message_id == failed_recently.pk


def test_every_row_that_points_at_a_message_is_deleted_with_it():
    # Pruning deletes these rows by hand, table by table (pruning._delete): a new foreign key
    # to a message must cascade too, or its app must let go of the message in a prune listener.
    pointing = {
        (relation.related_model.__name__, relation.field.name, relation.on_delete.__name__)
        for relation in pointing_at_messages()
    }
    assert pointing == {
        ("DeliveryAttempt", "message", "CASCADE"),
        ("BriefingFallback", "failed", "CASCADE"),
        ("BriefingFallback", "fallback", "CASCADE"),
    }


def test_pruning_twice_adds_to_the_same_tallies(settings):
    settings.PRUNE_MESSAGES_DAYS = 30
    _message(1, "sent", age_days=40)
    prune_messages()
    _message(2, "sent", age_days=40)
    prune_messages()
    assert DeliveryTally.objects.get(channel="email", state="sent").count == 2
    assert delivery_counts(state="sent") == {"sent": 2}


def test_zero_days_keeps_everything(settings):
    settings.PRUNE_MESSAGES_DAYS = 0
    _message(1, "sent", age_days=4000)
    assert prune_messages() == {"messages": 0, "attempts": 0}
    assert OutboxMessage.objects.count() == 1


def test_the_delivery_log_counts_pruned_messages(settings, client_as):
    settings.PRUNE_MESSAGES_DAYS = 30
    for n in range(3):
        _message(n, "sent", age_days=40)
    prune_messages()
    page = client_as("comms").get("/console/notifications/delivery/?incident=7")
    assert page.status_code == 200
    assert page.context["counts"] == {"sent": 3}


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_retry_while_pruning_runs_never_queues_a_message_that_is_then_deleted(
    settings, monkeypatch
):
    """Staff press Retry on an old failed message between pruning's choice of its batch and the
    delete: the message must stay (queued again), not go with the batch."""
    import threading

    from django.db import connection

    from tideover.core.errors import NotFound
    from tideover.notifications import pruning
    from tideover.notifications.staff_actions import retry_message

    settings.PRUNE_MESSAGES_DAYS = 30
    message = _message(1, "failed", 40)
    tally = pruning._tally
    outcome = {}

    def staff_retry_meanwhile(ids):
        def press():
            try:
                outcome["retried"] = retry_message(message.pk)
            except Exception as exc:  # the message was pruned meanwhile
                outcome["error"] = exc
            finally:
                connection.close()

        # The retry waits on the batch's lock: it runs on while pruning finishes the batch.
        outcome["thread"] = threading.Thread(target=press)
        outcome["thread"].start()
        outcome["thread"].join(1)
        return tally(ids)

    monkeypatch.setattr(pruning, "_tally", staff_retry_meanwhile)
    pruning.prune_messages()
    outcome["thread"].join(10)
    # Pruning held the message: it went as the failed message it was, and the retry, which
    # waited, found nothing to queue (rather than queueing a message then deleted unsent).
    assert list(DeliveryTally.objects.values_list("state", "count")) == [("failed", 1)]
    assert not OutboxMessage.objects.filter(pk=message.pk).exists()
    assert isinstance(outcome.get("error"), NotFound), outcome
