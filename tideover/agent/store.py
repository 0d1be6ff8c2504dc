"""The agent's SQLite file: its tables, the upgrade of files written by earlier versions, and
how it is opened (WAL, ``synchronous=FULL``). The protocol is in ``journal.py``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tideover.sales.schemas import member_key

SCHEMA = """
CREATE TABLE IF NOT EXISTS sales (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sale_id TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    member_id TEXT,
    points INTEGER NOT NULL DEFAULT 0,
    card_offline_cents INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    hq_points INTEGER,
    settled_at REAL,
    failures INTEGER NOT NULL DEFAULT 0,
    retry_at REAL,
    dealt_at REAL,
    dealt_note TEXT,
    accepted_offline INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sales_queued ON sales(seq) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS sales_member ON sales(member_id, state)
    WHERE member_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS sales_card_unsent ON sales(seq)
    WHERE state IN ('queued', 'quarantined') AND card_offline_cents > 0;
CREATE TABLE IF NOT EXISTS members (
    member_id TEXT PRIMARY KEY,
    balance INTEGER NOT NULL,
    as_of REAL NOT NULL,
    tier TEXT
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS log (id INTEGER PRIMARY KEY, at REAL NOT NULL, what TEXT NOT NULL);
"""
# Files written by earlier versions: add what they lack (the CREATEs above skip existing tables).
UPGRADES = {
    ("sales", "failures"): "ALTER TABLE sales ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",
    ("sales", "retry_at"): "ALTER TABLE sales ADD COLUMN retry_at REAL",
    ("members", "tier"): "ALTER TABLE members ADD COLUMN tier TEXT",
    ("sales", "dealt_at"): "ALTER TABLE sales ADD COLUMN dealt_at REAL",
    ("sales", "dealt_note"): "ALTER TABLE sales ADD COLUMN dealt_note TEXT",
    ("sales", "accepted_offline"): (
        "ALTER TABLE sales ADD COLUMN accepted_offline INTEGER NOT NULL DEFAULT 0"
    ),
}
LATE_SCHEMA = """
DROP INDEX IF EXISTS sales_card_queued;
DROP INDEX IF EXISTS sales_problems;
CREATE INDEX IF NOT EXISTS sales_attention ON sales(seq)
    WHERE state IN ('conflict', 'rejected', 'quarantined');
CREATE INDEX IF NOT EXISTS sales_quarantined ON sales(retry_at) WHERE state = 'quarantined';
"""


# A tier HQ did not say (an older HQ) keeps the one known before.
MEMBER_UPSERT = (
    "INSERT INTO members (member_id, balance, tier, as_of) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(member_id) DO UPDATE SET balance = excluded.balance,"
    " tier = COALESCE(excluded.tier, members.tier), as_of = excluded.as_of"
)


def connect(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: the WAL is fsync'd at every commit, so "accepted" survives a power cut (NORMAL
    # would only survive a process crash; only HQ's results are written that way).
    conn.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'NORMAL' else 'FULL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def create_or_upgrade(conn: sqlite3.Connection) -> None:
    """In one transaction: a new file costs one synced commit instead of one per statement
    (a dozen fsyncs, which made a replay's 200 agents slow to start)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        _script(conn, SCHEMA)
        for (table, column), statement in UPGRADES.items():
            columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                conn.execute(statement)
        _script(conn, LATE_SCHEMA)
        _member_ids_upper_cased(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _script(conn: sqlite3.Connection, script: str) -> None:
    # executescript would commit the open transaction first; these statements hold no ";".
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _member_ids_upper_cased(conn: sqlite3.Connection) -> None:
    """Once per file: sales queued, and balances kept, by an agent from before loyalty ids
    were upper-cased hold the id as typed (abc123), which the member's look-ups (queued points,
    tier, estimates) no longer find. Only the look-up columns change: ``sales.member_id`` and
    the ``members`` key. The stored JSON, its hash and the sale id (the exactly-once record)
    stay as they were: HQ upper-cases the id on receipt and takes the old hash as the same
    sale (``hash_as_sent``). Where both spellings kept a balance, the newer one stays."""
    if conn.execute("SELECT 1 FROM kv WHERE key = 'member_ids_upper_cased'").fetchone():
        return
    typed = conn.execute("SELECT DISTINCT member_id FROM sales WHERE member_id IS NOT NULL")
    for (member_id,) in typed.fetchall():
        if member_key(member_id) != member_id:
            conn.execute(
                "UPDATE sales SET member_id = ? WHERE member_id = ?",
                (member_key(member_id) or None, member_id),
            )
    kept = conn.execute("SELECT member_id, balance, tier, as_of FROM members").fetchall()
    for member_id, balance, tier, as_of in kept:
        key = member_key(member_id)
        if key == member_id:
            continue
        conn.execute("DELETE FROM members WHERE member_id = ?", (member_id,))
        other = conn.execute("SELECT as_of FROM members WHERE member_id = ?", (key,)).fetchone()
        if key and (other is None or other[0] < as_of):
            conn.execute(MEMBER_UPSERT, (key, balance, tier, as_of))
    conn.execute("INSERT INTO kv (key, value) VALUES ('member_ids_upper_cased', 'true')")
