"""What one statement's round trip to PostgreSQL costs, against the per-e-mail mark's shape.

    .venv/bin/python bench/pg_round_trip.py                  # 20,000 of each, 2 rounds in turns

On one connection to a fresh database (as a delivering worker's: autocommit,
``synchronous_commit`` off), each round runs, in turns, a prepared ``SELECT 1`` (the reference:
a round trip that does nothing) and a prepared two-row update shaped like
``delivery.SENT_AND_NEXT_SENDING`` (one row's 'sent', the next row's 'sending', on a table with
half-full pages so every update is heap-only). Printed per statement: wall time, this process's
CPU and the server process's CPU (read from /proc for the connection's backend). What the
update costs beyond the reference is the statement's own work; the rest is the round trip,
which only fewer statements could save.
"""

from __future__ import annotations

import argparse
import os
import time

from fresh_db import database_url

NAME = "tideover_bench_round_trip"
UPDATE = (
    "UPDATE marks SET state = CASE WHEN id = $1 THEN 'sent' ELSE 'sending' END, "
    "attempts = CASE WHEN id = $2 THEN attempts + 1 ELSE attempts END, "
    "sent_at = CASE WHEN id = $1 THEN now() ELSE sent_at END "
    "WHERE id = $1 OR (id = $2 AND state = 'claimed')"
)


def backend_cpu(pid: int) -> float:
    """User plus system CPU seconds of the server process ``pid``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    import psycopg

    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    count = args.statements
    url = database_url("postgres", "", NAME)
    with psycopg.connect(url, autocommit=True) as conn:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute(
            "CREATE TABLE marks (id bigint PRIMARY KEY, state text, attempts int, "
            "sent_at timestamptz) WITH (fillfactor = 50)"
        )
        conn.execute(
            "INSERT INTO marks SELECT g, 'claimed', 0, NULL FROM generate_series(1, %s) g",
            [count * args.rounds + 1],
        )
        conn.execute("VACUUM ANALYZE marks")
        conn.execute("SET synchronous_commit TO off")
        pgconn = conn.pgconn
        pgconn.prepare(b"reference", b"SELECT 1")
        pgconn.prepare(b"mark", UPDATE.encode())
        results: dict[str, list[tuple[float, float, float]]] = {"reference": [], "mark": []}
        first = 1
        for _ in range(args.rounds):
            for name in ("reference", "mark"):
                server, client, wall = backend_cpu(pid), time.process_time(), time.perf_counter()
                for i in range(first, first + count):
                    if name == "mark":
                        pgconn.exec_prepared(b"mark", [str(i).encode(), str(i + 1).encode()])
                    else:
                        pgconn.exec_prepared(b"reference", [])
                results[name].append(
                    (
                        (time.perf_counter() - wall) / count * 1e6,
                        (time.process_time() - client) / count * 1e6,
                        (backend_cpu(pid) - server) / count * 1e6,
                    )
                )
            first += count
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {NAME}")
    print(f"{count:,} statements x {args.rounds} rounds in turns; per statement (rounds):")
    print(f"{'statement':<34}{'wall us':>16}{'client CPU us':>22}{'server CPU us':>22}")
    for name, label in (("reference", "SELECT 1 (the round trip)"), ("mark", "two-row mark")):
        rows = results[name]
        columns = [", ".join(f"{row[i]:.0f}" for row in rows) for i in range(3)]
        print(f"{label:<34}{columns[0]:>16}{columns[1]:>22}{columns[2]:>22}")


if __name__ == "__main__":
    main()
