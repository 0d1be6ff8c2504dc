"""Sales posted per second through the service, against a plain batched insert of the same
rows into the same tables, measured in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/ingest.py                    # both databases
    .venv/bin/python bench/ingest.py --db sqlite --sales 20000 --rounds 3

Each sale has 2 lines and a card tender; 60% carry a member id (so they also post a journal
entry with two lines, a lot and a balance). The service path is
``tideover.sales.services.post_sales`` with loyalty accrual, in batches of ``--batch`` (one
transaction each), input as plain dicts (validated by the service, as from the API). The
reference writes the same rows into the same tables (sales, lines, tenders, journal entries
and lines with the multi-row INSERT helper the service uses, ``tideover.sales.bulk.insert_rows``,
faster than ``bulk_create``; the members' lots and balances with one blind upsert / increment
each), in the same batches and transactions, with nothing looked up, locked, checked or hashed.
Each round gives both paths the same rows, and which path goes first alternates from round to
round; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fresh_db import run_children

ROOT = Path(__file__).resolve().parent.parent


def make_sales(
    count: int, members: int, stores: list[str], rng: random.Random, tag: str
) -> list[dict]:
    # Two days ago: sales must lie inside SALES_MAX_AGE_DAYS and not in the future.
    start = (datetime.now(UTC) - timedelta(days=2)).replace(
        hour=14, minute=0, second=0, microsecond=0
    )
    sales = []
    for n in range(count):
        a, b = rng.randrange(100, 5000), rng.randrange(100, 5000)
        qa = rng.randrange(1, 3)
        sales.append(
            {
                "sale_id": f"{tag}-{n:08d}",
                "store": rng.choice(stores),
                "register": "R1",
                "occurred_at": (start + timedelta(milliseconds=n * 5)).isoformat(),
                "status": "completed",
                "member_id": f"M{rng.randrange(1, members + 1):07d}"
                if rng.random() < 0.6
                else None,
                "lines": [
                    {"sku": f"SKU-{rng.randrange(5000)}", "quantity": qa, "unit_price_cents": a},
                    {"sku": f"SKU-{rng.randrange(5000)}", "quantity": 1, "unit_price_cents": b},
                ],
                "tenders": [{"kind": "card", "amount_cents": qa * a + b}],
            }
        )
    return sales


def reference_insert(batch: list[dict], stores: dict, members: dict) -> None:
    """The same rows into the same tables, as plainly as we can write them: the ceiling.

    Multi-row INSERTs from tuples (the helper the service itself uses) for sales, lines,
    tenders, journal entries and lines, plus one blind upsert of the points lots and one blind
    increment of the balances; one transaction per batch; nothing validated, looked up,
    locked or hashed."""
    from django.db import connection, transaction

    from tideover.loyalty.ledger import ENTRY_FIELDS, expiry_date
    from tideover.loyalty.models import JournalEntry, JournalLine
    from tideover.sales.bulk import insert_rows
    from tideover.sales.models import Sale, SaleLine, SaleTender
    from tideover.sales.services import LINE_FIELDS, SALE_FIELDS, TENDER_FIELDS

    now = datetime.now(UTC)
    with transaction.atomic():
        rows = []
        for s in batch:
            total = sum(x["quantity"] * x["unit_price_cents"] for x in s["lines"])
            rows.append(
                (
                    s["sale_id"],
                    stores[s["store"]],
                    s["register"],
                    datetime.fromisoformat(s["occurred_at"]),
                    now,
                    s["status"],
                    "sale",
                    "",
                    s["member_id"] or "",
                    [],
                    total,
                    total,
                    "0" * 64,
                    None,  # original: a sale undoes nothing
                    False,  # not queued offline
                )
            )
        ids = insert_rows(Sale, SALE_FIELDS, rows, returning=True)
        lines, tenders, entries, owners = [], [], [], []
        for s, row, pk in zip(batch, rows, ids, strict=True):
            for i, x in enumerate(s["lines"], 1):
                q, p = x["quantity"], x["unit_price_cents"]
                lines.append((pk, i, x["sku"], q, p, q * p))
            for t in s["tenders"]:
                tenders.append((pk, t["kind"], t["amount_cents"]))
            if s["member_id"]:
                member_pk, points = members[s["member_id"]], row[10] // 100
                owners.append((member_pk, points))
                entries.append(
                    (
                        "sale",
                        s["sale_id"],
                        "accrual",
                        member_pk,
                        points,
                        row[3],
                        now,
                        "system",
                        "",
                        "",
                    )
                )
        insert_rows(SaleLine, LINE_FIELDS, lines)
        insert_rows(SaleTender, TENDER_FIELDS, tenders)
        entry_ids = insert_rows(JournalEntry, ENTRY_FIELDS, entries, returning=True)
        journal_lines = []
        for entry_id, (member_pk, points) in zip(entry_ids, owners, strict=True):
            journal_lines.append((entry_id, "member_points", member_pk, points))
            journal_lines.append((entry_id, "points_issued", None, -points))
        insert_rows(JournalLine, ["entry", "account", "member", "points"], journal_lines)
        # The member's points land where the service puts them too: added to a lot and to the
        # balance, written blind (no read, no lock) in one statement each.
        deltas: dict[int, int] = {}
        for member_pk, points in owners:
            deltas[member_pk] = deltas.get(member_pk, 0) + points
        expires_on = expiry_date(rows[0][3], 12)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO loyalty_pointslot (member_id, expires_on, earned, remaining, expired, "
                "expiry_seq) VALUES "
                + ", ".join(["(%s, %s, %s, %s, 0, 0)"] * len(deltas))
                + " ON CONFLICT (member_id, expires_on) DO UPDATE SET "
                "earned = loyalty_pointslot.earned + excluded.earned, "
                "remaining = loyalty_pointslot.remaining + excluded.remaining",
                [v for pk, d in deltas.items() for v in (pk, expires_on, d, d)],
            )
            cursor.execute(
                "UPDATE loyalty_member SET balance = loyalty_member.balance + v.column2 FROM (VALUES "
                + ", ".join(["(%s, %s)"] * len(deltas))
                + ") AS v WHERE loyalty_member.id = v.column1",
                [v for pk, d in deltas.items() for v in (pk, d)],
            )


def run_one(db: str, args) -> dict:
    """In a child process whose DATABASE_URL points at a fresh database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.core.management import call_command

    from tideover.core.models import Region, Store
    from tideover.loyalty.demo import seed_members
    from tideover.loyalty.models import Member
    from tideover.sales.services import post_sales

    call_command("migrate", verbosity=0)
    region = Region.objects.create(name="Bench", slug="bench")
    codes = [f"B{n:03d}" for n in range(1, 21)]
    Store.objects.bulk_create([Store(code=c, name=c, region=region) for c in codes])
    seed_members(args.members, opening_share=0.0)
    stores = dict(Store.objects.values_list("code", "pk"))
    members = dict(Member.objects.values_list("loyalty_id", "pk"))
    rng = random.Random(5)
    service_rates, reference_rates = [], []
    # A warm-up round (not counted) fills caches and imports on both paths.
    for round_no in range(args.rounds + 1):
        # Both paths get the same rows (only the sale ids differ, so both can be stored), and
        # which goes first alternates, so neither always meets the warmer cache or fuller table.
        rows = make_sales(args.sales, args.members, codes, rng, f"r{round_no}")
        order = ("service", "reference") if round_no % 2 == 0 else ("reference", "service")
        for path in order:
            sales = [{**sale, "sale_id": f"{path[0]}{sale['sale_id']}"} for sale in rows]
            batches = [sales[i : i + args.batch] for i in range(0, len(sales), args.batch)]
            started = time.perf_counter()
            for batch in batches:
                if path == "service":
                    results = post_sales(batch)
                    assert all(r.result == "posted" for r in results), results[0]
                else:
                    reference_insert(batch, stores, members)
            rate = len(sales) / (time.perf_counter() - started)
            if round_no:
                (service_rates if path == "service" else reference_rates).append(rate)
    service, reference = statistics.median(service_rates), statistics.median(reference_rates)
    # The two paths of a round run back to back on the same rows: on a noisy machine the ratio
    # of a pair is steadier than the ratio of two medians.
    paired = statistics.median(s / r for s, r in zip(service_rates, reference_rates, strict=True))
    return {
        "db": db,
        "service_sales_per_s": round(service),
        "reference_sales_per_s": round(reference),
        "ratio": round(service / reference, 3),
        "paired_ratio": round(paired, 3),
        "service_rounds": [round(r) for r in service_rates],
        "reference_rounds": [round(r) for r in reference_rates],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sales", type=int, default=20_000, help="sales per round and path")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    results = run_children(args.db, "tideover_bench_ingest", __file__, ROOT)
    if isinstance(results, int):
        return results
    print(
        f"{args.sales} sales per round, batches of {args.batch}, {args.members} members, 60% with a member, 2 lines each; median of {args.rounds} rounds"
    )
    print(f"{'db':<10}{'service sales/s':>18}{'reference sales/s':>20}{'ratio':>8}{'paired':>8}")
    for r in results:
        print(
            f"{r['db']:<10}{r['service_sales_per_s']:>18,}{r['reference_sales_per_s']:>20,}"
            f"{r['ratio']:>8.0%}{r['paired_ratio']:>8.0%}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
