"""A batch's writes on PostgreSQL, today's against those before the thirteenth session, in turns
on the same rows, timed the same way:

- **claim**: ``outbox.claim_batch`` draining ``--messages`` due rows from a table the planner
  has no statistics for (a new installation, or statistics from a quiet hour): today the claim
  walks ``outbox_due`` in order (``walk_due_in_order``), before the planner read and sorted
  every due row for each batch;
- **sent**: a webhook batch's 'sent' (``delivery.record_sent``): today one UPDATE over arrays,
  before an UPDATE per row in one pipeline (``SENT_EACH``, as the code before ran it).

    .venv/bin/python bench/outbox_batch_writes.py                   # 20,000 messages, 4 rounds
    .venv/bin/python bench/outbox_batch_writes.py --messages 50000

Printed per message (median of the rounds): wall time, this process's CPU and the PostgreSQL
server's CPU (every postgres process on this machine).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import timedelta
from pathlib import Path

from fresh_db import in_turns, medians, run_inner_on_postgres
from notify_meters import postgres_cpu

ROOT = Path(__file__).resolve().parent.parent
PG_NAME = "tideover_bench_batch_writes"
TABLE = "notifications_outboxmessage"
BATCH = 200


def fill(count: int, state: str) -> list:
    """``count`` webhooks in ``state`` (due, or claimed by one worker), and nothing else, on a
    table without statistics."""
    from django.db import connection
    from django.utils import timezone

    from tideover.notifications.models import OutboxMessage

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE} CASCADE")
        cursor.execute(f"ALTER TABLE {TABLE} SET (autovacuum_enabled = false)")
    run, due = uuid.uuid4().hex[:8], timezone.now() - timedelta(minutes=1)
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                channel="webhook",
                recipient=f"https://hooks.bench.example/{i}",
                dedupe_key=f"notification:{run}:{i}:webhook",
                state=state,
                claim_token="" if state == "queued" else "b" * 32,
                next_attempt_at=due if state == "queued" else None,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [TABLE])
        cursor.execute("CHECKPOINT")
    return list(OutboxMessage.objects.order_by("pk").only("pk"))


def timed(work) -> dict:
    started, cpu, server = time.perf_counter(), time.process_time(), postgres_cpu()
    count = work()
    return {
        "wall_us": (time.perf_counter() - started) / count * 1e6,
        "cpu_us": (time.process_time() - cpu) / count * 1e6,
        "server_us": (postgres_cpu() - server) / count * 1e6,
    }


def claim_all(way: str, count: int) -> dict:
    from unittest import mock

    from tideover.notifications import outbox

    fill(count, "queued")

    def drain_claims() -> int:
        claimed = 0
        while True:
            _, ids = outbox.claim_batch(BATCH)
            if not ids:
                return claimed
            claimed += len(ids)

    if way == "today":
        return timed(drain_claims)
    with mock.patch.object(outbox, "walk_due_in_order", lambda: None):
        return timed(drain_claims)


def sent_all(way: str, count: int) -> dict:
    from django.db import connection, transaction
    from django.utils import timezone

    from tideover.notifications.delivery import SENT_EACH, record_sent
    from tideover.notifications.writes import execute_prepared

    messages = fill(count, "sending")
    for message in messages:
        message.sent_at, message.provider_message_id = timezone.now(), ""
    batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]

    def today() -> int:
        for batch in batches:
            record_sent(batch)
        return len(messages)

    def before() -> int:
        adapt = connection.ops.adapt_datetimefield_value
        for batch in batches:
            rows = [(adapt(m.sent_at), m.provider_message_id, m.pk) for m in batch]
            with transaction.atomic():
                execute_prepared(SENT_EACH, rows, many=True)
        return len(messages)

    result = timed(today if way == "today" else before)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE state = 'sent'")  # noqa: S608
        if cursor.fetchone()[0] != count:
            raise SystemExit(f"{way}: not every message was marked sent")
    return result


def inner(args) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print(
        f"postgresql: {args.messages:,} messages a round, batches of {BATCH}, {args.rounds} "
        "rounds in turns (median, per message)"
    )
    print(f"{'write':<7}{'code':<8}{'wall us':>9}{'CPU us':>9}{'server us':>11}")
    for name, run in (("claim", claim_all), ("sent", sent_all)):
        results = in_turns(args.rounds, lambda way, run=run: run(way, args.messages))
        for way, rounds in results.items():
            med = medians(rounds)
            print(
                f"{name:<7}{way:<8}{med['wall_us']:>9.1f}{med['cpu_us']:>9.1f}"
                f"{med['server_us']:>11.1f}   rounds (server us): "
                + ", ".join(f"{r['server_us']:.1f}" for r in rounds),
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return inner(args)
    run_inner_on_postgres(PG_NAME, __file__, ROOT)
    return None


if __name__ == "__main__":
    main()
