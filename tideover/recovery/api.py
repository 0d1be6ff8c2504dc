"""/api/v1/recovery/...: affected shoppers and failed web checkouts from other systems, and an
incident's goodwill results and campaign progress (no personal data in either answer)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from tideover.core.access import may_see_store
from tideover.core.actors import Actor
from tideover.core.api_auth import access, actor_name, actor_user
from tideover.core.errors import DomainError, PermissionDenied
from tideover.core.models import ApiToken, Store, TokenScope
from tideover.core.roles import Capability
from tideover.core.schemas import InputSchema, Moment
from tideover.incidents.models import Incident
from tideover.recovery import campaign as campaigns
from tideover.recovery import capture, collect
from tideover.recovery import results as outcome
from tideover.recovery.models import Campaign, Source

PREFIX = "/recovery"
router = Router(tags=["recovery"])


def _actor(request) -> Actor:
    return Actor(user=actor_user(request), name=actor_name(request))


class AffectedIn(InputSchema):
    name: str = Field("", max_length=200)
    phone: str = Field("", max_length=40, description="Any format; stored as E.164")
    email: str = Field("", max_length=254)
    loyalty_id: str = Field("", max_length=32)
    store: str | None = Field(None, max_length=20, description="Store code where they were")
    consent: bool = Field(..., description="The shopper agreed to the offer and marketing")
    consent_text: str = Field(..., min_length=1, max_length=2000, description="Exact words shown")


class AffectedOut(Schema):
    id: int
    incident: int
    member: str | None
    sources: list[str]


class WebFailureIn(InputSchema):
    email: str = Field("", max_length=254)
    phone: str = Field("", max_length=40)
    member_id: str = Field("", max_length=32)
    at: Moment
    amount_cents: int = Field(..., ge=0, le=100_000_000, strict=True)
    error: str = Field(..., min_length=1, max_length=300)
    order_id: str = Field("", max_length=100, description="Repeats of one order count once")


def _out(customer) -> dict:
    return {
        "id": customer.pk,
        "incident": customer.incident_id,
        "member": customer.member.loyalty_id if customer.member_id else None,
        "sources": sorted(set(customer.evidence.values_list("source", flat=True))),
    }


CAPTURE = {"scope": TokenScope.RECOVERY_WRITE, "capability": Capability.CAPTURE_AFFECTED}
WEB = {"scope": TokenScope.RECOVERY_WRITE, "capability": Capability.MANAGE_GOODWILL}
RESULTS = {"scope": TokenScope.INCIDENTS_READ, "capability": Capability.VIEW_GOODWILL_RESULTS}


@router.post(
    "/incidents/{incident_id}/affected", response={201: AffectedOut}, auth=access(**CAPTURE)
)
def add_affected(request, incident_id: int, payload: AffectedIn):
    """Sign up an affected shopper (a kiosk, the web shop's apology page, a call centre)."""
    caller = request.auth
    incident = get_object_or_404(Incident, pk=incident_id)
    store = None
    if payload.store:
        store = Store.objects.filter(code=payload.store).first()
        if store is None:
            raise DomainError(f"Unknown store {payload.store!r}", field="store")
    if isinstance(caller, ApiToken):
        if caller.store_id and (store is None or store.pk != caller.store_id):
            raise PermissionDenied("This token signs up shoppers for its own store only")
    elif store is None or not may_see_store(caller, store):
        raise PermissionDenied("Sign up shoppers for your own store (send its code as store)")
    person = capture.person_from_form(
        name=payload.name, phone=payload.phone, email=payload.email, loyalty_id=payload.loyalty_id
    )
    customer = capture.sign_up(
        incident, store, person, consent=payload.consent, shown_consent_text=payload.consent_text,
        source=Source.API, actor=_actor(request),
    )  # fmt: skip
    return Status(201, _out(customer))


@router.post(
    "/incidents/{incident_id}/web-checkout-failures",
    response={201: AffectedOut},
    auth=access(**WEB),
)
def add_web_failure(request, incident_id: int, payload: WebFailureIn):
    """A web checkout that errored during the incident (the shopper joins the affected)."""
    incident = get_object_or_404(Incident, pk=incident_id)
    customer = collect.report_web_failure(
        incident, email=payload.email, phone=payload.phone, member_id=payload.member_id,
        at=payload.at, amount_cents=payload.amount_cents, error=payload.error,
        order_id=payload.order_id, actor=_actor(request),
    )  # fmt: skip
    return Status(201, _out(customer))


@router.get("/incidents/{incident_id}/results", auth=access(**RESULTS))
def get_results(request, incident_id: int):
    """Goodwill results for the incident and per store, with redemptions per day."""
    incident = get_object_or_404(Incident, pk=incident_id)
    data = outcome.results(incident)
    campaign = Campaign.objects.filter(incident=incident).first()
    return {
        "incident": incident.pk,
        "results": data["rows"],
        "per_day": [{"day": day.isoformat(), "redemptions": n} for day, n in data["per_day"]],
        "came_back": data["came_back"],
        "campaign": campaigns.progress(campaign) if campaign else None,
    }
