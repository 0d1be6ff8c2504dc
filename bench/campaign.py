"""A goodwill campaign for a million affected customers: recipient list built, unique codes
minted and messages queued, against a plain bulk insert of the same rows into the same tables,
measured in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/campaign.py                          # 1,000,000 customers, both
    .venv/bin/python bench/campaign.py --db sqlite --customers 100000

The service path is what the console's Send does: ``start_campaign`` (the estimate walks every
affected customer: consent, channel, tier, cost against the budget) and ``run_campaign`` (in
chunks of ``RECOVERY_CHUNK_SIZE``, each one transaction: read the customers, decide channel
and terms, mint codes with their check character, insert the codes, the offers and the outbox
messages with the quiet-hours due time, move the cursor). The reference inserts the same three
rows per customer (code, offer, outbox message) with the same multi-row INSERT helper
(``tideover.sales.bulk.insert_rows``), in the same chunk transactions, from values it does not
have to read, decide or check (codes numbered, not random). The reference runs first; its rows
are then deleted and the service runs on the same customers. Goal: under 60 s for the million
and at least 50% of the reference's rate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/tideover_bench_campaign"


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


def reference(incident, chunk: int) -> int:
    """The same rows (code, offer, outbox message per customer), inserted plainly."""
    from django.db import transaction
    from django.utils import timezone

    from tideover.loyalty.models import Reward
    from tideover.notifications.models import OutboxMessage
    from tideover.recovery.campaign import OFFER_FIELDS
    from tideover.recovery.models import AffectedCustomer, GoodwillOffer
    from tideover.sales.bulk import insert_rows

    now = timezone.now()
    until = now + timedelta(days=30)
    ids = list(
        AffectedCustomer.objects.filter(incident=incident)
        .order_by("pk")
        .values_list("pk", "phone_e164", "email")
    )
    reward_fields = ["member", "kind", "code", "value_cents", "percent_off", "min_spend_cents",
                     "points", "source", "issued_at", "valid_from", "expires_at",
                     "redeemed_sale_id", "redeemed_store"]  # fmt: skip
    outbox_fields = ["channel", "recipient", "category", "incident_id", "subject", "body",
                     "dedupe_key", "state", "attempts", "next_attempt_at", "claim_token",
                     "provider_message_id", "last_error", "created_at"]  # fmt: skip
    body = "We're sorry. $5.00 off a purchase of $25.00 or more with code {}."
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        with transaction.atomic():
            codes = [f"REF{pk:09d}" for pk, _, _ in part]
            reward_ids = insert_rows(
                Reward, reward_fields,
                [(None, "goodwill", c, 500, 0, 2500, 0, "bench", now, now, until, "", "")
                 for c in codes],
                returning=True,
            )  # fmt: skip
            keys = [f"ref:{incident.pk}:{pk}" for pk, _, _ in part]
            insert_rows(
                GoodwillOffer, OFFER_FIELDS,
                [(incident.pk, pk, rid, c, "$5.00 off", 500, 0, False,
                  "sms" if phone else "email", key, "America/Chicago", now, "bench")
                 for (pk, phone, _), rid, c, key in zip(part, reward_ids, codes, keys, strict=True)],
            )  # fmt: skip
            insert_rows(
                OutboxMessage, outbox_fields,
                [("sms" if phone else "email", phone or email, "marketing", incident.pk,
                  "We're sorry", body.format(c), key, "queued", 0, now, "", "", "", now)
                 for (_, phone, email), c, key in zip(part, codes, keys, strict=True)],
            )  # fmt: skip
    return len(ids)


def clear(incident) -> None:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM recovery_goodwilloffer")
        cursor.execute("DELETE FROM recovery_campaign")
        cursor.execute("DELETE FROM notifications_outboxmessage")
        cursor.execute("DELETE FROM loyalty_reward")
        cursor.execute("UPDATE recovery_affectedcustomer SET holdout = %s", [False])


def run_one(db: str, args) -> dict:
    """In a child process whose DATABASE_URL points at a fresh database."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    os.environ.setdefault("NOTIFY_QUIET_HOURS", "21:00-08:00")
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tideover.core.actors import Actor
    from tideover.notifications.models import OutboxMessage
    from tideover.recovery.campaign import run_campaign, start_campaign

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    incident = seed(args.customers)
    seeded = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    chunk = args.chunk
    started = time.perf_counter()
    reference(incident, chunk)
    reference_s = time.perf_counter() - started
    assert OutboxMessage.objects.count() == args.customers
    clear(incident)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    started = time.perf_counter()
    campaign = start_campaign(incident, actor=Actor(name="bench"))
    estimate_s = time.perf_counter() - started
    campaign = run_campaign(campaign, chunk_size=chunk)
    service_s = time.perf_counter() - started
    assert campaign.state == "done" and campaign.offers == args.customers, campaign.skipped
    assert OutboxMessage.objects.count() == args.customers
    return {
        "db": db,
        "customers": args.customers,
        "chunk": chunk,
        "seed_s": round(seeded, 1),
        "service_s": round(service_s, 1),
        "of_which_estimate_s": round(estimate_s, 1),
        "reference_s": round(reference_s, 1),
        "service_per_s": round(args.customers / service_s),
        "reference_per_s": round(args.customers / reference_s),
        "ratio": round(reference_s / service_s, 3),
    }


def database_url(db: str, tmp: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS tideover_bench_campaign")
        conn.execute("CREATE DATABASE tideover_bench_campaign")
    return PG_URL


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=5000, help="customers per transaction")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    results = []
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DATABASE_URL": database_url(db, tmp), "TIDEOVER_DATA_DIR": tmp}
            out = subprocess.run(
                [sys.executable, __file__, "--child", db, *sys.argv[1:]],
                env=env, cwd=ROOT, capture_output=True, text=True,
            )  # fmt: skip
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return out.returncode
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.customers:,} affected customers, chunks of {args.chunk:,}")
    print(f"{'db':<10}{'service s':>10}{'(estimate)':>11}{'reference s':>13}{'ratio':>8}")
    for r in results:
        print(
            f"{r['db']:<10}{r['service_s']:>10}{r['of_which_estimate_s']:>11}"
            f"{r['reference_s']:>13}{r['ratio']:>8.0%}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
