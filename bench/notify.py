"""Outbox delivery: an update to 100,000 subscribers, queued and sent to local SMTP and webhook
servers, against a bare loop sending the same messages, in the same run, on SQLite and PostgreSQL.

    .venv/bin/python bench/notify.py                       # both databases, 100,000 subscribers
    .venv/bin/python bench/notify.py --db sqlite --subscribers 20000 --workers 2
    .venv/bin/python bench/notify.py --backend both --subscribers 20000   # through `tideover worker`
    .venv/bin/python bench/notify.py --db sqlite --subscribers 20000 --rounds 5   # median of 5

Measures, per database:
- queue time: from calling ``post_public_update`` (one update to every subscriber) to its
  transaction committed with every outbox row written (target: 100,000 in < 10 s);
- delivery: messages/s from the first to the last message sent by ``--workers`` worker processes
  (``tideover manage deliver_outbox``) draining the outbox: claim, mark sending, render, send,
  mark sent (target: >= 1,000/s);
  With ``--backend database|rq|both`` the workers are ``tideover worker`` processes on that task
  backend instead (RQ on the local Redis, database ``--redis-db``, 14 unless told), woken by the update's own tasks and the
  periodic drain, as a deployment runs them;
- reference: a bare loop sending the same messages (same recipients, same rendered bodies) over
  one SMTP connection and one keep-alive HTTP client, with no database, run with the same number
  of processes, timed the same way: from the first message sent to the last.
Half the subscribers are e-mail, half webhooks. The receivers run in their own process on
127.0.0.1 and serve the outbox and the reference alike: by default bench/receivers.py (a lean
asyncio SMTP server and webhook receiver that verifies every signature and counts repeats, so
the bench also checks that every message arrived once); ``--receivers stock`` uses the tests'
aiosmtpd and http.server sinks instead, as the earlier figures did.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from notify_bare import SECRET, bare_loop
from notify_meters import (
    children_cpu,
    print_checks,
    start_receivers,
)
from notify_rounds import bare_round, declare_outage, outbox_round, queue_again, settle

ROOT = Path(__file__).resolve().parent.parent
PG_URL = "postgresql://postgres@127.0.0.1:5432/tideover_bench_notify"


def inner(args) -> dict:
    """Runs with DATABASE_URL and the sink ports already in the environment."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.db import connection

    from tideover.incidents import services as incidents
    from tideover.notifications.models import OutboxMessage

    incident, seeded = declare_outage(
        args.subscribers, f"http://127.0.0.1:{os.environ['BENCH_HTTP_PORT']}/hook", SECRET
    )
    OutboxMessage.objects.all().delete()  # time the update alone, not the declaration
    # What starting a worker costs in CPU (an empty outbox), to leave out of its CPU per message.
    env = {**os.environ, "NOTIFY_ENQUEUE_TASKS": "false"}
    with children_cpu() as startup:
        subprocess.run(
            [sys.executable, "-m", "tideover", "manage", "deliver_outbox", "--until-empty"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            check=True,
        )
    started = time.perf_counter()
    incidents.post_public_update(incident, "Registers are offline in 150 stores; cash works.")
    queued_seconds = time.perf_counter() - started
    queued = OutboxMessage.objects.count()

    # The reference sends the same rendered messages with no database in between.
    from tideover.notifications.rendering import render

    rendered = [
        render(m)
        for m in OutboxMessage.objects.select_related("notification", "subscriber").order_by("pk")
    ]
    connection.close()
    with children_cpu() as bare_startup:
        subprocess.run(
            [sys.executable, __file__, "--bare-loop"], input=b"[]", cwd=ROOT, env=env, check=True
        )
    rounds = []
    for number in range(args.rounds):
        if number:
            queue_again(args.backend)
        # Every other round the bare loop goes first, so neither side always meets the
        # machine later (noisy neighbours, a warmer page cache).
        bare_first = number % 2 == 1
        if bare_first:
            settle()
            bare = bare_round(args, env, rendered, bare_startup.seconds)
        settle()
        outbox = outbox_round(args, env, startup.seconds)
        if not bare_first:
            settle()
            bare = bare_round(args, env, rendered, bare_startup.seconds)
        rounds.append({**outbox, **bare, "ratio": outbox["deliver_per_s"] / bare["bare_per_s"]})
    # The round with the median ratio stands for the run (the lower middle one of an even
    # number); every round is printed, with what the receivers counted in it.
    middle = sorted(rounds, key=lambda r: r["ratio"])[(len(rounds) - 1) // 2]
    return {
        "db": connection.vendor,
        "subscribers": args.subscribers,
        "seed_s": round(seeded, 2),
        "queued": queued,
        "queue_s": round(queued_seconds, 2),
        **middle,
        "rounds": rounds,
    }


def run(db: str, args, backend: str = "none") -> dict:
    receivers, smtp_port, http_port = start_receivers(args.receivers)
    tmp = tempfile.mkdtemp(prefix="tideover-bench-notify-")
    if db == "sqlite":
        url = f"sqlite:///{tmp}/bench.sqlite3"
    else:
        subprocess.run(
            [
                "dropdb",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "--if-exists",
                PG_URL.rsplit("/", 1)[1],
            ],
            check=True,
        )
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", PG_URL.rsplit("/", 1)[1]], check=True
        )
        url = PG_URL
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TIDEOVER_DATA_DIR": tmp,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "BENCH_HTTP_PORT": str(http_port),
        "BENCH_RECEIVERS": args.receivers,
        "BENCH_BARE_MAIL": args.bare_mail,
        **({"BENCH_PROFILE": os.path.abspath(args.profile)} if args.profile else {}),
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "NOTIFY_ENQUEUE_TASKS": "false" if backend == "none" else "true",
        "LOG_LEVEL": "WARNING",
    }
    if args.batch_size:
        env["NOTIFY_BATCH_SIZE"] = str(args.batch_size)
    if backend == "rq":
        import redis

        rq_url = f"redis://127.0.0.1:6379/{args.redis_db}"
        redis.Redis.from_url(rq_url).flushdb()
        env.update(TASKS_BACKEND="rq", REDIS_URL=rq_url)
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--inner",
                "--subscribers",
                str(args.subscribers),
                "--workers",
                str(args.workers),
                "--backend",
                backend,
                "--rounds",
                str(args.rounds),
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        if out.returncode:
            sys.exit(out.stderr[-3000:])
    finally:
        for process in receivers:
            process.terminate()
            process.wait(10)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--backend",
        choices=["none", "database", "rq", "both"],
        default="none",
        help="none: `tideover manage deliver_outbox`; otherwise `tideover worker` on that backend",
    )
    parser.add_argument(
        "--batch-size", type=int, default=0, help="NOTIFY_BATCH_SIZE for the workers"
    )
    parser.add_argument(
        "--redis-db", type=int, default=14, help="Redis database for --backend rq (flushed)"
    )
    parser.add_argument(
        "--receivers",
        choices=["lean", "stock"],
        default="lean",
        help="lean: bench/receivers.py; stock: the tests' aiosmtpd and http.server sinks",
    )
    parser.add_argument(
        "--bare-mail",
        choices=["django", "stdlib"],
        default="django",
        help="how the bare loop builds e-mails: Django's mail classes (as the outbox) or the "
        "standard library's EmailMessage (the reference before 2026-11-30 07:00)",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="backend none: each worker's CPU profile (cProfile, process time) into DIR as "
        "worker-<n>.prof, and each bare-loop process's as bare-<pid>.prof",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="send the same messages this many times, outbox and bare loop in turns (the bare "
        "loop first every other round); the round with the median ratio is the run's figure",
    )
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--bare-loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_loop:
        return bare_loop()
    if args.inner:
        print(json.dumps(inner(args)))
        return None
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"{args.subscribers:,} subscribers (half e-mail, half webhook), {args.workers} worker process(es)"
    )
    backends = ["database", "rq"] if args.backend == "both" else [args.backend]
    print(
        f"{'db':<11}{'backend':<10}{'queue s':>9}{'sent':>9}{'deliver s':>11}{'msg/s':>9}"
        f"{'bare msg/s':>12}{'ratio':>8}  load average (1 min, start -> end)"
    )
    for db in dbs:
        for backend in backends:
            load = os.getloadavg()[0]
            r = run(db, args, backend)
            print(
                f"{r['db']:<11}{backend:<10}{r['queue_s']:>9.2f}{r['sent']:>9,}"
                f"{r['deliver_s']:>11.1f}{r['deliver_per_s']:>9,}{r['bare_per_s']:>12,}"
                f"{r['ratio']:>8.0%}  {load:.1f} -> {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            print_checks(r)
            if len(r["rounds"]) > 1:
                print(f"{'':<11}rounds (outbox msg/s / bare msg/s, CPU ms per message):")
                for number, each in enumerate(r["rounds"], 1):
                    first = "bare loop first" if number % 2 == 0 else "outbox first"
                    got = each["received"] or {}
                    print(
                        f"{'':<13}{number}. {each['deliver_per_s']:,} / {each['bare_per_s']:,} "
                        f"= {each['ratio']:.0%}  (CPU {each['cpu_ms']:.3f} / "
                        f"{each['bare_cpu_ms']:.3f}; {first}; received "
                        f"{got.get('mails', '?')} + {got.get('webhooks', '?')}, repeated "
                        f"{got.get('mail_duplicates', 0) + got.get('webhook_duplicates', 0)}, "
                        f"refused {got.get('refused', 0)})"
                    )
    return None


if __name__ == "__main__":
    main()
