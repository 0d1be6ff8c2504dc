"""How delivery's writes reach the database (delivery.py decides what they say): marks that
commit without waiting for PostgreSQL's WAL flush, SQLite writers taking turns on a file lock,
and the statements repeated for every message run prepared."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import re
import threading

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections

from tideover.core import lockfiles


@contextlib.contextmanager
def marks_without_flush_wait():
    """On PostgreSQL, commit this worker's marks without waiting for the WAL flush.

    Each message costs one commit (its 'sending' with the previous message's 'sent'); with
    ``synchronous_commit`` on, each waits for a disk flush, which halves the delivery rate. A
    commit made with it off is visible at once and kept in PostgreSQL's memory, so a worker that
    is killed loses none of its marks (the crash promise holds); only a crash of the PostgreSQL
    server itself can lose the last ~0.6 s of them (3 x wal_writer_delay), which
    NOTIFY_MARKS_WAIT_FOR_FLUSH trades back for speed. SQLite already commits this way (WAL with
    synchronous=NORMAL, settings.py).
    """
    if connection.vendor != "postgresql" or settings.NOTIFY_MARKS_WAIT_FOR_FLUSH:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        # A broken connection is thrown away by Django, setting and all.
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


class _WriteTurns(threading.local):
    """The lock file this process's delivering connection takes turns at (see ``writing``)."""

    path: str | None = None
    fd: int | None = None

    def file(self) -> int | None:
        path = lockfiles.beside_database(lockfiles.OUTBOX_WRITES)
        if path is None:
            return None  # one process's own database: nobody to take turns with
        if self.path != path:
            if self.fd is not None:
                os.close(self.fd)
            self.fd = lockfiles.open_lock(path)
            self.path = path
        return self.fd


_turns = _WriteTurns()


@contextlib.contextmanager
def writing():
    """On SQLite, wait for this write's turn on a file lock the delivering workers share.

    SQLite lets one writer in at a time, and a connection that finds the write lock taken
    sleeps in its busy handler (1, 2, 5, 10 ms and longer) before it looks again, though the
    lock is held for a tenth of a millisecond. With a mark per message and several workers,
    that sleeping was a good part of delivery's time. Workers queue on ``flock`` instead: the
    kernel wakes the next one the moment the lock is released. Other writers (web requests,
    other tasks) do not take the file lock and still wait on busy_timeout as before.

    Inside an open transaction this does nothing: it could hold SQLite's lock while waiting
    for the file lock that a worker waiting for SQLite's lock holds.
    """
    fd = None
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite" and not db.in_atomic_block:
        fd = _turns.file()
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


PREPARE_THRESHOLD = 5  # psycopg's own default: runs before a statement is prepared on its own


def execute_prepared(sql: str, params: list | dict, many: bool = False) -> int:
    """Run a statement that delivery repeats for every message; returns the rows it changed
    (``many``: once for each parameter list in ``params``, rows changed not counted).

    On PostgreSQL it runs as a prepared statement: parsed and planned once per connection
    instead of once per message (Django binds parameters in the client, so the server parses
    every statement it gets; for the per-message mark that was about a quarter of PostgreSQL's
    CPU per e-mail). A pooler in front of PostgreSQL must keep prepared statements per client
    (PgBouncer 1.21 or newer with ``max_prepared_statements``; docs/deploy.md)."""
    # The connection itself, not django.db.connection: each attribute read through that proxy
    # looks the connection up again, and a mark made eight of them.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite":
        # The driver's own cursor, which keeps its prepared statements by text: Django's
        # cursor wrapper rewrote the placeholders and passed through four layers for each mark.
        db.ensure_connection()
        with db.wrap_database_errors:
            cursor = db.connection.cursor()
            try:
                if many:
                    cursor.executemany(_qmark(sql), params)
                    return 0
                cursor.execute(_qmark(sql), params)
                return cursor.rowcount
            finally:
                cursor.close()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            if many:
                cursor.executemany(sql, params)
                return 0
            cursor.execute(sql, params)
            return cursor.rowcount
    import psycopg

    db.ensure_connection()
    raw = db.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's prepared statements off for its own (client-binding) cursors,
        # which never prepare anyway; a server-binding cursor needs them on to prepare at all.
        raw.prepare_threshold = PREPARE_THRESHOLD
    with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        if many:  # psycopg prepares a statement it sends many times on its own
            cursor.executemany(sql, params)
            return 0
        cursor.execute(sql, params, prepare=True)
        return cursor.rowcount


@functools.cache
def _qmark(sql: str) -> str:
    """``sql``'s placeholders as SQLite's driver writes them: %s as ?, %(name)s as :name
    (delivery's statements hold no other %)."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql).replace("%s", "?")
