"""The store agent, each figure against its reference measured in the same run.

    .venv/bin/python bench/agent.py                       # everything (~5-10 min)
    .venv/bin/python bench/agent.py --only accept         # accept, drain or memory
    .venv/bin/python bench/agent.py --only drain --db sqlite --drain-sales 20000
    .venv/bin/python bench/agent.py --only drain --db sqlite --in-flight 1,2   # before/after

1. **accept**: sales/s one ``tideover agent run`` process accepts durably (committed with
   synchronous=FULL before it answers), posted by ``--registers`` register threads over HTTP
   keep-alive, one sale per request, HQ out of reach (offline: nothing else running).
   Reference: the same rows (the sale's JSON, id, hash) inserted into a bare SQLite file in WAL
   mode with synchronous=FULL, one synced commit per row, from one thread, no HTTP.
   Goal: >= 500 sales/s and >= 50% of the reference.
2. **drain**: sales/s a backlog of ``--drain-sales`` queued sales reaches HQ (HQ under its
   production server command, on SQLite and PostgreSQL; the agent's forwarder in batches of
   ``--batch-size``, ``--in-flight`` requests at a time; with several values, one drain each
   with its own sales and members, against the one reference). Reference: bench/ingest.py's direct path, ``post_sales`` in batches of 500 in one
   process, over the same sales (other ids) into the same database. Goal: >= 70% of it.
3. **memory**: peak resident memory (VmHWM) of ``tideover agent run`` holding
   ``--queued`` unsent sales while it keeps accepting and tries HQ. Goal: < 200 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import make_sales  # noqa: E402
from tideover.agent.harness import free_port, kill, start_agent, start_hq  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/tideover_bench_agent"
MEMBERS = 20_000
# Registers should send with TCP_NODELAY: otherwise a request's body waits for the ACK of its
# headers (Nagle) while the agent delays that ACK, ~40 ms a request.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


# --- 1. accept ----------------------------------------------------------------------------
def _payloads(count: int, tag: str) -> list[dict]:
    sales = make_sales(count, MEMBERS, ["B001"], random.Random(3), tag)
    for sale in sales:
        sale["store"] = "B001"
    return sales


def reference_accept(sales: list[dict], folder: Path) -> float:
    """One synced commit per row into a bare SQLite file: the durable-write ceiling."""
    from tideover.sales.schemas import SaleIn, content_hash

    db = sqlite3.connect(folder / "reference.sqlite3", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE sales (seq INTEGER PRIMARY KEY, sale_id TEXT UNIQUE, hash TEXT,"
        " payload TEXT, accepted_at REAL)"
    )
    rows = []
    for raw in sales:  # the same bytes the agent stores, prepared outside the timing
        sale = SaleIn.model_validate(raw)
        rows.append((sale.sale_id, content_hash(sale), sale.model_dump_json(by_alias=True)))
    started = time.perf_counter()
    for sale_id, digest, payload in rows:
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO sales (sale_id, hash, payload, accepted_at) VALUES (?, ?, ?, ?)",
            (sale_id, digest, payload, time.time()),
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return len(rows) / elapsed


def agent_accept(sales: list[dict], url: str, registers: int) -> float:
    """Sales/s the agent answered "accepted", from ``registers`` threads posting one sale at a
    time over kept-alive connections. The client is the standard library's http.client, not
    httpx: registers are other machines, and on this shared box httpx's ~1 ms of CPU a request
    (twice the agent's own cost) would be taken from the agent being measured."""
    import http.client
    from urllib.parse import urlsplit

    host, port = urlsplit(url).hostname, urlsplit(url).port
    chunks = [sales[i::registers] for i in range(registers)]
    bodies = [[json.dumps(sale).encode() for sale in chunk] for chunk in chunks]
    errors = []

    def register(chunk):
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.connect()
        conn.sock.setsockopt(*NODELAY[0])
        headers = {"Content-Type": "application/json"}
        try:
            for body in chunk:
                conn.request("POST", "/api/v1/sales", body=body, headers=headers)
                answer = json.loads(conn.getresponse().read())
                if answer["result"] != "accepted":
                    errors.append(answer)
        finally:
            conn.close()

    threads = [threading.Thread(target=register, args=(b,)) for b in bodies]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not errors, errors[:3]
    return len(sales) / elapsed


def bench_accept(args) -> dict:
    agent_rates, reference_rates = [], []
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start_agent(
            store="B001",
            hq=f"http://127.0.0.1:{free_port()}",  # nobody there: offline, nothing forwarded
            token="unused",
            data=f"{tmp}/agent",
            port=port,
        )
        try:
            for round_no in range(args.rounds + 1):  # round 0 warms up, not counted
                sales = _payloads(args.accept_sales, f"A{round_no}")
                rate = agent_accept(sales, f"http://127.0.0.1:{port}", args.registers)
                folder = Path(tmp) / f"ref{round_no}"
                folder.mkdir()
                reference = reference_accept(_payloads(args.accept_sales, f"R{round_no}"), folder)
                if round_no:
                    agent_rates.append(rate)
                    reference_rates.append(reference)
        finally:
            kill(proc)
    agent, reference = statistics.median(agent_rates), statistics.median(reference_rates)
    return {
        "agent_sales_per_s": round(agent),
        "reference_sales_per_s": round(reference),
        "ratio": round(agent / reference, 3),
        "agent_rounds": [round(r) for r in agent_rates],
        "reference_rounds": [round(r) for r in reference_rates],
    }


# --- 2. drain -----------------------------------------------------------------------------
def drain_child(args) -> dict:
    """In a process whose DATABASE_URL is a fresh database: set up HQ's data, measure the
    direct path, then serve HQ with the real server command and drain an agent into it."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tideover.settings")
    django.setup()
    from django.core.management import call_command

    from tideover.agent.config import AgentConfig
    from tideover.agent.journal import NewSale
    from tideover.agent.service import Agent
    from tideover.core.models import Region, Store
    from tideover.core.services import create_api_token
    from tideover.loyalty.demo import seed_members
    from tideover.sales.schemas import SaleIn, content_hash
    from tideover.sales.services import post_sales

    call_command("migrate", verbosity=0)
    region = Region.objects.create(name="Bench", slug="bench")
    store = Store.objects.create(code="B001", name="B001", region=region)
    # A set of 20,000 members for the reference and one for each drain: members who already
    # earned points in the reference would cross reward thresholds more often in the drain,
    # which then issues (and tells about) more rewards than the reference did.
    in_flights = [int(n) for n in str(args.in_flight).split(",")]
    seed_members((1 + len(in_flights)) * MEMBERS, opening_share=0.0)
    # The scopes docs/agent.md gives an agent's token: with two in flight the agent asks HQ for
    # the balance of a member in both batches (loyalty:read).
    _, token = create_api_token(
        name="bench agent", scopes=["sales:write", "loyalty:read"], store=store
    )
    count = args.drain_sales
    load_at_start = _loadavg()

    # Reference: the direct path of bench/ingest.py over the same kind of sales.
    direct = _payloads(count, "D")
    started = time.perf_counter()
    for i in range(0, count, 500):
        results = post_sales(direct[i : i + 500])
        assert all(r.result == "posted" for r in results), results[0]
    reference = count / (time.perf_counter() - started)

    tmp = os.environ["TIDEOVER_DATA_DIR"]
    hq_port = free_port()
    hq = start_hq(hq_port, dict(os.environ), workers=2)
    drains = []
    try:
        for number, in_flight in enumerate(in_flights, start=1):
            queued = _payloads(count, f"Q{number}")
            for sale in queued:
                if sale["member_id"]:
                    sale["member_id"] = f"M{int(sale['member_id'][1:]) + number * MEMBERS:07d}"
            config = AgentConfig(
                store="B001",
                hq=f"http://127.0.0.1:{hq_port}",
                token=token,
                data=f"{tmp}/agent{number}",
                batch_size=args.batch_size,
                in_flight=in_flight,
            ).check()
            agent = Agent(config)
            # Fill the backlog directly (how it got there is bench 1).
            for i in range(0, count, 5000):
                rows = []
                for raw in queued[i : i + 5000]:
                    sale = SaleIn.model_validate(raw)
                    rows.append(
                        NewSale(
                            sale.sale_id,
                            content_hash(sale),
                            sale.model_dump_json(by_alias=True),
                            sale.occurred_at.isoformat(),
                            sale.member_id,
                            0,
                            0,
                        )
                    )
                agent.journal.insert(rows)
            started = time.perf_counter()
            counts = agent.forwarder.drain()
            elapsed = time.perf_counter() - started
            # Seconds the forwarder waited for HQ's answers: the rest is the agent's own work.
            waited = agent.forwarder.waited_seconds
            refreshed = agent.forwarder.balances_refreshed
            agent.stop()
            assert counts.get("posted") == count, counts
            drains.append(
                {
                    "in_flight": in_flight,
                    "agent_drain_sales_per_s": round(count / elapsed),
                    "ratio": round(count / elapsed / reference, 3),
                    "agent_share": round(1 - waited / elapsed, 3),
                    # Members in two batches in flight at once, their balance asked for again.
                    "balances_refreshed": refreshed,
                    "loadavg": _loadavg(),
                }
            )
    finally:
        kill(hq)
    return {
        "db": args.child,
        "reference_sales_per_s": round(reference),
        "batch_size": args.batch_size,
        "loadavg_at_start": load_at_start,
        "drains": drains,
    }


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench_drain(args) -> list[dict]:
    results = []
    for db in ("sqlite", "postgres") if args.db == "both" else (args.db,):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DATABASE_URL": _database_url(db, tmp), "TIDEOVER_DATA_DIR": tmp}
            out = subprocess.run(
                [sys.executable, __file__, "--child", db, *sys.argv[1:]],
                env=env,
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                raise SystemExit(out.returncode)
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def _database_url(db: str, tmp: str) -> str:
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    import psycopg

    with psycopg.connect(PG_URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS tideover_bench_agent")
        conn.execute("CREATE DATABASE tideover_bench_agent")
    return PG_URL


# --- 3. memory ----------------------------------------------------------------------------
def bench_memory(args) -> dict:
    import httpx

    from tideover.agent.journal import Journal, NewSale

    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "agent" / "agent.sqlite3")
        template = _payloads(1, "T")[0]
        payload = json.dumps(template)
        for i in range(0, args.queued, 20_000):
            journal.insert(
                [
                    NewSale(
                        f"B001-M{n:09d}", "0" * 64, payload, template["occurred_at"], None, 0, 0
                    )
                    for n in range(i, min(args.queued, i + 20_000))
                ]
            )
        journal.close()
        port = free_port()
        proc = start_agent(
            store="B001",
            hq=f"http://127.0.0.1:{free_port()}",
            token="unused",
            data=f"{tmp}/agent",
            port=port,
            env={
                "TIDEOVER_AGENT_HEARTBEAT_SECONDS": "1",
                "TIDEOVER_AGENT_BACKOFF_MAX_SECONDS": "1",
            },
        )
        try:
            url = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=url, trust_env=False, timeout=60) as client:
                for sale in _payloads(2000, "X"):
                    client.post("/api/v1/sales", json=sale)
                status = client.get("/api/v1/agent/status").json()
                client.get("/")
            time.sleep(3)  # heartbeats and forwarding attempts against the missing HQ
            peak_kb = _vm(proc.pid, "VmHWM")
            rss_kb = _vm(proc.pid, "VmRSS")
        finally:
            kill(proc)
    return {
        "queued": status["queue_depth"],
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_mb": round(rss_kb / 1024, 1),
    }


def _vm(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["accept", "drain", "memory"])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--accept-sales", type=int, default=3000)
    parser.add_argument("--registers", type=int, default=8)
    parser.add_argument("--drain-sales", type=int, default=100_000)
    parser.add_argument("--queued", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=500, help="drain: the agent's batch")
    parser.add_argument(
        "--in-flight",
        default="2",
        help="drain: batches in flight (1: one at a time); several, e.g. 1,2: one drain each, "
        "against the same reference",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(drain_child(args)))
        return 0
    report = {}
    if args.only in (None, "accept"):
        r = report["accept"] = bench_accept(args)
        print(
            f"accept: agent {r['agent_sales_per_s']:,} sales/s durably over HTTP "
            f"({args.registers} registers), reference {r['reference_sales_per_s']:,} synced "
            f"commits/s; {r['ratio']:.0%} (goal >= 500/s and >= 50%)"
        )
    if args.only in (None, "drain"):
        report["drain"] = bench_drain(args)
        for r in report["drain"]:
            print(
                f"drain {r['db']}: reference (post_sales direct) {r['reference_sales_per_s']:,}"
                f" sales/s; load average at the start {r['loadavg_at_start']}"
            )
            for d in r["drains"]:
                print(
                    f"  agent -> HQ, batches of {r['batch_size']}, {d['in_flight']} in flight: "
                    f"{d['agent_drain_sales_per_s']:,} sales/s, {d['ratio']:.0%} of the reference "
                    f"(goal >= 70%); the agent waited for HQ {1 - d['agent_share']:.0%} of the "
                    f"time; {d['balances_refreshed']:,} balances asked for again; load average "
                    f"after it {d['loadavg']}"
                )
    if args.only in (None, "memory"):
        r = report["memory"] = bench_memory(args)
        print(
            f"memory: agent holding {r['queued']:,} queued sales, peak RSS "
            f"{r['peak_rss_mb']} MB (goal < 200 MB)"
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
