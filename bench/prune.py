"""Pruning a million-row outbox: ``prune_messages`` (the hourly ``prune-outbox`` job) deleting
the finished messages older than the retention with their delivery attempts, tallying them,
5,000 per transaction; against one plain DELETE of the same rows in the same run, on SQLite and
PostgreSQL.

    .venv/bin/python bench/prune.py                          # 1,000,000 messages, both
    .venv/bin/python bench/prune.py --db sqlite --messages 100000

The outbox is seeded as a chain's would look after months of outages: ``--old`` of the rows
(half unless told) created before the retention (sent, with some failed and cancelled and
one failed attempt each for those), the rest within it (mostly sent, some still queued);
twenty incidents, e-mail and webhook. Printed per database:

- prune: wall and CPU seconds of ``prune_messages()`` deleting the old rows, and rows/s;
- nothing due: the same call right after, with only rows inside the retention left (what the
  job costs every hour of a quiet week);
- reference: a fresh copy of the same rows, then one transaction of two DELETEs (attempts, then
  messages, by state and age): the same rows gone, with no tally and no batches.

Checked each run: the old rows and their attempts are gone, the recent ones all kept, and the
tallies add up to what was deleted. Wall and CPU seconds are printed with the load average (the
machine is shared); on PostgreSQL the server's work is not in this process's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from fresh_db import run_children

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIELDS = [
    "channel", "recipient", "category", "incident_id", "dedupe_key", "state", "attempts",
    "next_attempt_at", "provider_message_id", "last_error", "created_at", "sent_at",
    "subject", "body", "claim_token",
]  # fmt: skip


def seed(messages: int, old_share: float, retention_days: int) -> dict:
    """Insert the outbox and its attempts; returns what the checks need."""
    from django.db import connection

    from tideover.notifications.models import DeliveryAttempt, OutboxMessage
    from tideover.sales.bulk import insert_rows

    now = time.time()
    adapt = connection.ops.adapt_datetimefield_value
    from datetime import UTC, datetime

    def at(seconds_ago: float):
        return adapt(datetime.fromtimestamp(now - seconds_ago, UTC))

    old_count = int(messages * old_share)
    old_at = at((retention_days + 30) * 86400)
    recent_at = at(86400)
    rows, failed = [], []
    for n in range(messages):
        old = n < old_count  # ids grow with time, as in a real outbox
        channel = "email" if n % 2 else "webhook"
        state = "sent"
        if n % 50 == 0:
            state = "failed"
        elif n % 50 == 1:
            state = "cancelled"
        elif not old and n % 50 == 2:
            state = "queued"
        created = old_at if old else recent_at
        sent = created if state == "sent" else None
        rows.append(
            (
                channel, f"shopper{n}@example.com", "status", n % 20 + 1, f"bench:{n}", state,
                1 if state in ("sent", "failed") else 0, created,
                f"p{n}" if state == "sent" else "", "SMTP 550" if state == "failed" else "",
                created, sent, "Registers are back", "", "",
            )
        )  # fmt: skip
        if state == "failed":
            failed.append(n)
    for start in range(0, len(rows), 50_000):
        insert_rows(OutboxMessage, FIELDS, rows[start : start + 50_000], adapted=True)
    first = OutboxMessage.objects.order_by("pk").values_list("pk", flat=True).first()
    insert_rows(
        DeliveryAttempt,
        ["message", "at", "permanent", "error"],
        [(first + n, old_at if n < old_count else recent_at, True, "SMTP 550") for n in failed],
        adapted=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    old_failed = sum(1 for n in failed if n < old_count)
    return {"old": old_count, "old_attempts": old_failed, "recent": messages - old_count}


def empty() -> None:
    from django.db import connection

    from tideover.notifications.models import DeliveryAttempt, DeliveryTally, OutboxMessage

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            tables = [m._meta.db_table for m in (DeliveryAttempt, OutboxMessage, DeliveryTally)]
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")  # noqa: S608
        else:
            for model in (DeliveryAttempt, OutboxMessage, DeliveryTally):
                cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608
            cursor.execute("VACUUM")


def reference(cutoff) -> tuple[int, int]:
    """The same rows deleted by one transaction of two plain DELETEs."""
    from django.db import connection, transaction

    from tideover.notifications.models import DeliveryAttempt, OutboxMessage
    from tideover.notifications.pruning import FINISHED

    outbox, attempts = OutboxMessage._meta.db_table, DeliveryAttempt._meta.db_table
    marks = ", ".join(["%s"] * len(FINISHED))
    where = f"state IN ({marks}) AND created_at < %s"
    params = [*FINISHED, connection.ops.adapt_datetimefield_value(cutoff)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {attempts} WHERE message_id IN "  # noqa: S608
            f"(SELECT id FROM {outbox} WHERE {where})",
            params,
        )
        gone_attempts = cursor.rowcount
        cursor.execute(f"DELETE FROM {outbox} WHERE {where}", params)  # noqa: S608
        return cursor.rowcount, gone_attempts


def timed(fn, *args):
    started, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    return result, round(time.perf_counter() - started, 3), round(time.process_time() - cpu, 3)


def run_one(db: str, args) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Sum
    from django.utils import timezone

    from tideover.notifications.models import DeliveryAttempt, DeliveryTally, OutboxMessage
    from tideover.notifications.pruning import prune_messages

    call_command("migrate", verbosity=0)
    days = settings.PRUNE_MESSAGES_DAYS
    load_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    seeded, seed_s, _ = timed(seed, args.messages, args.old, days)

    counts, prune_s, prune_cpu = timed(prune_messages)
    assert counts == {"messages": seeded["old"], "attempts": seeded["old_attempts"]}, counts
    assert OutboxMessage.objects.count() == seeded["recent"]
    assert DeliveryTally.objects.aggregate(n=Sum("count"))["n"] == seeded["old"]
    idle, idle_s, idle_cpu = timed(prune_messages)
    assert idle == {"messages": 0, "attempts": 0}, idle

    empty()
    seed(args.messages, args.old, days)
    cutoff = timezone.now() - timedelta(days=days)
    gone, reference_s, reference_cpu = timed(reference, cutoff)
    assert gone == (seeded["old"], seeded["old_attempts"]), gone
    assert OutboxMessage.objects.count() == seeded["recent"]
    assert DeliveryAttempt.objects.count() == len(range(0, args.messages, 50)) - gone[1]
    return {
        "db": db,
        "messages": args.messages,
        "pruned": seeded["old"],
        "seed_s": round(seed_s, 1),
        "prune_s": prune_s,
        "prune_cpu_s": prune_cpu,
        "prune_per_s": round(seeded["old"] / prune_s),
        "nothing_due_s": idle_s,
        "nothing_due_cpu_s": idle_cpu,
        "reference_s": reference_s,
        "reference_cpu_s": reference_cpu,
        "ratio": round(reference_s / prune_s, 3),
        "load_at_start": load_start,
        "load_at_end": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--old", type=float, default=0.5, help="share older than the retention")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    results = run_children(args.db, "tideover_bench_prune", __file__, ROOT)
    if isinstance(results, int):
        return results
    print(f"{args.messages:,} outbox messages, {args.old:.0%} older than the retention")
    print(
        f"{'db':<10}{'pruned':>10}{'prune s':>9}{'rows/s':>9}{'cpu s':>7}{'nothing due s':>15}"
        f"{'reference s':>13}{'ratio':>7}   load (1, 5, 15 min) start -> end"
    )
    for r in results:
        print(
            f"{r['db']:<10}{r['pruned']:>10,}{r['prune_s']:>9}{r['prune_per_s']:>9,}"
            f"{r['prune_cpu_s']:>7}{r['nothing_due_s']:>15}{r['reference_s']:>13}"
            f"{r['ratio']:>7.0%}   {r['load_at_start']} -> {r['load_at_end']}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
