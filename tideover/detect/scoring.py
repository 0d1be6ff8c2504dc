"""Running the detectors: every new point of every signal, minute by minute, then the rules.

``run_detection(until)`` is what the worker's periodic job calls each minute (and the demo at
its own clock): derived signals are brought up to ``until``, each signal's detector steps over
its new points in time order (count signals get a zero for a quiet minute), the rules are
checked, and what fired goes to :mod:`tideover.detect.alerts`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db import DatabaseError, connection, transaction

from tideover.core import lockfiles
from tideover.detect.detector import Detector
from tideover.detect.models import (
    Rule,
    RuleComparison,
    Signal,
    SignalKind,
    SignalPoint,
    SignalReport,
)
from tideover.detect.signals import minute_of

MAX_FILL = timedelta(hours=24)  # quiet minutes filled with zeros for a count signal, at most
# A count signal's minute is anomalous only with at least this many events from as many people
# (where reports name one): one angry person, or one report after a quiet week, is no outage.
COUNT_FLOOR = 3
RUN_LOCK_ID = 0x7464657465637401  # PostgreSQL advisory lock key for a detection run ("tdetect")
READ_CHUNK = 5000  # signal ids per query (SQLite allows 32,766 parameters)


@dataclass(frozen=True)
class Anomaly:
    signal: Signal
    point: SignalPoint


@dataclass(frozen=True)
class RuleHit:
    rule: Rule
    points: list[SignalPoint]


def _fill_quiet_minutes(counts: list[tuple[int, datetime]], until: datetime) -> None:
    """A count signal with no event in a minute counted zero then: write those zeros.
    ``counts`` are (signal id, last scored minute) of the active count signals."""
    if not counts:
        return
    earliest = min(scored for _, scored in counts)
    have = defaultdict(set)
    for signal_id, minute in SignalPoint.objects.filter(
        signal_id__in=[pk for pk, _ in counts],
        minute__gt=max(earliest, until - MAX_FILL),
        minute__lte=until,
    ).values_list("signal_id", "minute"):
        have[signal_id].add(minute)
    zeros = []
    for signal_id, scored in counts:
        minute = max(scored, until - MAX_FILL) + timedelta(minutes=1)
        while minute <= until:
            if minute not in have[signal_id]:
                zeros.append(SignalPoint(signal_id=signal_id, minute=minute, value=0.0))
            minute += timedelta(minutes=1)
    SignalPoint.objects.bulk_create(zeros, ignore_conflicts=True, batch_size=500)


class _Times:
    """Database datetimes read raw (bypassing Django's per-row converters, which cost more than
    the scoring at 10,000 rows) and written back adapted, each distinct value converted once:
    in a run most rows share the same few minutes."""

    def __init__(self):
        self._read: dict = {}
        self._written: dict = {}

    def read(self, raw) -> datetime | None:
        if raw is None:
            return None
        found = self._read.get(raw)
        if found is None:
            if isinstance(raw, str):  # SQLite keeps UTC as text without an offset
                found = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            elif raw.tzinfo is None:
                found = raw.replace(tzinfo=UTC)
            else:
                found = raw.astimezone(UTC)
            self._read[raw] = found
        return found

    def write(self, value: datetime | None):
        if value is None:
            return None
        found = self._written.get(value)
        if found is None:
            found = self._written[value] = connection.ops.adapt_datetimefield_value(value)
        return found


def _raw(queryset) -> list[tuple]:
    """The rows of a ``values_list`` queryset as the database driver returns them."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass
class _Scored:
    """One signal's detector while its new points are scored (in memory)."""

    pk: int
    detector: Detector
    scored_until: datetime | None


@transaction.atomic
def score_signals(until: datetime) -> list[Anomaly]:
    """Step every active signal's detector over its unscored points up to ``until``.

    A batch, whatever the number of signals: one query for the signals, one for the points
    waiting (a partial index holds only those), the detectors stepped in memory, then one
    prepared UPDATE per point and per signal sent together (``executemany``); only the signals
    that fired are read again as objects, for the alerts. Nothing is written per signal as it
    is scored, so the run commits whole or not at all.
    """
    until = minute_of(until)
    times = _Times()
    active = {
        pk: (kind, times.read(scored))
        for pk, kind, scored in _raw(
            Signal.objects.filter(is_active=True).values_list("pk", "kind", "scored_until")
        )
    }
    _fill_quiet_minutes(
        [(pk, s) for pk, (k, s) in active.items() if k == SignalKind.COUNT and s is not None],
        until,
    )
    pending = defaultdict(list)
    for pk, signal_id, minute, value in _raw(
        SignalPoint.objects.filter(score__isnull=True, minute__lte=until)
        .order_by("signal_id", "minute")
        .values_list("pk", "signal_id", "minute", "value")
    ):
        if signal_id in active:
            pending[signal_id].append((pk, times.read(minute), value))
    if not pending:
        return []
    scoring = {}
    ids = list(pending)
    for first in range(0, len(ids), READ_CHUNK):
        for signal_id, blob, direction, sensitivity in _raw(
            Signal.objects.filter(pk__in=ids[first : first + READ_CHUNK]).values_list(
                "pk", "detector_state", "direction", "sensitivity"
            )
        ):
            counts = active[signal_id][0] == SignalKind.COUNT
            detector = Detector.loads(
                blob,
                direction=direction,
                sensitivity=sensitivity,
                min_count=COUNT_FLOOR if counts else 0.0,
            )
            scoring[signal_id] = _Scored(signal_id, detector, active[signal_id][1])
    point_rows, fired = [], []
    for signal_id, points in pending.items():
        state = scoring[signal_id]
        for pk, minute, value in points:
            if state.scored_until is not None and minute <= state.scored_until:
                # Arrived after its minute was scored: kept, not learned.
                point_rows.append((0.0, None, None, None, False, pk))
                continue
            verdict = state.detector.step(minute, value)
            if verdict.anomalous and state.detector.min_count:
                verdict = _enough_people(signal_id, minute, verdict, state.detector)
            point_rows.append(
                (verdict.score, verdict.baseline, verdict.low, verdict.high, verdict.anomalous, pk)
            )
            state.scored_until = minute
            if verdict.anomalous:
                fired.append((signal_id, pk, minute, value, verdict))
    _write_back(
        point_rows,
        [(s.detector.dumps(), times.write(s.scored_until), s.pk) for s in scoring.values()],
    )
    return _anomalies(fired)


def _enough_people(signal_id: int, minute: datetime, verdict, detector: Detector):
    """The verdict on a count's minute, unless fewer than ``COUNT_FLOOR`` people made it: the
    detector sees events, and one person counts once per cause, so one person reporting three
    causes at once is three events. Reports without a person's key count one each."""
    keys = list(
        SignalReport.objects.filter(
            signal_id=signal_id, at__gte=minute, at__lt=minute + timedelta(minutes=1)
        ).values_list("key", flat=True)
    )
    people = len({k for k in keys if k}) + sum(1 for k in keys if not k)
    if people >= detector.min_count:
        return verdict
    score = min(verdict.score, detector.threshold * people / detector.min_count)
    return replace(verdict, score=score, onset=min(verdict.onset, score), anomalous=False)


def _anomalies(fired: list[tuple]) -> list[Anomaly]:
    """The points that fired, with their signals read again as objects (for the alerts)."""
    if not fired:
        return []
    signals = Signal.objects.select_related("store").in_bulk({f[0] for f in fired})
    return [
        Anomaly(
            signals[signal_id],
            SignalPoint(
                pk=pk,
                signal_id=signal_id,
                minute=minute,
                value=value,
                score=verdict.score,
                baseline=verdict.baseline,
                low=verdict.low,
                high=verdict.high,
                anomalous=True,
            ),
        )
        for signal_id, pk, minute, value, verdict in fired
    ]


def _write_back(points: list[tuple], signals: list[tuple]) -> None:
    """One prepared UPDATE per row, sent with executemany: Django's bulk_update builds a CASE
    per column over the whole batch, which at 10,000 rows costs more than the scoring itself."""
    point_table = connection.ops.quote_name(SignalPoint._meta.db_table)
    signal_table = connection.ops.quote_name(Signal._meta.db_table)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {point_table} SET score = %s, baseline = %s, low = %s, high = %s, "  # noqa: S608
            "anomalous = %s WHERE id = %s",
            points,
        )
        cursor.executemany(
            f"UPDATE {signal_table} SET detector_state = %s, scored_until = %s WHERE id = %s",  # noqa: S608
            signals,
        )


def check_rules(until: datetime) -> list[RuleHit]:
    """Rules whose signal stayed past the threshold for the rule's minutes up to ``until``."""
    until = minute_of(until)
    hits = []
    for rule in Rule.objects.filter(is_active=True, signal__is_active=True).select_related(
        "signal"
    ):
        since = until - timedelta(minutes=rule.minutes - 1)
        points = list(
            SignalPoint.objects.filter(
                signal=rule.signal, minute__gte=since, minute__lte=until
            ).order_by("minute")
        )
        if len(points) < rule.minutes:
            continue
        if rule.comparison == RuleComparison.BELOW:
            fired = all(p.value < rule.threshold for p in points)
        else:
            fired = all(p.value > rule.threshold for p in points)
        if fired:
            hits.append(RuleHit(rule, points))
    return hits


_in_memory_run = threading.Lock()  # an in-memory SQLite database has one process to keep out


@contextlib.contextmanager
def _one_run() -> Iterator[bool]:
    """Hold Detect's run lock while the block runs; yields False when another run holds it.

    Why Detect needs its own lock though the scheduler starts the ``detect`` job once per
    minute (``core/periodic.py``): a run slower than a minute is still running when the next
    minute's run starts (the scheduler only holds back a run still *waiting* in the queue), and
    ``tideover detect run`` and the demo run detection outside the scheduler. Two runs at once
    both read the same waiting points and the same alerts, and page twice.

    The lock cannot expire under a run and only its holder releases it, also when the process
    dies: on PostgreSQL a transaction-level advisory lock in a transaction of the run's own,
    kept open for the run (ending it releases the lock, also through a pooler in transaction
    mode, which keeps the server connection for an open transaction; a session-level lock would
    stay on a pooled connection after ours closed); on SQLite, whose database is on this
    machine, ``flock`` on a file beside it. (It was a cache key that expired after 300 s and
    that any run ending deleted.)
    """
    if connection.vendor == "postgresql":
        # Its own connection: the lock is not the run's connection's to drop with a reconnect,
        # and a second run in this process (one session would take the lock again) stays out.
        holder = connection.copy()
        try:
            holder.set_autocommit(False)
            with holder.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RUN_LOCK_ID])
                held = cursor.fetchone()[0]
            yield held
        finally:
            with contextlib.suppress(DatabaseError):
                holder.rollback()  # ends the transaction, and the lock with it
            holder.close()
        return
    path = lockfiles.beside_database(lockfiles.DETECT_RUN)
    if path is None:
        held = _in_memory_run.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                _in_memory_run.release()
        return
    fd = lockfiles.open_lock(path)
    try:
        # A lock per open file, so a second run in this same process is kept out too.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
        else:
            yield True
    finally:
        os.close(fd)  # closing the file releases the lock


def run_detection(until: datetime) -> dict:
    """Derive, score, check rules and raise alerts up to the minute ``until``; one run at a
    time across workers (see ``_one_run``)."""
    from tideover.detect import alerts, derived

    with _one_run() as held:
        if not held:
            return {"skipped": True}
        until = minute_of(until)
        derived.derive_until(until)
        anomalies = score_signals(until)
        hits = check_rules(until)
        raised = alerts.process(anomalies, hits, at=until)
        return {"anomalies": len(anomalies), "rules": len(hits), "alerts": raised}
