"""The web shop's checkouts, reported through the API, and the web checkout error rate.

The web shop (each of its servers, named by ``source``) reports per minute how many checkouts
it ran and how many errored. A report is idempotent by source and minute like a point: the
same counts again are a duplicate, other counts for a reported minute a conflict (the first
stays), a bad item is rejected with the reason. ``derived`` turns the tallies into the signal
``web-checkout-error-rate``: errored over all checkouts of the last five minutes, all servers
together, by minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from tideover.core.errors import DomainError
from tideover.detect.models import CheckoutTally
from tideover.detect.signals import FUTURE_TOLERANCE, MAX_AGE, insert_new, minute_of


@dataclass(frozen=True)
class CheckoutReport:
    minute: datetime | None
    checkouts: int
    errors: int
    source: str = "web"


@dataclass(frozen=True)
class ReportResult:
    source: str
    minute: datetime | None
    result: str  # recorded, duplicate, conflict, rejected
    reason: str = ""

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "minute": self.minute,
            "result": self.result,
            "reason": self.reason,
        }


def _check(report: CheckoutReport, minute: datetime | None, now: datetime) -> str:
    if minute is None:
        return "minute is required"
    if minute > now + FUTURE_TOLERANCE:
        return "minute is in the future"
    if minute < now - MAX_AGE:
        return "minute is more than 400 days old"
    if not report.source.strip():
        return "source must name the reporting server (e.g. web-1)"
    if report.checkouts < 0 or report.errors < 0:
        return "checkouts and errors cannot be negative"
    if report.errors > report.checkouts:
        return "errors cannot be more than checkouts (errors count the checkouts that failed)"
    return ""


@transaction.atomic
def record_checkouts(reports: list[CheckoutReport]) -> list[ReportResult]:
    """Record the web shop's checkout counts; each report gets its own answer."""
    now = timezone.now()
    checked = []
    for report in reports:
        try:
            minute = minute_of(report.minute) if report.minute is not None else None
        except DomainError as exc:
            checked.append((report, None, exc.message))
            continue
        checked.append((report, minute, _check(report, minute, now)))
    keys = {(r.source, m) for r, m, reason in checked if not reason}
    existing = _stored(keys)
    results, new, waiting = [], [], []
    adapted = connection.ops.adapt_datetimefield_value
    for report, minute, reason in checked:
        if reason:
            results.append(ReportResult(report.source, minute, "rejected", reason))
            continue
        key, counts = (report.source, minute), (report.checkouts, report.errors)
        if key in existing:
            results.append(_against(report.source, minute, counts, existing[key]))
            continue
        existing[key] = counts
        new.append((report.source, adapted(minute), *counts, adapted(now)))
        waiting.append((len(results), key, counts))
        results.append(ReportResult(report.source, minute, "recorded"))
    columns = ("source", "minute", "total", "failed", "received_at")
    inserted = insert_new(CheckoutTally, columns, new, ("source", "minute"))
    if len(inserted) < len(new):
        # Another request reported some of these minutes after they were read above: answer
        # those against what it stored (see signals.insert_new).
        ours = set(CheckoutTally.objects.filter(pk__in=inserted).values_list("source", "minute"))
        taken = [(i, key, counts) for i, key, counts in waiting if key not in ours]
        stored = _stored({key for _, key, _ in taken})
        for i, (source, minute), counts in taken:
            results[i] = _against(source, minute, counts, stored[(source, minute)])
    return results


def _stored(keys: set[tuple[str, datetime]]) -> dict[tuple[str, datetime], tuple[int, int]]:
    """The (checkouts, errors) stored for these (source, minute) keys."""
    return {
        (source, minute): (total, failed)
        for source, minute, total, failed in CheckoutTally.objects.filter(
            source__in={s for s, _ in keys}, minute__in={m for _, m in keys}
        ).values_list("source", "minute", "total", "failed")
    }


def _against(source: str, minute: datetime, counts: tuple, stored: tuple) -> ReportResult:
    """The answer for a report of a minute reported already (as ``stored``)."""
    if stored == counts:
        return ReportResult(source, minute, "duplicate")
    total, failed = stored
    reason = f"this minute was reported as {failed} of {total}; the first stays"
    return ReportResult(source, minute, "conflict", reason)


def error_rates(since: datetime, until: datetime, window: int) -> list[tuple[datetime, float]]:
    """Per minute after ``since`` up to ``until``: errored checkouts over all checkouts of the
    ``window`` minutes ending with it, as a percentage (minutes with no checkouts are left
    out: no checkouts is not 0% errors)."""
    span = timedelta(minutes=window)
    per_minute: dict[datetime, list[int]] = {}
    for minute, total, failed in CheckoutTally.objects.filter(
        minute__gt=since - span, minute__lte=until
    ).values_list("minute", "total", "failed"):
        counts = per_minute.setdefault(minute, [0, 0])
        counts[0] += total
        counts[1] += failed
    rates = []
    minute = since + timedelta(minutes=1)
    while minute <= until:
        total = failed = 0
        for k in range(window):
            counts = per_minute.get(minute - timedelta(minutes=k))
            if counts:
                total += counts[0]
                failed += counts[1]
        if total:
            rates.append((minute, 100.0 * failed / total))
        minute += timedelta(minutes=1)
    return rates
