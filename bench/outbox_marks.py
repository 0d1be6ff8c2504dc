"""The per-e-mail mark (delivery.SentMarks: 'sent' for one message with 'sending' for the next,
one UPDATE) on today's outbox indexes, against the indexes it had before the twelfth session,
in the same run, on the same rows, timed the same way.

    .venv/bin/python bench/outbox_marks.py                    # PostgreSQL, 20,000 marks, 4 rounds
    .venv/bin/python bench/outbox_marks.py --db sqlite --marks 50000

Each round puts ``--marks`` claimed e-mails in the outbox and marks them all, in turns: today's
schema (no index names a column a mark changes; an e-mail keeps no provider id of its own) and
the one before (``outbox_due`` conditioned on ``state``, ``outbox_leased`` on the lease, the
delivery id kept as provider id). Printed per mark: wall time, the marking process's CPU, on
PostgreSQL the server's CPU (every postgres process on this machine) and the share of updates
PostgreSQL wrote heap-only (HOT, no index entry). The marks commit as a worker's do
(``writes.marks_without_flush_wait``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from fresh_db import in_turns, medians
from notify_meters import postgres_cpu

ROOT = Path(__file__).resolve().parent.parent
PG_NAME = "tideover_bench_marks"
TABLE = "notifications_outboxmessage"
# The indexes before the twelfth session, as its migration 0012 left them.
BEFORE = [
    f"CREATE INDEX before_due ON {TABLE} (next_attempt_at, id) WHERE state = 'queued'",
    f"CREATE INDEX before_leased ON {TABLE} (lease_until) WHERE lease_until IS NOT NULL",
]


def fill(count: int, schema: str) -> tuple[str, list, list[str]]:
    """``count`` e-mails claimed by one worker, on ``schema``'s indexes: (claim token, the
    messages, the provider id each keeps when sent)."""
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from tideover.notifications.models import OutboxMessage
    from tideover.notifications.rendering import delivery_id

    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")  # noqa: S608
        for name in ("before_due", "before_leased", "outbox_due"):
            cursor.execute(f"DROP INDEX IF EXISTS {name}")
        if schema == "before":
            for statement in BEFORE:
                cursor.execute(statement)
        else:
            cursor.execute(
                f"CREATE INDEX outbox_due ON {TABLE} (next_attempt_at, id) "
                "WHERE next_attempt_at IS NOT NULL"
            )
    token, run = uuid.uuid4().hex, uuid.uuid4().hex[:8]
    lease = timezone.now() + timedelta(minutes=10)
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                channel="email",
                recipient=f"shopper{i}@bench.example",
                incident_id=1,
                dedupe_key=f"notification:{run}:{i}:email",
                state="claimed",
                claim_token=token,
                lease_until=lease,
                # Before, a claimed row kept its time; today the claim empties it.
                next_attempt_at=timezone.now() if schema == "before" else None,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {TABLE}")
    messages = list(
        OutboxMessage.objects.filter(claim_token=token).order_by("pk").only("pk", "dedupe_key")
    )
    # Before, an e-mail kept its delivery id as provider id; today it keeps none.
    kept = [delivery_id(m) if schema == "before" else "" for m in messages]
    return token, messages, kept


def mark_all(token: str, messages: list, kept: list[str]) -> dict:
    from django.db import connection

    from tideover.notifications.delivery import SentMarks
    from tideover.notifications.writes import marks_without_flush_wait

    marks = SentMarks(token)
    hot_before = _heap_only()
    server = postgres_cpu() if connection.vendor == "postgresql" else None
    with marks_without_flush_wait():
        started, cpu = time.perf_counter(), time.process_time()
        for message, provider_id in zip(messages, kept, strict=True):
            if not marks.sending(message):
                raise SystemExit(f"lost the claim on message {message.pk}")
            marks.pending = (message, provider_id)
        marks.flush()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    n = len(messages)
    result = {"wall_us": wall / n * 1e6, "cpu_us": cpu / n * 1e6}
    if server is not None:
        result["server_us"] = (postgres_cpu() - server) / n * 1e6
        updated, hot = (a - b for a, b in zip(_heap_only(), hot_before, strict=True))
        result["hot"] = hot / updated if updated else 0.0
    return result


def _heap_only() -> tuple[int, int]:
    from django.db import connection

    if connection.vendor != "postgresql":
        return (0, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT 1")
        time.sleep(0.2)
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s", [TABLE]
        )
        return cursor.fetchone()


def inner(args) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = in_turns(args.rounds, lambda schema: mark_all(*fill(args.marks, schema)))
    vendor = django.db.connection.vendor
    print(f"{vendor}: {args.marks:,} marks a round, {args.rounds} rounds in turns (median)")
    print(f"{'indexes':<10}{'wall us':>9}{'CPU us':>9}{'server us':>11}{'heap-only':>11}")
    for schema, rounds in results.items():
        med = medians(rounds)
        server = f"{med['server_us']:>11.0f}" if "server_us" in med else f"{'-':>11}"
        hot = f"{med['hot']:>11.0%}" if "hot" in med else f"{'-':>11}"
        print(f"{schema:<10}{med['wall_us']:>9.0f}{med['cpu_us']:>9.0f}{server}{hot}")
        print(
            f"{'':<10}rounds (wall us): " + ", ".join(f"{r['wall_us']:.0f}" for r in rounds),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--marks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return inner(args)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/marks.sqlite3"
        if args.db == "postgresql":
            for command in (["dropdb", "--if-exists"], ["createdb"]):
                subprocess.run([*command, "-h", "127.0.0.1", "-U", "postgres", PG_NAME], check=True)
            url = f"postgresql://postgres@127.0.0.1:5432/{PG_NAME}"
        env = {**os.environ, "DATABASE_URL": url, "TIDEOVER_DATA_DIR": tmp, "LOG_LEVEL": "WARNING"}
        command = [sys.executable, __file__, "--inner", "--marks", str(args.marks)]
        subprocess.run([*command, "--rounds", str(args.rounds)], env=env, cwd=ROOT, check=True)
    return None


if __name__ == "__main__":
    main()
