"""Past one machine, end to end: a web process and three workers on PostgreSQL + Redis (RQ),
updates posted through the API to many subscribers, a worker killed mid-send. Every message
is sent once (at most the one in a provider's hands at the kill is left in doubt, and a webhook
in doubt is resent under the same delivery id), and each periodic job ran once per interval.

10,000 subscribers with TIDEOVER_SLOW=1 (make test-slow); 600 in make test."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter

import pytest
from django.conf import settings as django_settings

from tideover.core.models import PeriodicRun
from tideover.core.services import create_api_token
from tideover.core.tests.probe import PROBE_JOB
from tideover.core.tests.workers import ROOT, start_worker, stop, wait_until, worker_env
from tideover.notifications.models import MessageState, OutboxMessage, Subscriber
from tideover.notifications.outbox import UNCERTAIN_ERROR
from tideover.notifications.rendering import delivery_id

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not getattr(django_settings, "RQ_QUEUES", None),
        reason="needs TASKS_BACKEND=rq and Redis (scripts/test-rq.sh)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, token: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
        assert answer.status == 201
        return json.loads(answer.read())


def _web(env, port, log):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "tideover", "web", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )


def test_web_and_three_workers_on_postgresql_and_redis_send_once_with_a_worker_killed(
    severities, components, smtp, http_sink, settings, tmp_path
):
    total = 10_000 if os.environ.get("TIDEOVER_SLOW") else 600
    hooks = total // 10
    Subscriber.objects.bulk_create(
        [
            Subscriber(channel="email", address=f"shopper{i}@example.com", state="active")
            for i in range(total - hooks)
        ]
        + [
            Subscriber(
                channel="webhook",
                address=f"{http_sink.url}/hook/{i}",
                state="active",
                secret=f"secret-{i}",
            )
            for i in range(hooks)
        ]
    )
    for i in range(hooks):
        http_sink.secrets[f"/hook/{i}"] = f"secret-{i}"
    _, token = create_api_token(name="commander's tool", scopes=["incidents:write"])

    probe = tmp_path / "probe.log"
    port = _free_port()
    env = worker_env(
        settings,
        DJANGO_SETTINGS_MODULE="tideover.core.tests.probe_settings",
        TIDEOVER_PROBE_FILE=str(probe),
        EMAIL_PORT=str(smtp.port),
        TWILIO_API_BASE=http_sink.url,
        WEBHOOK_ALLOW_PRIVATE="true",
        NOTIFY_LEASE_SECONDS="2",
        NOTIFY_ENQUEUE_TASKS="true",
        ALLOWED_HOSTS="127.0.0.1",
        TASKS_BACKEND="rq",
    )
    log = tmp_path / "processes.log"
    web = _web(env, port, log)
    workers = [start_worker(env, "--interval", "0.1", log_path=log) for _ in range(3)]
    everyone = [web, *workers]
    try:
        wait_until(lambda: probe.exists(), timeout=90, processes=everyone)
        base = f"http://127.0.0.1:{port}/api/v1/incidents"
        wait_until(_answers(f"http://127.0.0.1:{port}/api/v2/status.json"), processes=everyone)
        incident = _post(
            base,
            token,
            {
                "title": "Checkout down",
                "severity": "SEV1",
                "components": [{"component": "in-store-checkout"}],
                "message": "We are looking into it.",
            },
        )
        _post(f"{base}/{incident['id']}/updates", token, {"body": "Fix in progress."})
        expected = 2 * total
        wait_until(
            lambda: smtp.count + len(http_sink.webhooks) >= expected // 4,
            timeout=300,
            processes=everyone,
        )
        assert stop(workers[0], signal.SIGKILL) == -signal.SIGKILL
        survivors = [web, *workers[1:]]
        wait_until(
            lambda: (
                not OutboxMessage.objects.filter(
                    state__in=["queued", "claimed", "sending"]
                ).exists()
            ),
            timeout=600,
            every=0.5,
            processes=survivors,
        )
    finally:
        codes = []
        for process in everyone:  # every one stopped, even when one of them hangs
            try:
                codes.append(stop(process))
            except subprocess.TimeoutExpired:
                codes.append(None)
    assert codes[0] == 0 and codes[2:] == [0, 0], log.read_text()[-3000:]

    rows = OutboxMessage.objects.filter(incident_id=incident["id"])
    assert rows.count() == expected
    uncertain = rows.filter(state=MessageState.FAILED, last_error=UNCERTAIN_ERROR).count()
    assert uncertain <= 1, "at most the one message in a provider's hands at the kill"
    assert rows.filter(state="sent").count() + uncertain == expected
    # E-mail: never twice to one recipient for one notification.
    sent_mail = Counter((m["To"], m["Subject"]) for m in smtp.messages)
    assert set(sent_mail.values()) == {1}
    assert len(sent_mail) >= 2 * (total - hooks) - uncertain
    # Webhooks: every delivery id arrived (a resend carries the same id).
    assert {h["delivery"] for h in http_sink.webhooks} == {
        delivery_id(m) for m in rows.filter(channel="webhook")
    }
    # Periodic jobs: one run per interval across the three workers, the killed one included.
    executions = probe.read_text().splitlines()
    slots = list(PeriodicRun.objects.filter(name=PROBE_JOB).values_list("slot", flat=True))
    assert len(executions) == len(slots) == len(set(slots)) > 0
    for name in ("notifications-deliver", "cadence-reminders"):
        runs = list(PeriodicRun.objects.filter(name=name).values_list("slot", flat=True))
        assert len(runs) == len(set(runs)) > 0


def _answers(url):
    def check():
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
                return True
        except OSError:
            time.sleep(0.2)
            return False

    return check
