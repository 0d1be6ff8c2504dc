"""The outbox table on PostgreSQL as migration 0014 leaves it (pages half full, one index on the
dedupe key) against the table before it (pages 80% full, a second, pattern index on the dedupe
key), in turns on the same messages, through a worker's real writes:

- an update to ``--subscribers`` (half e-mail, half webhooks) queued by ``post_public_update``;
- drained by ``outbox.claim_batch`` and ``outbox.deliver_claimed``, as ``tideover manage
  deliver_outbox`` does, with transports that hand nothing over (the table's work is measured,
  not the receivers'): an e-mail costs its claim and one mark ('sent' for the one before with
  'sending' for it); a webhook batch its claim, one 'sending' and one 'sent'.

    .venv/bin/python bench/outbox_page_room.py                    # 20,000 subscribers, 4 rounds
    .venv/bin/python bench/outbox_page_room.py --subscribers 50000 --rounds 6

Printed per message (median of the rounds): the drain's wall time, this process's CPU, the
PostgreSQL server's CPU (every postgres process on this machine), the WAL it wrote, and the
share of its updates that were heap-only (HOT: the new row version on the same page, no index
written); and the table's size after the drain.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from fresh_db import in_turns, medians, run_inner_on_postgres
from notify_meters import postgres_cpu
from notify_rounds import declare_outage, settle

ROOT = Path(__file__).resolve().parent.parent
PG_NAME = "tideover_bench_page_room"
TABLE = "notifications_outboxmessage"
PATTERN_INDEX = "bench_outbox_dedupe_key_like"


def shape(way: str) -> None:
    """The table as today's migrations leave it, or as it was before 0014 (empty either way)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {TABLE} CASCADE")
        cursor.execute(f"DROP INDEX IF EXISTS {PATTERN_INDEX}")
        if way == "before":
            cursor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 80)")
            cursor.execute(
                f"CREATE INDEX {PATTERN_INDEX} ON {TABLE} (dedupe_key varchar_pattern_ops)"
            )
        else:
            cursor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 50)")


def table_counters() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd, pg_current_wal_lsn() - '0/0'::pg_lsn, "
            "pg_relation_size(relid) FROM pg_stat_user_tables WHERE relname = %s",
            [TABLE],
        )
        updated, hot, wal, size = cursor.fetchone()
    return {"updated": updated, "hot": hot, "wal": int(wal), "size": size}


class HandsNothingOver:
    """A transport that accepts every message at once, as fast as a transport can."""

    def __init__(self, idempotent: bool):
        self.idempotent = idempotent

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def rate_limit(self):
        return None

    def send(self, rendered) -> str:
        return rendered.delivery_id


def drain() -> int:
    from tideover.notifications import outbox

    sent = 0
    while True:
        token, ids = outbox.claim_batch()
        if not ids:
            return sent
        sent += outbox.deliver_claimed(token, ids)["sent"]


def one_round(way: str, incident) -> dict:
    from unittest import mock

    from tideover.incidents import services as incidents
    from tideover.notifications import channels, outbox

    shape(way)
    incidents.post_public_update(incident, "Registers are offline in 150 stores; cash works.")
    settle()

    def transport_for(name):
        return HandsNothingOver(channels.get(name).transport.idempotent)

    before, started = table_counters(), time.perf_counter()
    cpu, server = time.process_time(), postgres_cpu()
    with mock.patch.object(outbox, "transport_for", transport_for):
        sent = drain()
    wall, cpu, server = (
        time.perf_counter() - started,
        time.process_time() - cpu,
        postgres_cpu() - server,
    )
    after = table_counters()
    updated = after["updated"] - before["updated"]
    return {
        "sent": sent,
        "wall_us": wall / sent * 1e6,
        "cpu_us": cpu / sent * 1e6,
        "server_us": server / sent * 1e6,
        "wal_bytes": (after["wal"] - before["wal"]) / sent,
        "hot_share": (after["hot"] - before["hot"]) / updated if updated else 0.0,
        "size_mb": after["size"] / 2**20,
    }


def inner(args) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    incident, _ = declare_outage(args.subscribers, "http://127.0.0.1:9/hook", "bench-page-room")
    print(
        f"postgresql: {args.subscribers:,} subscribers (half e-mail, half webhooks), one drain "
        f"a round, {args.rounds} rounds in turns (median, per message)"
    )
    print(
        f"{'table':<8}{'wall us':>9}{'CPU us':>9}{'server us':>11}{'WAL bytes':>11}"
        f"{'HOT':>6}{'size MB':>9}"
    )
    one_round("today", incident)  # not counted: loads the templates, as in a worker that has sent

    def counted(way: str) -> dict:
        result = one_round(way, incident)
        if result["sent"] != args.subscribers:
            raise SystemExit(f"{way}: {result['sent']} of {args.subscribers} sent")
        return result

    for way, rounds in in_turns(args.rounds, counted).items():
        med = medians(rounds)
        print(
            f"{way:<8}{med['wall_us']:>9.1f}{med['cpu_us']:>9.1f}{med['server_us']:>11.1f}"
            f"{med['wal_bytes']:>11.0f}{med['hot_share']:>6.0%}{med['size_mb']:>9.1f}"
            "   rounds (server us): " + ", ".join(f"{r['server_us']:.1f}" for r in rounds),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return inner(args)
    run_inner_on_postgres(PG_NAME, __file__, ROOT, NOTIFY_ENQUEUE_TASKS="false")
    return None


if __name__ == "__main__":
    main()
