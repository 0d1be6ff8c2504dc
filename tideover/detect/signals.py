"""Recording signals: points pushed or loaded, events counted, signals made on first use.

A point is idempotent by (signal, minute): the same value again is a duplicate, another value
for a minute already recorded is a conflict (the first stays; a series is never rewritten
behind the detector's back). Every item of a batch gets its own answer.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from tideover.core.errors import DomainError, NotFound
from tideover.detect.models import Signal, SignalKind, SignalPoint, SignalReport

FUTURE_TOLERANCE = timedelta(minutes=2)
MAX_AGE = timedelta(days=400)
# One report per person and cause counts once in this window (Downdetector counts the same way).
REPORT_WINDOW_SECONDS = 3600
# No measure a retailer sends comes near this; a value past it (1e39, say) is a mistake, and
# the detector keeps its state in float32, where such a value would become inf.
MAX_VALUE = 1e15
INSERT_ROWS = 1000


def minute_of(at: datetime) -> datetime:
    """The start of the UTC minute ``at`` falls in (naive times are taken as UTC)."""
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC).replace(second=0, microsecond=0)
    except OverflowError:
        raise DomainError(f"{at.isoformat()} is not a time that can be stored")


@dataclass(frozen=True)
class PointResult:
    signal: str
    minute: datetime | None
    result: str  # recorded, duplicate, conflict, rejected
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "signal": self.signal,
            "minute": self.minute,
            "result": self.result,
            "reason": self.reason,
        }


def get_signal(slug: str) -> Signal:
    signal = Signal.objects.filter(slug=slug).first()
    if signal is None:
        raise NotFound(f"No signal {slug!r}: create it first (POST /api/v1/signals)")
    return signal


def ensure_signal(slug: str, *, components=(), **defaults) -> Signal:
    """The signal called ``slug``, made with ``defaults`` the first time it is needed."""
    signal, created = Signal.objects.get_or_create(slug=slug, defaults=defaults)
    if created and components:
        signal.components.set(components)
    return signal


def _check(value, minute: datetime | None, now: datetime) -> str:
    if minute is None:
        return "minute is required"
    if minute > now + FUTURE_TOLERANCE:
        return "minute is in the future"
    if minute < now - MAX_AGE:
        return "minute is more than 400 days old"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "value must be a number"
    if not math.isfinite(number):
        return "value must be a finite number"
    if abs(number) > MAX_VALUE:
        return f"value must be between -{MAX_VALUE:g} and {MAX_VALUE:g}"
    return ""


@transaction.atomic
def record_points(items: list[tuple[str, datetime, float]]) -> list[PointResult]:
    """Record (signal slug, minute, value) items; each gets recorded/duplicate/conflict/rejected.

    A batch costs a few statements however many items it holds: the signals in one query (not
    their detector states, kilobytes each), the points already there in one, and the new points
    in one raw multi-row INSERT per thousand (Django's bulk_create prepares every field of every
    row through the ORM, which at 10,000 points costs seconds); two more only when another
    request recorded some of the same minutes meanwhile (:func:`insert_new`).
    """
    now = timezone.now()
    slugs = {slug for slug, _, _ in items}
    signals = {
        slug: (pk, kind)
        for pk, slug, kind in Signal.objects.filter(slug__in=slugs).values_list(
            "pk", "slug", "kind"
        )
    }
    minutes_of: dict[datetime, datetime] = {}  # a batch's items share a few minutes
    wanted = []
    for slug, at, value in items:
        minute, reason = None, ""
        if at is not None:
            minute = minutes_of.get(at)
            if minute is None:
                try:
                    minute = minutes_of[at] = minute_of(at)
                except DomainError as error:  # this item's fault: the rest still record
                    reason = error.message
        signal = signals.get(slug)
        reason = reason or _check(value, minute, now)
        if signal is None:
            reason = f"no signal {slug!r}: create it first"
        elif signal[1] == SignalKind.COUNT and not reason:
            reason = "this signal counts events: send them to its events endpoint"
        wanted.append((slug, signal, minute, value, reason))
    ids = {s[0] for _, s, _, _, r in wanted if s is not None and not r}
    minutes = {m for _, s, m, _, r in wanted if s is not None and not r}
    existing = {
        (signal_id, minute): value
        for signal_id, minute, value in SignalPoint.objects.filter(
            signal_id__in=ids, minute__in=minutes
        ).values_list("signal_id", "minute", "value")
    }
    results, new, waiting = [], [], []
    adapted: dict[datetime, object] = {}
    for slug, signal, minute, value, reason in wanted:
        if reason:
            results.append(PointResult(slug, minute, "rejected", reason))
            continue
        key = (signal[0], minute)
        value = float(value)
        if key in existing:
            results.append(_against(slug, minute, value, existing[key]))
            continue
        existing[key] = value
        stored = adapted.get(minute)
        if stored is None:
            stored = adapted[minute] = connection.ops.adapt_datetimefield_value(minute)
        new.append((signal[0], stored, value, False))
        waiting.append((len(results), key, value))
        results.append(PointResult(slug, minute, "recorded"))
    inserted = insert_new(
        SignalPoint, ("signal_id", "minute", "value", "anomalous"), new, ("signal_id", "minute")
    )
    if len(inserted) < len(new):
        # Another request recorded some of these minutes after they were read above: those
        # rows were skipped, and are answered against the value that request stored.
        ours = set(SignalPoint.objects.filter(pk__in=inserted).values_list("signal_id", "minute"))
        taken = [(i, key, value) for i, key, value in waiting if key not in ours]
        stored = {
            (signal_id, minute): value
            for signal_id, minute, value in SignalPoint.objects.filter(
                signal_id__in={k[0] for _, k, _ in taken}, minute__in={k[1] for _, k, _ in taken}
            ).values_list("signal_id", "minute", "value")
        }
        for i, key, value in taken:
            results[i] = _against(results[i].signal, key[1], value, stored[key])
    return results


def _against(slug: str, minute: datetime, value: float, stored: float) -> PointResult:
    """The answer for a point whose minute is recorded already (as ``stored``)."""
    if stored == value:
        return PointResult(slug, minute, "duplicate")
    reason = f"this minute was recorded as {stored:g}; the first value stays"
    return PointResult(slug, minute, "conflict", reason)


def insert_new(model, columns: tuple[str, ...], rows: list[tuple], unique: tuple[str, ...]):
    """INSERT ``rows`` of ``columns`` into ``model``'s table, skipping each row whose ``unique``
    columns are taken; returns the ids of the rows inserted.

    Checking what exists first is not enough: two requests with the same rows both find them
    missing, and the second INSERT would fail the whole batch (a 500). ON CONFLICT DO NOTHING
    (SQLite and PostgreSQL alike) lets the database decide, and RETURNING says which rows were
    ours, so the others can be answered as duplicates or conflicts. A thousand rows a
    statement keeps a batch of 10,000 to ten statements, inside both databases' limits on
    parameters (``executemany`` cannot say which rows it skipped).
    """
    quote = connection.ops.quote_name
    names = ", ".join(map(quote, columns))
    head = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES "  # noqa: S608 - ours
    tail = (
        f" ON CONFLICT ({', '.join(map(quote, unique))}) DO NOTHING "
        f"RETURNING {quote(model._meta.pk.column)}"
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_ROWS):
            chunk = rows[start : start + INSERT_ROWS]
            cursor.execute(
                head + ", ".join([one] * len(chunk)) + tail,
                [value for row in chunk for value in row],
            )
            ids.extend(pk for (pk,) in cursor.fetchall())
    return ids


def record_point(signal_slug: str, minute: datetime, value: float) -> PointResult:
    """Record one point (idempotent by signal and minute); raises when it is refused."""
    result = record_points([(signal_slug, minute, value)])[0]
    if result.result == "rejected":
        raise DomainError(result.reason)
    return result


def set_point(signal: Signal, minute: datetime, value: float) -> None:
    """Write a derived point, replacing what Tideover itself derived for that minute before."""
    SignalPoint.objects.update_or_create(
        signal=signal, minute=minute_of(minute), defaults={"value": float(value)}
    )


def set_points(rows: list[tuple[Signal, datetime, float]]) -> None:
    """:func:`set_point` for many points in one statement (an upsert on signal and minute)."""
    if rows:
        SignalPoint.objects.bulk_create(
            [SignalPoint(signal=s, minute=minute_of(m), value=float(v)) for s, m, v in rows],
            update_conflicts=True,
            unique_fields=["signal", "minute"],
            update_fields=["value"],
            batch_size=500,
        )


def _dedupe_key(signal: Signal, at: datetime, store, key: str | None, cause: str) -> str:
    if not key:
        # Without a person there is nothing to deduplicate on: every event counts, so its key
        # is random (id(object()) repeated from one call to the next, dropping events).
        return secrets.token_hex(32)
    bucket = int(at.timestamp()) // REPORT_WINDOW_SECONDS
    store_id = signal.store_id or ""  # the chain series counts a person once, whichever store
    raw = f"{signal.pk}|{store_id}|{key}|{cause}|{bucket}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _count(signal: Signal, at: datetime, store, key: str | None, cause: str) -> bool:
    dedupe = _dedupe_key(signal, at, store, key, cause)
    hashed = hashlib.sha256(key.encode()).hexdigest()[:32] if key else ""
    # The database decides whether the report is new (the same report sent twice at once both
    # find nothing to dedupe against), and the minute's count is added to in one upsert.
    adapt = connection.ops.adapt_datetimefield_value
    row = (signal.pk, adapt(at), store.pk if store else None, hashed, cause[:40], dedupe)
    columns = ("signal_id", "at", "store_id", "key", "cause", "dedupe")
    if not insert_new(SignalReport, columns, [row], ("dedupe",)):
        return False
    table = connection.ops.quote_name(SignalPoint._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (signal_id, minute, value, anomalous) "  # noqa: S608
            "VALUES (%s, %s, 1, %s) ON CONFLICT (signal_id, minute) "
            f"DO UPDATE SET value = {table}.value + 1",
            [signal.pk, adapt(minute_of(at)), False],
        )
    return True


@transaction.atomic
def record_event(
    signal_slug: str, at: datetime, *, store=None, key: str | None = None, cause: str = ""
) -> bool:
    """Count one event (a report, a complaint) into a count signal at ``at``.

    With ``key`` (a stable opaque string per person), the same person and cause count once per
    hour. With ``store``, the store's own series of the family counts it too, so one store's
    surge can be told from a chain-wide one. Returns False for a repeat that did not count.
    """
    signal = get_signal(signal_slug)
    if signal.kind != SignalKind.COUNT:
        raise DomainError(f"{signal.name} takes values, not events")
    if timezone.is_naive(at):
        at = at.replace(tzinfo=UTC)
    at = minute_of(at) + timedelta(seconds=at.second, microseconds=at.microsecond)
    if at > timezone.now() + FUTURE_TOLERANCE:
        raise DomainError("The event is in the future", field="at")
    if at < timezone.now() - MAX_AGE:
        raise DomainError("The event is more than 400 days old", field="at")
    counted = _count(signal, at, store, key, cause)
    if counted and store is not None and signal.store_id is None:
        child = store_signal(signal, store)
        _count(child, at, store, key, cause)
    return counted


def store_signal(parent: Signal, store) -> Signal:
    """The per-store series of a chain-wide signal (same family), made on first use.

    Found by (family, store), never by its slug: the slug is made to be a valid, unique name
    for the API, and a long parent slug or an odd store code (S.005) must not make two stores,
    or a store and the chain, share one series.
    """
    family = parent.family or parent.slug
    found = Signal.objects.filter(family=family, store=store).order_by("pk").first()
    if found is not None:
        return found
    code = re.sub(r"[^a-z0-9]+", "-", store.code.lower()).strip("-") or "store"
    # The plain name first (staff-reports-s001); when another signal holds it (a truncated
    # parent slug, two codes that read alike), the store's pk makes it unique. Both are the
    # same for every request, so two making the store's series at once get one.
    for suffix in (code, f"{code}-{store.pk}"):
        slug = f"{parent.slug[: 79 - len(suffix)]}-{suffix}"  # 80 at most, as the API allows
        signal = ensure_signal(
            slug,
            name=f"{parent.name} — {store.code}",
            unit=parent.unit,
            owner=parent.owner,
            kind=parent.kind,
            source=parent.source,
            direction=parent.direction,
            sensitivity=parent.sensitivity,
            family=family,
            store=store,
            components=list(parent.components.all()),
        )
        if signal.store_id == store.pk and signal.family == family:
            return signal
    raise DomainError(f"No free slug for {parent.slug}'s series at {store.code}")
