"""Drills: an incident with ``is_drill`` runs every step (runbook, checklists, store pages,
staff briefings) but reaches no customer or public channel (notifications and the status page
leave drills out) and no real figure (progress of real incidents, reports' signals,
postmortems' numbers). What it leaves is this report: per store, how long it took to
acknowledge the plan and to finish its checklist, and a readiness score per store and region
over the last drills.

Readiness, 0-100 per drill: up to 50 points for acknowledging, full within
``RESPOND_SILENT_AFTER_MINUTES`` and falling to none at four times that; up to 50 for finishing
the checklist, full within ``DRILL_FINISH_TARGET_MINUTES`` and none at four times that. A store
that never acknowledged or finished scores nothing for it. A store's readiness is the mean over
the last ``DRILL_READINESS_WINDOW`` drills it took part in, counting finished (resolved) drills
only: a drill still running would score every store that has not yet acknowledged as zero. A
region's readiness is the mean of its stores'.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Max, Min, Q, Window
from django.db.models.functions import RowNumber

from tideover.incidents.models import Incident, IncidentKind, IncidentState
from tideover.runbooks.models import Checklist


def _part(delay: timedelta | None, target_minutes: float) -> float:
    if delay is None:
        return 0.0
    target = timedelta(minutes=target_minutes)
    if delay <= target:
        return 50.0
    worst = target * 4
    if delay >= worst:
        return 0.0
    return 50.0 * (worst - delay) / (worst - target)


def drill_score(ack: timedelta | None, finish: timedelta | None) -> float:
    """0-100 for one store in one drill (see the module's note)."""
    return round(
        _part(ack, settings.RESPOND_SILENT_AFTER_MINUTES)
        + _part(finish, settings.DRILL_FINISH_TARGET_MINUTES),
        1,
    )


@dataclass
class StoreResult:
    code: str
    name: str
    region: str
    to_acknowledge: timedelta | None
    to_finish: timedelta | None
    score: float


def _per_store_and_drill(checklists):
    """One row per store and drill among ``checklists``: when the plan first reached the store,
    when it acknowledged, and when it finished the checklist in force at the end (after any plan
    change). One query, however many stores and drills."""
    return (
        checklists.filter(store__isnull=False)
        .order_by()  # the model's ordering would join the GROUP BY
        .values(
            "incident_id",
            "incident__declared_at",
            "store_id",
            "store__code",
            "store__name",
            "store__region__name",
        )
        .annotate(
            issued=Min("issued_at"),
            acknowledged=Min("acknowledged_at"),
            finished=Max("done_at", filter=Q(superseded_at__isnull=True)),
        )
    )


def _result(row) -> StoreResult:
    to_ack = row["acknowledged"] - row["issued"] if row["acknowledged"] else None
    to_finish = row["finished"] - row["issued"] if row["finished"] else None
    return StoreResult(
        code=row["store__code"],
        name=row["store__name"],
        region=row["store__region__name"],
        to_acknowledge=to_ack,
        to_finish=to_finish,
        score=drill_score(to_ack, to_finish),
    )


def store_results(incident: Incident) -> list[StoreResult]:
    """Each store of a drill: time from the plan reaching it to acknowledging and finishing
    (the finish counts on the checklist in force at the end, after any plan change)."""
    rows = _per_store_and_drill(Checklist.objects.filter(incident=incident))
    return [_result(row) for row in rows.order_by("store__code")]


def recent_drills(limit: int | None = None):
    """The latest drills, running or finished, for the drills page to link to their reports."""
    limit = limit or settings.DRILL_READINESS_WINDOW
    return list(
        Incident.objects.incidents().filter(is_drill=True).order_by("-declared_at", "-pk")[:limit]
    )


def _recent_results_per_store(window: int) -> list[StoreResult]:
    """Each store's results in the last ``window`` finished drills it took part in. The window
    is per store, so a store still counts after later drills covered other regions; and it is
    cut in the database, so the page reads the same two queries for any number of stores."""
    rows = _per_store_and_drill(
        Checklist.objects.filter(
            incident__kind=IncidentKind.INCIDENT,
            incident__is_drill=True,
            incident__state=IncidentState.RESOLVED,
        )
    ).annotate(
        latest=Window(
            RowNumber(),
            partition_by=F("store_id"),
            order_by=[F("incident__declared_at").desc(), F("incident_id").desc()],
        )
    )
    return [_result(row) for row in rows.filter(latest__lte=window)]


def readiness() -> dict:
    """Readiness per store and per region over each store's last finished drills (lowest
    first), and the latest drills to list."""
    window = settings.DRILL_READINESS_WINDOW
    scores: dict[str, list[float]] = defaultdict(list)
    regions: dict[str, str] = {}
    names: dict[str, str] = {}
    for result in _recent_results_per_store(window):
        scores[result.code].append(result.score)
        regions[result.code] = result.region
        names[result.code] = result.name
    stores = sorted(
        (
            {
                "code": code,
                "name": names[code],
                "region": regions[code],
                "drills": len(values),
                "score": round(sum(values) / len(values), 1),
            }
            for code, values in scores.items()
        ),
        key=lambda s: (s["score"], s["code"]),
    )
    by_region: dict[str, list[float]] = defaultdict(list)
    for store in stores:
        by_region[store["region"]].append(store["score"])
    region_rows = sorted(
        (
            {"name": name, "stores": len(values), "score": round(sum(values) / len(values), 1)}
            for name, values in by_region.items()
        ),
        key=lambda r: (r["score"], r["name"]),
    )
    return {"drills": recent_drills(), "window": window, "stores": stores, "regions": region_rows}


def drill_report(incident: Incident) -> dict:
    """The report a drill ends with."""
    results = store_results(incident)
    acked = [r.to_acknowledge for r in results if r.to_acknowledge is not None]
    finished = [r.to_finish for r in results if r.to_finish is not None]
    return {
        "incident": incident,
        "stores": results,
        "issued": len(results),
        "acknowledged": len(acked),
        "finished": len(finished),
        "median_to_acknowledge": _median(acked),
        "median_to_finish": _median(finished),
        "score": round(sum(r.score for r in results) / len(results), 1) if results else None,
    }


def _median(values: list[timedelta]) -> timedelta | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
