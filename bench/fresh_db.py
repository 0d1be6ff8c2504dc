"""The database a benchmark's child process runs on, made afresh for each run (a file in the
run's temporary folder for SQLite, or a new database on the local PostgreSQL server), the
loop that runs the benchmark's child once per database, and the rounds in turns of a bench
that sets today's code against the code before."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


def database_url(db: str, tmp: str, name: str) -> str:
    """``db`` is "sqlite" or "postgres"; ``name`` the PostgreSQL database (dropped first)."""
    if db == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"{PG_SERVER}/{name}"


def run_children(choice: str, name: str, script: str, root) -> list[dict] | int:
    """Run ``script --child DB`` with this run's arguments once per database of ``choice``
    ("sqlite", "postgres" or "both"), each on a fresh database, and return the last line each
    printed, read as JSON; a child that fails has its error output printed and its exit code
    returned instead."""
    results = []
    for db in ("sqlite", "postgres") if choice == "both" else (choice,):
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "DATABASE_URL": database_url(db, tmp, name),
                "TIDEOVER_DATA_DIR": tmp,
            }
            out = subprocess.run(
                [sys.executable, script, "--child", db, *sys.argv[1:]],
                env=env, cwd=root, capture_output=True, text=True,
            )  # fmt: skip
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return out.returncode
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def run_inner_on_postgres(name: str, script: str, root, **extra_env: str) -> None:
    """Run ``script --inner`` with this run's arguments on a fresh PostgreSQL database ``name``,
    its output shown as it comes; a child that fails stops the run."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url("postgres", "", name),
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    command = [sys.executable, script, "--inner", *sys.argv[1:]]
    subprocess.run(command, env=env, cwd=root, check=True)


def in_turns(rounds: int, run) -> dict[str, list[dict]]:
    """``run("today")`` and ``run("before")`` ``rounds`` times each, which goes first
    alternating, so that neither always meets the machine later; each one's results by round."""
    results: dict[str, list[dict]] = {"today": [], "before": []}
    for number in range(rounds):
        for way in ("today", "before") if number % 2 == 0 else ("before", "today"):
            results[way].append(run(way))
    return results


def medians(rounds: list[dict]) -> dict:
    """Each figure's median over the rounds."""
    return {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
