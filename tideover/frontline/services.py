"""The front line's voice: reports from stores, their triage, and what stores hear back.

A problem report publishes ``frontline.problem_reported`` (payload ``report``) inside its
transaction, so Detect counts it as a signal (reports per minute by store and region) only if it
was saved. Reports sent while the store's only open incidents are drills are marked drill and
publish nothing: a drill stays out of the real figures.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from tideover.core import events
from tideover.core.actors import SYSTEM, Actor
from tideover.core.errors import Conflict, DomainError
from tideover.core.models import Store
from tideover.core.text import clean_text
from tideover.frontline.models import Category, Report, ReportKind, ReportState
from tideover.incidents.models import Incident
from tideover.incidents.services import record_timeline_event
from tideover.incidents.services.repeats import REPEAT_SECONDS

MAX_TEXT = 2000
MAX_ANSWER = 2000
# The first bytes of the photo formats phones send; anything else is refused.
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")


def reporter_key(user) -> str:
    """A stable, opaque key per person (no name, no id in clear) for counting reporters."""
    message = f"frontline-reporter:{user.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:32]


def _is_image(photo) -> bool:
    head = photo.read(16)
    photo.seek(0)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(magic) for magic in _IMAGE_MAGIC) or head[4:12] in (
        b"ftypheic",
        b"ftypheix",
        b"ftypmif1",
    )


def _check_photo(photo) -> None:
    if photo is None:
        return
    if photo.size > settings.FRONTLINE_PHOTO_MAX_BYTES:
        limit = settings.FRONTLINE_PHOTO_MAX_BYTES // 1_000_000
        raise DomainError(f"The photo is too large; send one under {limit} MB", field="photo")
    if not _is_image(photo):
        raise DomainError("Send a photo (JPEG, PNG, WebP, HEIC or GIF)", field="photo")


def _store_drilling_only(store: Store | None) -> bool:
    if store is None:
        return False
    flags = set(
        Incident.objects.incidents().open().affecting(store).values_list("is_drill", flat=True)
    )
    return flags == {True}


@transaction.atomic
def submit_report(
    *,
    kind: str,
    category: str,
    text: str,
    store: Store | None,
    reporter,
    photo=None,
    at: datetime | None = None,
) -> Report:
    """Save a report from a store; a problem report also counts as a detection signal."""
    at = at or timezone.now()
    if kind not in ReportKind.values:
        raise DomainError(
            f"Choose what you are sending: {', '.join(ReportKind.values)}", field="kind"
        )
    if category not in Category.values:
        raise DomainError("Choose what it is about", field="category")
    text = clean_text(text).strip()
    if not text:
        raise DomainError("Say in a few words what is happening", field="text")
    if len(text) > MAX_TEXT:
        raise DomainError(f"Keep it under {MAX_TEXT} characters", field="text")
    _check_photo(photo)
    key = reporter_key(reporter)
    # One person's reports are counted and written one at a time (their user row locked until
    # this commits): otherwise reports sent at once all passed the count on PostgreSQL.
    get_user_model().objects.select_for_update().filter(pk=reporter.pk).first()
    repeat = _just_reported(key, kind, category, text, store, at)
    if repeat is not None:
        return repeat  # a form sent twice (a double tap, a weak signal): the first report
    recent = Report.objects.filter(reporter_key=key, created_at__gte=at - timedelta(hours=1))
    if recent.count() >= settings.FRONTLINE_REPORTS_PER_HOUR:
        raise Conflict(
            "You have sent a lot of reports this hour; HQ has them. Call your manager if it is urgent."
        )
    report = Report(
        kind=kind,
        category=category,
        text=text,
        store=store,
        reporter=reporter,
        reporter_key=key,
        created_at=at,
        is_drill=_store_drilling_only(store),
    )
    if photo is not None:
        report.photo.save(photo.name or "photo", photo, save=False)
    report.save()
    if kind == ReportKind.PROBLEM and not report.is_drill:
        events.publish("frontline.problem_reported", report=report)
    return report


def _just_reported(key, kind, category, text, store, at) -> Report | None:
    """The same report from the same person within ``REPEAT_SECONDS``: it is the first one
    again, not a second problem that Detect would count twice."""
    return (
        Report.objects.filter(
            reporter_key=key,
            kind=kind,
            category=category,
            text=text,
            store=store,
            # No upper bound: a twin request stamped a moment earlier may take the lock second.
            created_at__gte=at - timedelta(seconds=REPEAT_SECONDS),
        )
        .order_by("-created_at", "-pk")
        .first()
    )


def _locked(report: Report) -> Report:
    return Report.objects.select_for_update().get(pk=report.pk)


def _state(report: Report) -> str:
    if report.acted_on_at:
        return ReportState.ACTED_ON
    if report.answer:
        return ReportState.ANSWERED
    if report.incident_id:
        return ReportState.LINKED
    return ReportState.NEW


@transaction.atomic
def link_to_incident(report: Report, incident: Incident | None, *, actor: Actor = SYSTEM) -> Report:
    """Attach the report to an incident (None: detach); the incident's timeline notes it."""
    report = _locked(report)
    if incident is not None and report.is_drill != incident.is_drill:
        raise DomainError(
            "A drill report goes with a drill, a real one with a real incident", field="incident"
        )
    report.incident = incident
    report.state = _state(report)
    report.save(update_fields=["incident", "state"])
    if incident is not None:
        where = report.store.code if report.store_id else "a store"
        record_timeline_event(
            incident,
            "signal",
            f"Report from {where} linked ({report.get_category_display()}): {report.text[:200]}",
            actor=actor,
            data={"report": report.pk},
        )
    return report


@transaction.atomic
def answer(report: Report, text: str, *, actor: Actor = SYSTEM, at=None) -> Report:
    """Answer the store; the associate sees it on the store page ('you said, we did')."""
    text = clean_text(text).strip()
    if not text:
        raise DomainError("Write the answer the store will see", field="answer")
    if len(text) > MAX_ANSWER:
        raise DomainError(f"Keep the answer under {MAX_ANSWER} characters", field="answer")
    report = _locked(report)
    report.answer = text
    report.answered_by = actor.name
    report.answered_at = at or timezone.now()
    report.state = _state(report)
    report.save(update_fields=["answer", "answered_by", "answered_at", "state"])
    return report


@transaction.atomic
def mark_acted_on(report: Report, *, actor: Actor = SYSTEM, at=None) -> Report:
    report = _locked(report)
    if report.acted_on_at is None:
        report.acted_on_at = at or timezone.now()
        report.acted_on_by = actor.name
        report.state = _state(report)
        report.save(update_fields=["acted_on_at", "acted_on_by", "state"])
    return report


def search(
    *, q: str = "", state: str = "", kind: str = "", store: str = "", incident_id=None
) -> QuerySet[Report]:
    """Reports matching the filters, newest first (text, store code or name, answer)."""
    reports = Report.objects.select_related("store", "store__region", "incident")
    if q:
        reports = reports.filter(
            Q(text__icontains=q) | Q(answer__icontains=q) | Q(store__name__icontains=q)
        )
    if state:
        reports = reports.filter(state=state)
    if kind:
        reports = reports.filter(kind=kind)
    if store:
        reports = reports.filter(store__code__iexact=store.strip())
    if incident_id:
        reports = reports.filter(incident_id=incident_id)
    return reports.order_by("-created_at", "-pk")


EXPORT_COLUMNS = [
    "id",
    "created_at",
    "kind",
    "category",
    "store",
    "region",
    "text",
    "state",
    "incident",
    "answer",
    "answered_by",
    "answered_at",
    "acted_on_at",
    "drill",
    "has_photo",
]


def export_csv(reports) -> str:
    """The reports as CSV (no names: reporters stay anonymous in exports)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in reports.iterator(chunk_size=1000):
        writer.writerow(
            [
                r.pk,
                r.created_at.isoformat(),
                r.kind,
                r.category,
                r.store.code if r.store_id else "",
                r.store.region.name if r.store_id else "",
                _safe_cell(r.text),
                r.state,
                r.incident_id or "",
                _safe_cell(r.answer),
                r.answered_by,
                r.answered_at.isoformat() if r.answered_at else "",
                r.acted_on_at.isoformat() if r.acted_on_at else "",
                r.is_drill,
                bool(r.photo),
            ]
        )
    return out.getvalue()


def _safe_cell(text: str) -> str:
    # A cell starting with = + - @ runs as a formula when opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def answered_for_store(store: Store, *, limit: int = 10) -> list[Report]:
    """The store's recent reports and what HQ said or did about them, newest first."""
    since = timezone.now() - timedelta(days=14)
    return list(
        Report.objects.filter(store=store, created_at__gte=since).order_by("-created_at", "-pk")[
            :limit
        ]
    )


def reports_figures(incident: Incident) -> dict:
    """For postmortems: the reports linked to an incident, by kind and category."""
    rows = list(Report.objects.filter(incident=incident).values_list("kind", "category"))
    by_category: dict[str, int] = {}
    for _, category in rows:
        by_category[category] = by_category.get(category, 0) + 1
    return {
        "problems": sum(1 for kind, _ in rows if kind == ReportKind.PROBLEM),
        "insights": sum(1 for kind, _ in rows if kind == ReportKind.INSIGHT),
        "by_category": by_category,
    }
