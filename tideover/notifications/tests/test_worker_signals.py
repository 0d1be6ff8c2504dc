"""Stopping ``tideover worker`` loses nothing: SIGTERM finishes the message in hand and gives
back the rest; SIGKILL leaves at most the one message that was in a provider's hands, settled by
the documented rule (notifications/outbox.py), and nothing goes twice."""

from __future__ import annotations

import signal
import time
from collections import Counter

import pytest

from tideover.core.tests.workers import start_worker, stop, wait_until, worker_env
from tideover.incidents import services as incidents
from tideover.notifications.models import MessageState, OutboxMessage
from tideover.notifications.outbox import UNCERTAIN_ERROR

pytestmark = pytest.mark.django_db(transaction=True)


def _update_to(make_subscriber, count, severities, components) -> None:
    for i in range(count):
        make_subscriber(address=f"shopper{i}@example.com")
    incident = incidents.declare_incident(
        title="Checkout down",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    OutboxMessage.objects.all().delete()  # one update to count
    incidents.post_public_update(incident, "We are on it.")


def _env(settings, smtp, **extra):
    return worker_env(
        settings,
        EMAIL_PORT=str(smtp.port),
        NOTIFY_ENQUEUE_TASKS="true",
        WEBHOOK_ALLOW_PRIVATE="true",
        **extra,
    )


def test_sigterm_finishes_the_message_in_hand_and_gives_back_the_rest(
    severities, components, make_subscriber, smtp, settings, tmp_path
):
    total = 40
    _update_to(make_subscriber, total, severities, components)
    smtp.delay = 0.1
    env = _env(settings, smtp, NOTIFY_LEASE_SECONDS="600")
    worker = start_worker(env, log_path=tmp_path / "worker.log")
    wait_until(lambda: smtp.count >= 3, processes=[worker])

    assert stop(worker, signal.SIGTERM, timeout=20) == 0, (tmp_path / "worker.log").read_text()
    states = Counter(OutboxMessage.objects.values_list("state", flat=True))
    # Nothing held: no message claimed or in doubt, every e-mail the server got is recorded sent.
    assert states["claimed"] == 0 and states["sending"] == 0
    assert states["sent"] == smtp.count and 0 < smtp.count < total
    assert states["queued"] == total - smtp.count
    # Given back as they were: no attempt counted for a message that never left.
    assert not OutboxMessage.objects.filter(state="queued", attempts__gt=0).exists()

    # A new worker sends the rest, each once, and stops cleanly while idle.
    smtp.delay = 0
    again = start_worker(env, log_path=tmp_path / "worker.log")
    wait_until(lambda: not OutboxMessage.objects.exclude(state="sent").exists(), processes=[again])
    assert stop(again, signal.SIGINT, timeout=20) == 0
    assert sorted(Counter(m["To"] for m in smtp.messages).values()) == [1] * total


def test_sigkill_leaves_at_most_one_message_in_doubt_settled_by_the_rule_never_sent_twice(
    severities, components, make_subscriber, smtp, settings, tmp_path
):
    total = 40
    _update_to(make_subscriber, total, severities, components)
    smtp.delay = 0.05
    env = _env(settings, smtp, NOTIFY_LEASE_SECONDS="1")
    worker = start_worker(env, log_path=tmp_path / "worker.log")
    wait_until(lambda: smtp.count >= 5, processes=[worker])
    assert stop(worker, signal.SIGKILL) == -signal.SIGKILL
    assert OutboxMessage.objects.filter(state__in=["queued", "claimed", "sending"]).exists()

    time.sleep(1.2)  # the dead worker's lease runs out
    smtp.delay = 0
    again = start_worker(env, log_path=tmp_path / "worker.log")
    wait_until(
        lambda: (
            not OutboxMessage.objects.filter(state__in=["queued", "claimed", "sending"]).exists()
        ),
        processes=[again],
    )
    assert stop(again) == 0

    per_recipient = Counter(m["To"] for m in smtp.messages)
    assert set(per_recipient.values()) == {1}, "an e-mail went twice"
    uncertain = OutboxMessage.objects.filter(state=MessageState.FAILED, last_error=UNCERTAIN_ERROR)
    assert uncertain.count() <= 1
    assert OutboxMessage.objects.filter(state="sent").count() + uncertain.count() == total
    assert len(per_recipient) >= total - uncertain.count()
