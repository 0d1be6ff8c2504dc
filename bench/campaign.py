"""A goodwill campaign for a million affected customers: recipient list built, unique codes
minted and messages queued, against a plain bulk insert of the same rows into the same tables,
measured in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/campaign.py                          # 1,000,000 customers, both
    .venv/bin/python bench/campaign.py --db sqlite --customers 100000

The service path is what the console's Send does: ``start_campaign`` (the estimate counts
every affected customer by what decides their offer: consent, contacts, tier; cost against the
budget) and ``run_campaign`` (in chunks, each one transaction: read the customers, decide
channel and terms, mint codes with their check character, insert the codes, the offers and the
outbox messages with the quiet-hours due time, move the cursor). The service runs first; its
rows are then kept aside, the tables emptied and compacted, and the reference inserts exactly
those rows again (code, offer, message per customer), per chunk one read of the kept rows and
three bulk inserts (``tideover.sales.bulk.insert_rows``) in one transaction: nothing to
decide, mint or render. Goal: under 60 s for the million and at least 50% of the reference's
rate. Wall and CPU seconds are printed with the load average (the machine is shared).
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


def seed(customers: int):
    """A resolved incident over 20 stores and ``customers`` affected shoppers with consent."""
    from django.db import transaction
    from django.utils import timezone

    from tideover.core.models import Region, Store
    from tideover.incidents.models import Incident
    from tideover.recovery.models import AffectedCustomer, GoodwillPolicy
    from tideover.sales.bulk import insert_rows

    region = Region.objects.create(name="Bench", slug="bench")
    zones = ["America/Chicago", "America/New_York", "America/Denver", "America/Los_Angeles"]
    Store.objects.bulk_create(
        [
            Store(code=f"B{n:03d}", name=f"B{n:03d}", region=region, time_zone=zones[n % 4])
            for n in range(20)
        ]
    )
    stores = list(Store.objects.values_list("pk", flat=True))
    now = timezone.now()
    incident = Incident.objects.create(
        title="Registers down", started_at=now - timedelta(hours=3), resolved_at=now,
        state="resolved",
    )  # fmt: skip
    GoodwillPolicy.objects.create(incident=incident, offer_value=500, min_spend_cents=2500)
    fields = ["incident", "name", "phone_e164", "email", "store", "consent_marketing",
              "consent_text", "consent_at", "consent_source", "holdout", "created_at"]  # fmt: skip
    for start in range(0, customers, 50_000):
        rows = []
        for n in range(start, min(start + 50_000, customers)):
            phone = f"+1512{n:07d}" if n % 2 == 0 else ""
            email = "" if phone else f"shopper{n}@example.com"
            rows.append((incident.pk, f"Shopper {n}", phone, email, stores[n % 20], True,
                         "Yes, send me the offer.", now, "associate", False, now))  # fmt: skip
        with transaction.atomic():
            insert_rows(AffectedCustomer, fields, rows)
    return incident


_REWARD = ["member", "kind", "code", "value_cents", "percent_off", "min_spend_cents", "points",
           "source", "issued_at", "valid_from", "expires_at", "redeemed_sale_id",
           "redeemed_store"]  # fmt: skip
_OUTBOX = ["channel", "recipient", "category", "incident_id", "subject", "body", "dedupe_key",
           "state", "attempts", "next_attempt_at", "created_at", "claim_token",
           "provider_message_id", "last_error"]  # fmt: skip


def _columns(model, names) -> list[str]:
    return [model._meta.get_field(name).column for name in names]


def snapshot() -> None:
    """Keep the service's rows (code, offer, message per customer) in a side table, then
    empty the real tables: the reference inserts exactly these rows again."""
    from django.db import connection, transaction

    from tideover.loyalty.models import Reward
    from tideover.notifications.models import OutboxMessage
    from tideover.recovery.campaign import OFFER_FIELDS
    from tideover.recovery.models import GoodwillOffer

    picked = [f"r.{c}" for c in _columns(Reward, _REWARD)]
    picked += [f"o.{c}" for c in _columns(GoodwillOffer, OFFER_FIELDS) if c != "reward_id"]
    picked += [f"m.{c}" for c in _columns(OutboxMessage, _OUTBOX)]
    names = [f"c{n}" for n in range(len(picked))]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE bench_rows AS SELECT o.customer_id AS customer, "
            f"{', '.join(f'{p} AS {n}' for p, n in zip(picked, names, strict=True))} "
            "FROM recovery_goodwilloffer o JOIN loyalty_reward r ON r.id = o.reward_id "
            "JOIN notifications_outboxmessage m ON m.dedupe_key = o.dedupe_key"
        )
        cursor.execute("CREATE INDEX bench_rows_customer ON bench_rows (customer)")
    clear()


def reference(incident, chunk: int) -> int:
    """The service's rows inserted again, plainly: per chunk of customers one read of the
    kept rows and three bulk inserts (``insert_rows``: multi-row INSERT on SQLite, COPY on
    PostgreSQL) in one transaction; nothing to decide, mint or render."""
    from django.db import connection, transaction

    from tideover.loyalty.models import Reward
    from tideover.notifications.models import OutboxMessage
    from tideover.recovery.campaign import OFFER_FIELDS
    from tideover.recovery.models import AffectedCustomer, GoodwillOffer
    from tideover.sales.bulk import insert_rows

    offer_fields = [f for f in OFFER_FIELDS if f != "reward"]
    at = OFFER_FIELDS.index("reward")
    ends = list(
        AffectedCustomer.objects.filter(incident=incident)
        .order_by("pk")
        .values_list("pk", flat=True)[chunk - 1 :: chunk]
    )
    total, last = 0, 0
    spent = dict.fromkeys(("read", "codes", "offers", "messages", "commit"), 0.0)
    for end in [*ends, None]:
        lap = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM bench_rows WHERE customer > %s"
                + (" AND customer <= %s" if end else "")
                + " ORDER BY customer",
                [last, end] if end else [last],
            )
            rows = [row[1:] for row in cursor.fetchall()]
            if not rows:
                break
            split = len(_REWARD) + len(offer_fields)
            lap = _lap(spent, "read", lap)
            ids = insert_rows(
                Reward, _REWARD, [r[: len(_REWARD)] for r in rows], returning=True, adapted=True
            )
            lap = _lap(spent, "codes", lap)
            insert_rows(
                GoodwillOffer, OFFER_FIELDS,
                [(*r[len(_REWARD) : len(_REWARD) + at], pk, *r[len(_REWARD) + at : split])
                 for r, pk in zip(rows, ids, strict=True)],
                returning=True, adapted=True,
            )  # fmt: skip
            lap = _lap(spent, "offers", lap)
            insert_rows(OutboxMessage, _OUTBOX, [r[split:] for r in rows], adapted=True)
            lap = _lap(spent, "messages", lap)
            total += len(rows)
        _lap(spent, "commit", lap)
        last = end
    return total, {name: round(s, 1) for name, s in spent.items()}


def _lap(spent: dict, name: str, since: float) -> float:
    now = time.perf_counter()
    spent[name] += now - since
    return now


def clear() -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM recovery_goodwilloffer")
        cursor.execute("DELETE FROM recovery_campaign")
        cursor.execute("DELETE FROM notifications_outboxmessage")
        cursor.execute("DELETE FROM loyalty_reward")
    with connection.cursor() as cursor:
        # Both runs start from a compacted database (no freed pages for one to reuse).
        cursor.execute("VACUUM" if connection.vendor == "sqlite" else "VACUUM ANALYZE")


def run_one(db: str, args) -> dict:
    """In a child process whose DATABASE_URL points at a fresh database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    os.environ.setdefault("NOTIFY_QUIET_HOURS", "21:00-08:00")
    django.setup()
    from django.core.management import call_command

    from tideover.core.actors import Actor
    from tideover.notifications.models import OutboxMessage
    from tideover.recovery.campaign import run_campaign, start_campaign

    call_command("migrate", verbosity=0)
    load_start = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    started = time.perf_counter()
    incident = seed(args.customers)
    seeded = time.perf_counter() - started
    clear()
    from django.conf import settings

    chunk = args.chunk or settings.RECOVERY_CHUNK_SIZE
    started, cpu = time.perf_counter(), time.process_time()
    campaign = start_campaign(incident, actor=Actor(name="bench"))
    estimate_s = time.perf_counter() - started
    campaign = run_campaign(campaign, chunk_size=chunk)
    service_s, service_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert campaign.state == "done" and campaign.offers == args.customers, campaign.skipped
    assert OutboxMessage.objects.count() == args.customers
    snapshot()
    started, cpu = time.perf_counter(), time.process_time()
    inserted, parts = reference(incident, chunk)
    assert inserted == args.customers
    reference_s, reference_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert OutboxMessage.objects.count() == args.customers
    return {
        "db": db,
        "customers": args.customers,
        "chunk": chunk,
        "seed_s": round(seeded, 1),
        "service_s": round(service_s, 1),
        "of_which_estimate_s": round(estimate_s, 1),
        "reference_s": round(reference_s, 1),
        "service_cpu_s": round(service_cpu, 1),
        "reference_cpu_s": round(reference_cpu, 1),
        "service_per_s": round(args.customers / service_s),
        "reference_per_s": round(args.customers / reference_s),
        "ratio": round(reference_s / service_s, 3),
        "reference_parts_s": parts,
        "load_at_start": load_start,
        "load_at_end": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument(
        "--chunk", type=int, default=0, help="customers per transaction (RECOVERY_CHUNK_SIZE)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    results = run_children(args.db, "tideover_bench_campaign", __file__, ROOT)
    if isinstance(results, int):
        return results
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{args.customers:,} affected customers, chunks of {results[0]['chunk']:,}; load now {load}"
    )
    print(
        f"{'db':<10}{'service s':>10}{'(estimate)':>11}{'reference s':>13}{'ratio':>8}"
        f"{'service cpu':>13}{'reference cpu':>15}"
    )
    for r in results:
        print(
            f"{r['db']:<10}{r['service_s']:>10}{r['of_which_estimate_s']:>11}"
            f"{r['reference_s']:>13}{r['ratio']:>8.0%}"
            f"{r['service_cpu_s']:>13}{r['reference_cpu_s']:>15}"
        )
    print(json.dumps(results))
    print("cpu: this process's CPU seconds (on PostgreSQL the server's own work is not in it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
