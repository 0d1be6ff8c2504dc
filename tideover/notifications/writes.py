"""How delivery's writes reach the database (delivery.py decides what they say): marks that
commit without waiting for PostgreSQL's WAL flush, SQLite writers taking turns on a file lock,
and the statements repeated for every message run prepared."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import itertools
import os
import re
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime

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

    def file(self, db) -> int | None:
        path = lockfiles.beside_database(lockfiles.OUTBOX_WRITES, db)
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
def writing(db=None):
    """On SQLite, wait for this write's turn on a file lock the delivering workers share.

    SQLite lets one writer in at a time, and a connection that finds the write lock taken
    sleeps in its busy handler (1, 2, 5, 10 ms and longer) before it looks again, though the
    lock is held for a tenth of a millisecond. With a mark per message and several workers,
    that sleeping was a good part of delivery's time. Workers queue on ``flock`` instead: the
    kernel wakes the next one the moment the lock is released. Other writers (web requests,
    other tasks) do not take the file lock and still wait on busy_timeout as before.

    Inside an open transaction this does nothing: it could hold SQLite's lock while waiting
    for the file lock that a worker waiting for SQLite's lock holds. ``db``: as for
    ``execute_prepared``.
    """
    fd = None
    db = db or connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite" and not db.in_atomic_block:
        fd = _turns.file(db)
    if fd is None:
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def stored_time(db):
    """A function giving an aware datetime as ``db``'s driver takes it for a raw statement:
    Django's ``adapt_datetimefield_value``, or on SQLite kept in UTC (the default) the same
    text without its per-call settings and time-zone checks (3.8 -> 2.4 us a call, timeit)."""
    if db.vendor == "sqlite" and settings.USE_TZ and db.timezone_name == "UTC":
        return _sqlite_utc
    return db.ops.adapt_datetimefield_value


def _sqlite_utc(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return str(value.replace(tzinfo=None))


def execute_prepared(sql: str, params: list | dict, many: bool = False, db=None) -> int:
    """Run a statement that delivery repeats for every message (``many``: once for each
    parameter list in ``params``); returns the rows it changed.

    On PostgreSQL it runs as a statement prepared once per connection, through libpq itself
    (``_libpq_prepared``): parsed and planned once instead of once per message (Django binds
    parameters in the client, so the server parses every statement it gets; for the per-message
    mark that was about a quarter of PostgreSQL's CPU per e-mail). A pooler in front of
    PostgreSQL must keep prepared statements per client (PgBouncer 1.21 or newer with
    ``max_prepared_statements``; docs/deploy.md).

    ``db``: the connection, if the caller holds it (looking it up is a context-variable read)."""
    db = db or connections[DEFAULT_DB_ALIAS]
    if db.vendor == "sqlite":
        # The driver's own cursor, which keeps its prepared statements by text: Django's
        # cursor wrapper rewrote the placeholders and passed through four layers for each mark.
        db.ensure_connection()
        with db.wrap_database_errors:
            cursor = db.connection.cursor()
            try:
                if many:
                    cursor.executemany(_qmark(sql), params)
                else:
                    cursor.execute(_qmark(sql), params)
                return cursor.rowcount
            finally:
                cursor.close()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
            return cursor.rowcount
    import psycopg

    db.ensure_connection()
    raw = db.connection
    if many:
        # In one pipeline (a round trip per batch, not per row), not prepared by psycopg: a
        # connection where psycopg holds prepared statements of its own gets DEALLOCATE ALL
        # from it on every rollback, which would drop the mark's too.
        with db.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            cursor.executemany(sql, params, returning=False)
            return cursor.rowcount
    with db.wrap_database_errors:
        rows = _libpq_prepared(db, raw, sql, params)
        if rows is None:  # psycopg begins the transaction Django opened (not prepared: above)
            with psycopg.Cursor(raw) as cursor:
                cursor.execute(sql, params, prepare=False)
                rows = cursor.rowcount
    return rows


# Statements this module prepared on each psycopg connection: {sql: name}. Gone with the
# connection (a reconnect prepares again).
_prepared_on: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_names = itertools.count(1)  # never one name for two statements, whatever was dropped
_TIMESTAMPTZ, _INT8, _UNKNOWN = 1184, 20, 0  # type OIDs given when preparing


def start_prepared(sql: str, params: list | dict, db=None) -> Callable[[], int]:
    """``execute_prepared`` for one statement, in two steps: this sends it, and calling what it
    returns waits for the answer and gives the rows it changed.

    On PostgreSQL outside a transaction the statement is on its way when this returns, so the
    caller can do work that needs no database while the server runs it (delivery builds an
    e-mail while its 'sending' mark commits). Until the answer is taken, nothing else may use
    the connection. Elsewhere (SQLite, inside a transaction) it runs at once."""
    db = db or connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        from psycopg import pq

        db.ensure_connection()
        raw = db.connection
        if raw.autocommit and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE:
            with db.wrap_database_errors:
                statement = _Statement(db, raw, sql, params)
                statement.send()
            return functools.partial(_answer, db, statement)
    rows = execute_prepared(sql, params, db=db)
    return lambda: rows


def _answer(db, statement: _Statement) -> int:
    with db.wrap_database_errors:
        return statement.rows()


class _Statement:
    """One run of ``sql`` as a statement prepared on ``raw`` through libpq, its values sent as
    text.

    A psycopg cursor's own work per statement (converting the query, a dumper for each value,
    its state machine) was about a third of the mark's CPU in the worker: the mark fell from
    15.5% to 10.5% of an e-mail's send without it (docs/benchmarks.md, eleventh session)."""

    def __init__(self, db, raw, sql: str, params: list | dict):
        db.validate_no_broken_transaction()
        self.raw, self.sql = raw, sql
        self.text, names = _numbered(sql)
        self.values = [params[name] for name in names]
        self.wire = [_as_text(v) for v in self.values]
        self.prepared = _prepared_on.setdefault(raw, {})

    def _name(self) -> bytes:
        return _prepare(self.raw, self.prepared, self.sql, self.text, self.values)

    def send(self) -> None:
        self.raw.pgconn.send_query_prepared(self._name(), self.wire)

    def rows(self) -> int:
        """The answer to ``send`` (the rows changed); raises the statement's error."""
        pgconn = self.raw.pgconn
        answer = None
        while (result := pgconn.get_result()) is not None:
            answer = answer or result  # one statement, one result; then the end of it
        if answer is None:  # the connection broke before an answer came
            import psycopg

            message = pgconn.error_message.decode(errors="replace").strip()
            raise psycopg.OperationalError(message or "the connection to the database was lost")
        return self._checked(answer)

    def run(self) -> int:
        return self._checked(self.raw.pgconn.exec_prepared(self._name(), self.wire))

    def _checked(self, result) -> int:
        from psycopg import pq

        pgconn = self.raw.pgconn
        if (
            result.status == pq.ExecStatus.FATAL_ERROR
            and result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000"
            and pgconn.transaction_status == pq.TransactionStatus.IDLE
        ):
            # A pooler's DISCARD ALL (or anyone's DEALLOCATE ALL) dropped them: prepare again.
            self.prepared.clear()
            result = pgconn.exec_prepared(self._name(), self.wire)
        return _result(self.raw, result)


def _libpq_prepared(db, raw, sql: str, params: list | dict) -> int | None:
    """Run ``sql`` prepared on ``raw`` through libpq (``_Statement``) and return the rows it
    changed; None where psycopg must run it: in a transaction Django opened that psycopg has not
    begun yet (psycopg sends the BEGIN before its next statement)."""
    from psycopg import pq

    if not raw.autocommit and raw.pgconn.transaction_status == pq.TransactionStatus.IDLE:
        return None
    return _Statement(db, raw, sql, params).run()


def _prepare(raw, prepared: dict, sql: str, text: bytes, values: list) -> bytes:
    """The name ``sql`` is prepared under on ``raw``, preparing it the first time."""
    name = prepared.get(sql)
    if name is None:
        name = f"tideover_writes_{next(_names)}".encode()
        _result(raw, raw.pgconn.prepare(name, text, [_type_oid(v) for v in values]))
        prepared[sql] = name
    return name


def _result(raw, result) -> int:
    from psycopg import errors, pq

    if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        return int(result.command_tuples or 0)
    raise errors.error_from_result(result, encoding=raw.info.encoding)


def _as_text(value) -> bytes | None:
    """A value as PostgreSQL reads it in text format (None: NULL)."""
    if value is None:
        return None
    return (value.isoformat() if isinstance(value, datetime) else str(value)).encode()


def _type_oid(value) -> int:
    if isinstance(value, datetime):
        return _TIMESTAMPTZ
    if isinstance(value, int) and not isinstance(value, bool):
        return _INT8
    return _UNKNOWN  # the server takes the column's type


@functools.cache
def _numbered(sql: str) -> tuple[bytes, tuple]:
    """``sql`` with libpq's placeholders ($1, $2...) and, in that order, the parameters' names
    (a name used twice is one placeholder) or positions."""
    names: list = []

    def number(match) -> str:
        name = match.group(1)
        if name is None:  # %s
            name = len(names)
        elif name in names:
            return f"${names.index(name) + 1}"
        names.append(name)
        return f"${len(names)}"

    text = re.sub(r"%\((\w+)\)s|%s", number, sql)
    return text.encode(), tuple(names)


@functools.cache
def _qmark(sql: str) -> str:
    """``sql``'s placeholders as SQLite's driver writes them: %s as ?, %(name)s as :name
    (delivery's statements hold no other %)."""
    return re.sub(r"%\((\w+)\)s", r":\1", sql).replace("%s", "?")
