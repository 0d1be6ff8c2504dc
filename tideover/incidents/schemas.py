"""API shapes for components and incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from tideover.core.models import ComponentStatus
from tideover.core.schemas import InputSchema, Moment
from tideover.incidents.services.common import MAX_TITLE_LENGTH, MAX_UPDATE_LENGTH

StatusName = Literal[
    "operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"
]
StateName = Literal[
    "investigating",
    "identified",
    "monitoring",
    "resolved",
    "scheduled",
    "in_progress",
    "completed",
    "cancelled",
]


class ComponentOut(Schema):
    id: int
    slug: str
    name: str
    description: str
    status: str
    updated_at: datetime


class ComponentStatusIn(InputSchema):
    status: StatusName
    incident_id: int | None = None


class AffectedComponentIn(InputSchema):
    component: str = Field(..., description="Component slug or id")
    status: StatusName = ComponentStatus.MAJOR_OUTAGE


class StoreScopeIn(InputSchema):
    all_stores: bool = False
    regions: list[str] = Field(default_factory=list, description="Region slugs")
    stores: list[str] = Field(default_factory=list, description="Store codes")


class IncidentCreateIn(InputSchema):
    title: str = Field(..., min_length=1, max_length=MAX_TITLE_LENGTH)
    severity: str = Field(..., description="Severity name such as SEV1, or its level 1-4")
    components: list[AffectedComponentIn] = Field(default_factory=list)
    stores: StoreScopeIn = Field(default_factory=StoreScopeIn)
    message: str = Field(
        "", max_length=MAX_UPDATE_LENGTH, description="First public update, sent at once if given"
    )
    commander: str | None = Field(None, description="Username of the incident commander")
    comms_lead: str | None = Field(None, description="Username of the comms lead")
    is_drill: bool = False
    started_at: Moment | None = None
    detected_at: Moment | None = None


class IncidentPatchIn(InputSchema):
    severity: str | None = None
    commander: str | None = None
    comms_lead: str | None = None
    stores: StoreScopeIn | None = None


class PublicUpdateIn(InputSchema):
    body: str = Field(..., min_length=1, max_length=MAX_UPDATE_LENGTH)
    state: StateName | None = None
    components: list[AffectedComponentIn] = Field(default_factory=list)


class NoteIn(InputSchema):
    body: str = Field(..., min_length=1, max_length=MAX_UPDATE_LENGTH)
    talking_points: str = Field("", max_length=MAX_UPDATE_LENGTH)


class StateChangeIn(InputSchema):
    state: StateName
    message: str = Field("", max_length=MAX_UPDATE_LENGTH)


class ReopenIn(InputSchema):
    reason: str = Field(..., min_length=1, max_length=MAX_UPDATE_LENGTH)


class MaintenanceIn(InputSchema):
    title: str = Field(..., min_length=1, max_length=MAX_TITLE_LENGTH)
    scheduled_for: Moment
    scheduled_until: Moment
    components: list[str] = Field(..., min_length=1, description="Component slugs")
    message: str = Field("", max_length=MAX_UPDATE_LENGTH)


class CancelIn(InputSchema):
    reason: str = Field(
        "", max_length=MAX_UPDATE_LENGTH, description="Public; empty for a plain notice"
    )


class PublicUpdateOut(Schema):
    id: int
    state: str
    body: str
    posted_at: datetime
    author_name: str


class TimelineEventOut(Schema):
    id: int
    kind: str
    at: datetime
    author_name: str
    body: str
    data: dict
    is_internal: bool


class AffectedComponentOut(Schema):
    slug: str
    name: str
    status: str


class IncidentOut(Schema):
    id: int
    kind: str
    title: str
    severity: str | None
    impact: str
    state: str
    is_drill: bool
    commander: str | None
    comms_lead: str | None
    stores: str
    components: list[AffectedComponentOut]
    started_at: datetime | None
    detected_at: datetime | None
    declared_at: datetime
    first_public_update_at: datetime | None
    last_public_update_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    next_update_due_at: datetime | None
    update_overdue: bool
    time_to_first_update_seconds: int | None
    time_to_resolve_seconds: int | None
    updates: list[PublicUpdateOut]
