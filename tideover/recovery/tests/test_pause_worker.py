"""Pausing a campaign also holds the messages a real worker has already claimed but not yet
handed to the provider; resuming sends them, each once."""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tideover.core.tests.workers import start_worker, stop, wait_until, worker_env
from tideover.notifications.campaigns import HELD_UNTIL
from tideover.notifications.models import OutboxMessage
from tideover.notifications.sinks import SmtpSink
from tideover.recovery.campaign import pause, resume, run_campaign, start_campaign
from tideover.recovery.models import GoodwillOffer
from tideover.recovery.tests.conftest import CX

pytestmark = pytest.mark.django_db(transaction=True)


def test_pause_holds_messages_a_worker_has_claimed_and_resume_sends_each_once(
    incident, sign_up, policy, settings, tmp_path
):
    total = 30
    for i in range(total):
        sign_up(email=f"paused{i}@example.com")
    policy()
    campaign = run_campaign(start_campaign(incident, actor=CX))
    assert OutboxMessage.objects.filter(category="marketing").count() == total
    smtp = SmtpSink().start()
    smtp.delay = 0.3  # a slow provider: the worker holds a claimed batch while it sends
    env = worker_env(
        settings,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        NOTIFY_QUIET_HOURS="",
        NOTIFY_LEASE_SECONDS="600",
        NOTIFY_ENQUEUE_TASKS="true",
    )
    log = tmp_path / "worker.log"
    worker = start_worker(env, log_path=log)
    try:
        wait_until(lambda: smtp.count >= 2, processes=[worker])
        campaign = pause(campaign, actor=CX)
        at_pause = smtp.count
        # Nothing claimed is left to the worker: only the one in the provider's hands goes.
        assert not OutboxMessage.objects.filter(state="claimed").exists()
        wait_until(lambda: not OutboxMessage.objects.filter(state="sending").exists())
        sent = OutboxMessage.objects.filter(state="sent").count()
        assert sent == smtp.count <= at_pause + 1 < total
        held = OutboxMessage.objects.filter(state="queued", next_attempt_at=HELD_UNTIL)
        assert held.count() == total - sent
        assert not held.filter(attempts__gt=0).exists()  # given back, no attempt counted

        smtp.delay = 0
        resume(campaign, actor=CX)
        wait_until(
            lambda: OutboxMessage.objects.filter(state="sent").count() == total,
            processes=[worker],
        )
    finally:
        assert stop(worker, signal.SIGTERM, timeout=30) == 0, log.read_text()
        smtp.stop()
    assert sorted(Counter(m["To"] for m in smtp.messages).values()) == [1] * total
    # Each e-mail carries its own code: the text is written as the worker sends it.
    codes = dict(GoodwillOffer.objects.values_list("customer__email", "code"))
    bodies = smtp.bodies()
    assert all(codes[m["To"]] in body for m, body in zip(smtp.messages, bodies, strict=True))
