"""Never one (event, recipient) twice: two workers at once, and a worker killed mid-batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone

from tideover.incidents import services as incidents
from tideover.notifications.models import MessageState, OutboxClaim, OutboxMessage
from tideover.notifications.outbox import (
    UNCERTAIN_ERROR,
    claim_batch,
    deliver_claimed,
    drain,
    record_unrecorded_claims,
    recover_expired_leases,
)
from tideover.notifications.rendering import delivery_id

ROOT = Path(__file__).resolve().parents[3]


def _post(severities, components):
    incident = incidents.declare_incident(
        title="Checkout down",
        severity=severities["SEV1"],
        components={components["in-store-checkout"]: "major_outage"},
    )
    OutboxMessage.objects.all().delete()  # keep the declaration out: one update to count
    incidents.post_public_update(incident, "We are on it.")
    return incident


def _subscribers(make_subscriber, http_sink, emails: int, hooks: int) -> None:
    for i in range(emails):
        make_subscriber(address=f"shopper{i}@example.com")
    for i in range(hooks):
        path = f"/hook/{i}"
        http_sink.secrets[path] = f"secret-{i}"
        make_subscriber(channel="webhook", address=f"{http_sink.url}{path}", secret=f"secret-{i}")


def test_a_claimed_message_is_invisible_to_a_second_claim(severities, components, make_subscriber):
    for _ in range(5):
        make_subscriber()
    _post(severities, components)
    token_a, first = claim_batch(3)
    token_b, second = claim_batch(10)
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    assert token_a != token_b


def test_a_dead_workers_claims_go_back_and_its_sending_rows_are_settled_safely(
    severities, components, make_subscriber, http_sink
):
    _subscribers(make_subscriber, http_sink, emails=3, hooks=1)
    _post(severities, components)
    token, ids = claim_batch(10)
    rows = OutboxMessage.objects.filter(pk__in=ids).order_by("pk")
    emails = [r for r in rows if r.channel == "email"]
    hook = next(r for r in rows if r.channel == "webhook")
    # The worker got as far as handing one e-mail and the webhook to their providers, then died.
    OutboxMessage.objects.filter(pk__in=[emails[0].pk, hook.pk]).update(state=MessageState.SENDING)
    OutboxMessage.objects.filter(pk__in=ids).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    assert recover_expired_leases() == {"requeued": 2, "uncertain": 1, "resent": 1}
    emails[0].refresh_from_db()
    hook.refresh_from_db()
    assert emails[0].state == "failed" and emails[0].last_error == UNCERTAIN_ERROR
    assert hook.state == "queued"
    assert OutboxMessage.objects.filter(state="queued").count() == 3
    assert not OutboxClaim.objects.exists()  # nothing of that worker is held any more
    assert len(claim_batch(10)[1]) == 3  # and what went back is due again


def test_rows_held_by_a_worker_of_the_release_before_claim_records_are_recovered(
    severities, components, make_subscriber
):
    for _ in range(2):
        make_subscriber()
    _post(severities, components)
    # Claimed as that release claimed: a token and a lease, next_attempt_at kept, no record.
    OutboxMessage.objects.update(
        state=MessageState.CLAIMED,
        claim_token="o" * 32,
        lease_until=timezone.now() - timedelta(minutes=5),
    )
    assert recover_expired_leases()["requeued"] == 0  # nothing on record names them yet
    assert record_unrecorded_claims() == 2  # the hourly job
    assert record_unrecorded_claims() == 0
    assert recover_expired_leases()["requeued"] == 2
    assert len(claim_batch(10)[1]) == 2


def test_a_claim_takes_messages_out_of_the_queue_until_a_finished_batch_forgets_it(
    severities, components, make_subscriber, smtp, http_sink
):
    _subscribers(make_subscriber, http_sink, emails=2, hooks=1)
    _post(severities, components)
    token, ids = claim_batch(10)
    claimed = OutboxMessage.objects.filter(pk__in=ids)
    assert set(claimed.values_list("next_attempt_at", flat=True)) == {None}
    assert OutboxClaim.objects.get(token=token).message_ids == ids
    assert claim_batch(10)[1] == []
    assert deliver_claimed(token, ids) == {"sent": 3}
    assert set(claimed.values_list("state", flat=True)) == {"sent"}
    assert not OutboxClaim.objects.exists()


def _two_workers(count_threads: int = 2) -> list[dict]:
    results, errors = [], []

    def work():
        try:
            results.append(drain(batch_size=25))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(count_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    return results


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_postgresql_send_every_message_once(
    severities, components, make_subscriber, smtp, http_sink
):
    total = int(
        os.environ.get("TIDEOVER_NOTIFY_N", "400" if os.environ.get("TIDEOVER_SLOW") else "120")
    )
    _subscribers(make_subscriber, http_sink, emails=total // 2, hooks=total // 2)
    _post(severities, components)
    results = _two_workers()
    assert sum(r.get("sent", 0) for r in results) == total
    assert all(r.get("sent", 0) > 0 for r in results), "both workers should have sent some"
    assert OutboxMessage.objects.exclude(state="sent").count() == 0
    per_recipient = Counter(mail["To"] for mail in smtp.messages)
    assert len(per_recipient) == total // 2 and set(per_recipient.values()) == {1}
    assert len(http_sink.webhooks) == total // 2 and http_sink.duplicates == 0


def _worker(env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tideover", "manage", "deliver_outbox", "--until-empty"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _worker_env(settings, smtp, http_sink) -> dict:
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    return {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": settings.SECRET_KEY,
        "SITE_URL": settings.SITE_URL,
        "EMAIL_PORT": str(smtp.port),
        "TWILIO_API_BASE": http_sink.url,
        "NOTIFY_LEASE_SECONDS": "1",
        "NOTIFY_BATCH_SIZE": "500",
        "NOTIFY_ENQUEUE_TASKS": "false",
        "WEBHOOK_ALLOW_PRIVATE": "true",
    }


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_and_restarted_sends_every_message_once(
    severities, components, make_subscriber, smtp, http_sink, settings
):
    total = 200 if os.environ.get("TIDEOVER_SLOW") else 60
    _subscribers(make_subscriber, http_sink, emails=total // 2, hooks=total // 2)
    _post(severities, components)
    smtp.delay = http_sink.delay = 0.02
    env = _worker_env(settings, smtp, http_sink)
    first = _worker(env)
    deadline = time.monotonic() + 60
    while smtp.count + len(http_sink.webhooks) < total // 3 and time.monotonic() < deadline:
        assert first.poll() is None, first.stderr.read().decode()
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert OutboxMessage.objects.filter(state__in=["queued", "claimed", "sending"]).exists()
    time.sleep(1.2)  # the dead worker's lease runs out
    second = _worker(env)
    assert second.wait(120) == 0, second.stderr.read().decode()

    rows = OutboxMessage.objects.all()
    states = Counter(rows.values_list("state", flat=True))
    # Webhooks: resent with the same delivery id when in doubt, so every one arrives once.
    assert len(http_sink.webhooks) == total // 2
    assert {h["delivery"] for h in http_sink.webhooks} == {
        delivery_id(m) for m in rows.filter(channel="webhook")
    }
    # E-mail: never twice. At most the one message in flight at the kill is left uncertain.
    per_recipient = Counter(mail["To"] for mail in smtp.messages)
    assert set(per_recipient.values()) <= {1}
    uncertain = rows.filter(state="failed", last_error=UNCERTAIN_ERROR).count()
    assert uncertain <= 1
    assert states["sent"] + uncertain == total
    assert len(per_recipient) >= total // 2 - uncertain
