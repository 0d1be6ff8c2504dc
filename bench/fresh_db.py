"""The database a benchmark's child process runs on, made afresh for each run: a file in the
run's temporary folder for SQLite, or a new database on the local PostgreSQL server."""

from __future__ import annotations

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
