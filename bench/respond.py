"""The commander's progress page for 2,000 stores: render time and query count, against a
reference that reads the same rows with one raw query and joins them into HTML by hand,
measured in the same run on the same rows, on SQLite and PostgreSQL.

    .venv/bin/python bench/respond.py                  # both databases
    .venv/bin/python bench/respond.py --db sqlite --stores 2000 --rounds 15

The chain has ``--stores`` stores in 8 regions; a SEV1 on in-store checkout for all stores
hands the shipped runbook's Plan B to every store (the fan-out is timed too). Then 60% of the
stores acknowledge, 40% finish every step and 2% are stuck, as in an outage under way. The page
is fetched through Django's test client as a logged-in commander (the whole request: session,
role check, queries, template). The query count is taken at a tenth of the stores and at all of
them: it must not grow. The target (DESIGN.md): under 300 ms with a constant number of queries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from fresh_db import run_children

ROOT = Path(__file__).resolve().parent.parent

REFERENCE_SQL = """
SELECT c.id, s.code, s.name, r.name, c.issued_at, c.acknowledged_at, c.done_at, c.stuck_at,
       c.steps_total, c.steps_done
FROM runbooks_checklist c JOIN core_store s ON s.id = c.store_id
JOIN core_region r ON r.id = s.region_id
WHERE c.incident_id = %s AND c.superseded_at IS NULL ORDER BY s.code
"""


def reference_page(incident_id: int) -> str:
    """The same rows, one query, joined into a table by hand: the floor for this page."""
    from django.db import connection
    from django.utils.html import escape

    with connection.cursor() as cursor:
        cursor.execute(REFERENCE_SQL, [incident_id])
        rows = cursor.fetchall()
    cells = [
        f"<tr><td>{escape(code)} {escape(name)}</td><td>{escape(region)}</td><td>{done}/{total}</td>"
        f"<td>{ack or '—'}</td><td>{fin or '—'}</td></tr>"
        for _, code, name, region, _, ack, fin, _, total, done in rows
    ]
    return "<table>" + "".join(cells) + "</table>"


def _work_the_plan(incident, share_ack: float, share_done: float, share_stuck: float) -> None:
    from django.db.models import F
    from django.utils import timezone

    from tideover.runbooks.models import Checklist, ChecklistStep

    now = timezone.now()
    ids = list(
        Checklist.objects.filter(incident=incident, store__isnull=False)
        .order_by("store__code")
        .values_list("pk", flat=True)
    )
    acked = ids[: int(len(ids) * share_ack)]
    done = ids[: int(len(ids) * share_done)]
    stuck = ids[-int(len(ids) * share_stuck) :] if share_stuck else []
    Checklist.objects.filter(pk__in=acked).update(acknowledged_at=now, acknowledged_by="bench")
    Checklist.objects.filter(pk__in=done).update(done_at=now, steps_done=F("steps_total"))
    ChecklistStep.objects.filter(checklist_id__in=done).update(done_at=now, done_by="bench")
    Checklist.objects.filter(pk__in=stuck).update(stuck_at=now, stuck_note="float running low")


def run_one(db: str, args) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tideover.core.models import Component, ComponentStatus, Region, Store
    from tideover.core.roles import Role
    from tideover.core.services import ensure_role_groups, grant_role
    from tideover.incidents import services as incidents
    from tideover.incidents.models import Severity
    from tideover.incidents.services import ensure_default_severities

    call_command("migrate", verbosity=0)
    ensure_default_severities()
    ensure_role_groups()
    regions = [Region.objects.create(name=f"Region {n}", slug=f"r{n}") for n in range(8)]
    Store.objects.bulk_create(
        [
            Store(code=f"S{n:04d}", name=f"Store {n}", region=regions[n % 8])
            for n in range(args.stores)
        ]
    )
    checkout = Component.objects.create(name="In-store checkout", slug="in-store-checkout")
    commander = get_user_model().objects.create_user("bench.commander", "", "x")
    grant_role(commander, Role.INCIDENT_COMMANDER)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(commander)

    def declare(**scope):
        started = time.perf_counter()
        incident = incidents.declare_incident(
            title="Registers cannot reach HQ",
            severity=Severity.objects.get(level=1),
            components={checkout: ComponentStatus.MAJOR_OUTAGE},
            **scope,
        )
        return incident, time.perf_counter() - started

    small, _ = declare(regions=[regions[0]])
    full, fan_out_seconds = declare(all_stores=True)
    for incident in (small, full):
        _work_the_plan(incident, 0.6, 0.4, 0.02)

    def page_queries(incident) -> int:
        url = f"/console/respond/incidents/{incident.pk}/"
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, response.status_code
        return len(captured)

    queries_small, queries_full = page_queries(small), page_queries(full)
    page_ms, reference_ms = [], []
    url = f"/console/respond/incidents/{full.pk}/"
    for _ in range(args.rounds):
        started = time.perf_counter()
        response = client.get(url)
        page_ms.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
        started = time.perf_counter()
        reference_page(full.pk)
        reference_ms.append((time.perf_counter() - started) * 1000)
    return {
        "db": db,
        "stores": args.stores,
        "fan_out_s": round(fan_out_seconds, 2),
        "queries_at_tenth": queries_small,
        "queries_at_all": queries_full,
        "page_ms_median": round(statistics.median(page_ms), 1),
        "page_ms_max": round(max(page_ms), 1),
        "reference_ms_median": round(statistics.median(reference_ms), 1),
        "page_bytes": len(response.content),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--stores", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args)))
        return 0
    results = run_children(args.db, "tideover_bench_respond", __file__, ROOT)
    if isinstance(results, int):
        return results
    print(f"progress page, {args.stores} stores, median of {args.rounds} requests")
    print(
        f"{'db':<10}{'fan-out s':>10}{'queries 1/10':>14}{'queries all':>13}"
        f"{'page ms':>10}{'max ms':>9}{'reference ms':>14}"
    )
    for r in results:
        print(
            f"{r['db']:<10}{r['fan_out_s']:>10}{r['queries_at_tenth']:>14}{r['queries_at_all']:>13}"
            f"{r['page_ms_median']:>10}{r['page_ms_max']:>9}{r['reference_ms_median']:>14}"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
