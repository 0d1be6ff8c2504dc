"""/api/v1/signals, /api/v1/social and /api/v1/alerts: push points, events and posts; read and
handle alerts. Machines use a token with ``signals:write``; staff their console session."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import ConfigDict, Field

from tideover.core.api_auth import access, actor_name, actor_user
from tideover.core.errors import DomainError
from tideover.core.models import Component, Store, TokenScope
from tideover.core.roles import Capability, has_capability
from tideover.detect import services, social
from tideover.detect.api_checkouts import router as checkouts_router
from tideover.detect.definitions import SLUG_PATTERN
from tideover.detect.models import Alert, Direction, Sensitivity, Signal, SignalKind

PREFIX = ""
router = Router(tags=["detect"])
router.add_router("", checkouts_router)

WRITE = {"scope": TokenScope.SIGNALS_WRITE, "capability": Capability.MANAGE_SIGNALS}
READ = {"scope": None, "capability": Capability.VIEW_SIGNALS}
HANDLE = {"scope": None, "capability": Capability.HANDLE_ALERTS}
MAX_BATCH = 5000


class SignalIn(Schema):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    unit: str = Field("", max_length=30)
    owner: str = Field("", max_length=100)
    kind: SignalKind = SignalKind.GAUGE
    direction: Direction = Direction.BOTH
    sensitivity: Sensitivity = Sensitivity.NORMAL
    family: str = Field("", pattern=r"^[a-z0-9-]{0,80}$")
    store: str | None = Field(None, description="Store code the signal speaks for")
    components: list[str] = Field(default_factory=list, description="Component slugs")


class SignalOut(Schema):
    slug: str
    name: str
    unit: str
    owner: str
    kind: str
    direction: str
    sensitivity: str
    family: str
    store: str | None
    components: list[str]
    scored_until: datetime | None


def _signal_out(signal: Signal) -> dict:
    return {
        **{
            f: getattr(signal, f)
            for f in SignalOut.model_fields
            if f not in ("store", "components")
        },
        "store": signal.store.code if signal.store_id else None,
        "components": [c.slug for c in signal.components.all()],
    }


class PointIn(Schema):
    model_config = ConfigDict(extra="forbid")

    minute: datetime
    value: float


class BatchPointIn(PointIn):
    model_config = ConfigDict(extra="forbid")

    signal: str


class PointsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    points: list[BatchPointIn] = Field(max_length=MAX_BATCH)


class PointResultOut(Schema):
    signal: str
    minute: datetime | None
    result: str
    reason: str


class BatchOut(Schema):
    recorded: int
    duplicate: int
    conflict: int
    rejected: int
    results: list[PointResultOut]


class EventIn(Schema):
    model_config = ConfigDict(extra="forbid")

    at: datetime
    store: str | None = None
    key: str | None = Field(None, max_length=200, description="Opaque, stable per person")
    cause: str = Field("", max_length=40)


class EventOut(Schema):
    counted: bool


@router.post("/signals", auth=access(**WRITE), response={201: SignalOut}, summary="Create a signal")
def create_signal(request, payload: SignalIn):
    if Signal.objects.filter(slug=payload.slug).exists():
        raise HttpError(409, f"A signal {payload.slug!r} exists already")
    store = None
    if payload.store:
        store = Store.objects.filter(code=payload.store).first()
        if store is None:
            raise DomainError(f"No store {payload.store!r}", field="store")
    components = list(Component.objects.filter(slug__in=payload.components))
    missing = set(payload.components) - {c.slug for c in components}
    if missing:
        raise DomainError(f"No component {sorted(missing)[0]!r}", field="components")
    with transaction.atomic():
        signal = services.ensure_signal(
            payload.slug,
            components=components,
            name=payload.name,
            unit=payload.unit,
            owner=payload.owner,
            kind=payload.kind,
            direction=payload.direction,
            sensitivity=payload.sensitivity,
            family=payload.family,
            store=store,
        )
    return Status(201, _signal_out(signal))


@router.get("/signals", auth=access(**READ), response=list[SignalOut], summary="Signals")
def list_signals(request, limit: int = 500):
    query = Signal.objects.select_related("store").prefetch_related("components")
    return [_signal_out(s) for s in query[: max(1, min(limit, 5000))]]


def _counts(results) -> dict:
    counts = dict.fromkeys(("recorded", "duplicate", "conflict", "rejected"), 0)
    for result in results:
        counts[result.result] += 1
    return {**counts, "results": [r.as_dict() for r in results]}


@router.post(
    "/signals/points:batch",
    auth=access(**WRITE),
    response=BatchOut,
    summary="Record points of several signals",
    description="Idempotent by signal and minute: the same value again is a duplicate; another "
    "value for a recorded minute is a conflict (the first stays). Each point gets its own result.",
)
def post_points(request, payload: PointsIn):
    return _counts(services.record_points([(p.signal, p.minute, p.value) for p in payload.points]))


@router.post(
    "/signals/{slug}/points",
    auth=access(**WRITE),
    response=PointResultOut,
    summary="Record one point",
)
def post_point(request, slug: str, payload: PointIn):
    services.get_signal(slug)
    result = services.record_points([(slug, payload.minute, payload.value)])[0]
    if result.result == "rejected":
        raise DomainError(result.reason)
    return result.as_dict()


@router.post(
    "/signals/{slug}/events",
    auth=access(**WRITE),
    response=EventOut,
    summary="Count one event (a report, a complaint)",
    description="With `key`, one person's reports of one cause count once per hour.",
)
def post_event(request, slug: str, payload: EventIn):
    store = None
    if payload.store:
        store = Store.objects.filter(code=payload.store).first()
        if store is None:
            raise DomainError(f"No store {payload.store!r}", field="store")
    counted = services.record_event(
        slug, payload.at, store=store, key=payload.key, cause=payload.cause
    )
    return {"counted": counted}


class PostIn(Schema):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=100, description="The platform's id of the post")
    text: str = Field(min_length=1, max_length=5000)
    handle: str = Field("", max_length=100)
    posted_at: datetime
    place: str = Field("", max_length=100, description="A store code or a city, when known")


class PostsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    posts: list[PostIn] = Field(max_length=MAX_BATCH)


class PostOut(Schema):
    id: str
    result: str  # ingested, duplicate, rejected (with the reason)
    reason: str
    about_brand: bool
    complaint: bool
    sentiment: float
    matched: list[str]


@router.post(
    "/social/posts:batch",
    auth=access(**WRITE),
    response=list[PostOut],
    summary="Ingest social posts",
)
def post_posts(request, payload: PostsIn):
    return [r.as_dict() for r in social.ingest_posts([p.dict() for p in payload.posts])]


@router.post(
    "/social/posts", auth=access(**WRITE), response=PostOut, summary="Ingest one social post"
)
def post_post(request, payload: PostIn):
    return social.ingest_posts([payload.dict()])[0].as_dict()


class AlertOut(Schema):
    id: int
    title: str
    state: str
    scope: str
    cause: str
    score: float
    started_at: datetime
    opened_at: datetime
    last_seen_at: datetime
    paged: bool
    signals: list[str]
    stores: list[str]
    incident_id: int | None
    evidence: dict


def _alert_out(alert: Alert) -> dict:
    return {
        **{
            f: getattr(alert, f)
            for f in AlertOut.model_fields
            if f not in ("signals", "stores", "evidence")
        },
        "signals": [s.slug for s in alert.signals.all()],
        "stores": [s.code for s in alert.stores.all()],
        "evidence": {k: v for k, v in (alert.evidence or {}).items() if k != "series"},
    }


@router.get("/alerts", auth=access(**READ), response=list[AlertOut], summary="Alerts, newest first")
def list_alerts(request, state: str = "", limit: int = 100):
    query = Alert.objects.prefetch_related("signals", "stores")
    if state:
        query = query.filter(state=state)
    return [_alert_out(a) for a in query[: max(1, min(limit, 1000))]]


class DismissIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=300)


class DeclareIn(Schema):
    model_config = ConfigDict(extra="forbid")

    severity: str = Field(description="Severity name, e.g. SEV1")
    title: str = Field("", max_length=200)
    message: str = Field("", max_length=5000)


def _handle(request, alert_id: int) -> Alert:
    return get_object_or_404(Alert, pk=alert_id)


@router.post(
    "/alerts/{alert_id}/acknowledge",
    auth=access(**HANDLE),
    response=AlertOut,
    summary="Acknowledge",
)
def acknowledge(request, alert_id: int):
    alert = services.acknowledge_alert(_handle(request, alert_id), user=actor_user(request))
    return _alert_out(alert)


@router.post(
    "/alerts/{alert_id}/dismiss",
    auth=access(**HANDLE),
    response=AlertOut,
    summary="Dismiss with a reason",
)
def dismiss(request, alert_id: int, payload: DismissIn):
    alert = _handle(request, alert_id)
    alert = services.dismiss_alert(alert, payload.reason, user=actor_user(request))
    return _alert_out(alert)


@router.post(
    "/alerts/{alert_id}/declare",
    auth=access(**HANDLE),
    response={201: AlertOut},
    summary="Declare the alert's draft incident",
)
def declare(request, alert_id: int, payload: DeclareIn):
    from tideover.core.actors import Actor
    from tideover.incidents.models import Severity

    alert = _handle(request, alert_id)
    if not has_capability(request.auth, Capability.DECLARE_INCIDENT):
        raise HttpError(403, f"Your role does not allow: {Capability.DECLARE_INCIDENT.label}")
    severity = Severity.objects.filter(name=payload.severity).first()
    if severity is None:
        raise DomainError(f"No severity {payload.severity!r}", field="severity")
    services.declare_from_alert(
        alert,
        severity=severity,
        title=payload.title or None,
        message=payload.message,
        actor=Actor.of(actor_user(request), actor_name(request)),
    )
    alert.refresh_from_db()
    return Status(201, _alert_out(alert))
