"""One round of bench/notify.py: the workers drain the outbox, the bare loop sends the same
messages, and the outbox is queued again for the next round (``--rounds``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from notify_meters import PROFILED, children_cpu, postgres_cpu, receivers_counted

ROOT = Path(__file__).resolve().parent.parent
NOTIFY = ROOT / "bench" / "notify.py"  # the bare loop runs as ``notify.py --bare-loop``


def declare_outage(subscribers: int, webhook_url: str, webhook_secret: str) -> tuple:
    """The database migrated, ``subscribers`` subscribers (half e-mail, half webhooks to
    ``webhook_url``) and an outage declared on in-store checkout; returns the incident and the
    seconds seeding the subscribers took."""
    from django.core.management import call_command

    from tideover.core.models import Component
    from tideover.incidents import services as incidents
    from tideover.incidents.models import Severity
    from tideover.notifications.demo import seed_subscribers

    call_command("migrate", verbosity=0)
    incidents.ensure_default_severities()
    checkout, _ = Component.objects.get_or_create(
        slug="in-store-checkout", defaults={"name": "In-store checkout"}
    )
    half = subscribers // 2
    started = time.perf_counter()
    seed_subscribers(
        {"email": half, "webhook": subscribers - half},
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
    )
    seeded = time.perf_counter() - started
    incident = incidents.declare_incident(
        title="Registers offline in 150 stores",
        severity=Severity.objects.get(level=1),
        components={checkout: "major_outage"},
    )
    return incident, seeded


def queue_again(backend: str) -> None:
    """Put every message back as it was queued, for another round (delivery ids unchanged;
    the receivers' counts, repeats included, start again with each round)."""
    from django.db import connection
    from django.utils import timezone

    from tideover.notifications.fanout import wake_workers
    from tideover.notifications.models import DeliveryAttempt, OutboxMessage

    DeliveryAttempt.objects.all().delete()
    count = OutboxMessage.objects.update(
        state="queued",
        claim_token="",
        lease_until=None,
        sent_at=None,
        provider_message_id="",
        last_error="",
        attempts=0,
        next_attempt_at=timezone.now(),
    )
    if connection.vendor == "postgresql":
        # The reset left a dead version of every row: clean them up now rather than have
        # autovacuum do it beside the next round's workers.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {OutboxMessage._meta.db_table}")
    if backend != "none":
        wake_workers(count)  # as the update's own tasks did in the first round


def settle(most_seconds: float = 60.0) -> None:
    """Let the writes of the step before (the update's rows, the reset for another round) be
    done with before either side is timed, so that neither pays for them: the database's dirty
    pages written out (PostgreSQL's CHECKPOINT, SQLite's WAL checkpoint), the kernel's too,
    and no autovacuum running on the outbox's database. Before this the side timed just after
    the reset ran into that work, the outbox in odd rounds and the bare loop in even ones."""
    from django.db import connection

    deadline = time.monotonic() + most_seconds
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                    "'autovacuum worker' AND datname = current_database()"
                )
                if not cursor.fetchone()[0]:
                    break
                time.sleep(0.2)
            cursor.execute("CHECKPOINT")
        else:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    os.sync()


def outbox_round(args, env: dict, startup_seconds: float) -> dict:
    """The workers drain the outbox: messages/s from the first sent to the last, and CPU."""
    from django.db import connection
    from django.db.models import Max, Min

    from tideover.notifications.models import OutboxMessage

    started = time.perf_counter()
    cpu = children_cpu()
    cpu.__enter__()
    server_cpu = postgres_cpu() if connection.vendor == "postgresql" else None
    if args.backend == "none":
        command = ["deliver_outbox", "--until-empty"]
        profile = os.environ.get("BENCH_PROFILE")
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", PROFILED, f"{profile}/worker-{i}.prof", *command]
                if profile
                else [sys.executable, "-m", "tideover", "manage", *command],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for i in range(args.workers)
        ]
        for worker in workers:
            worker.wait()
    else:
        # `tideover worker` as deployed; the update above queued its delivery tasks.
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tideover", "worker"],
                cwd=ROOT,
                env=os.environ,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        unsent = OutboxMessage.objects.exclude(state__in=["sent", "failed"])
        deadline = time.monotonic() + 900
        while unsent.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
    wall_seconds = time.perf_counter() - started
    cpu.__exit__(None, None, None)
    if server_cpu is not None:
        server_cpu = postgres_cpu() - server_cpu
    received = receivers_counted()
    sent = OutboxMessage.objects.filter(state="sent").count()
    # From the first message sent to the last (the workers' start-up is not delivery).
    span = OutboxMessage.objects.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    deliver_seconds = (span["last"] - span["first"]).total_seconds()
    connection.close()
    return {
        "sent": sent,
        "deliver_s": round(deliver_seconds, 2),
        "wall_s": round(wall_seconds, 2),
        "deliver_per_s": round(sent / deliver_seconds),
        # CPU per message, start-up left out: the workers' own processes (not the
        # receivers', nor the database server's).
        "cpu_ms": round((cpu.seconds - args.workers * startup_seconds) * 1000 / max(sent, 1), 3),
        # The PostgreSQL server's CPU while the workers ran (it shares the two cores).
        "server_cpu_ms": None if server_cpu is None else round(server_cpu * 1000 / max(sent, 1), 3),
        "received": received,
    }


def bare_round(args, env: dict, rendered: list, startup_seconds: float) -> dict:
    """The reference: the same rendered messages sent by as many bare-loop processes."""
    # Interleaved, so each process gets the same mix of e-mail and webhooks as each worker did.
    chunks = [rendered[i :: args.workers] for i in range(args.workers)]
    bare_cpu = children_cpu()
    bare_cpu.__enter__()
    readers = []
    for chunk in chunks:
        payload = [
            {
                "channel": r.channel,
                "to": r.recipient,
                "subject": r.subject,
                "text": r.text,
                "html": r.html,
                "headers": r.headers,
                "payload": r.payload,
                "id": r.delivery_id,
            }
            for r in chunk
        ]
        proc = subprocess.Popen(
            [sys.executable, str(NOTIFY), "--bare-loop"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        readers.append((proc, json.dumps(payload)))
    for proc, data in readers:
        proc.stdin.write(data.encode())
        proc.stdin.close()
    spans = [json.loads(proc.stdout.read()) for proc, _ in readers]
    for proc, _ in readers:
        proc.wait()
    bare_cpu.__exit__(None, None, None)
    # Timed like the workers: from the first message sent to the last, across the processes
    # (their start-up, imports and connecting are not delivery, on either side).
    bare_seconds = max(s["last"] for s in spans) - min(s["first"] for s in spans)
    return {
        "bare_per_s": round(len(rendered) / bare_seconds),
        "bare_cpu_ms": round(
            (bare_cpu.seconds - args.workers * startup_seconds) * 1000 / len(rendered), 3
        ),
        "bare_received": receivers_counted(),
    }
